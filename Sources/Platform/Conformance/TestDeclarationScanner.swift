/// A swift-testing declaration found in a source file: an `@Test` function or an `@Suite` type.
struct TestDeclaration: Equatable, Sendable {
    enum Kind: Equatable, Sendable { case test, suite }

    var kind: Kind
    /// The enclosing types, outermost first; for a suite, ending with the suite's own name.
    var typePath: [String]
    /// The function's name (tests only).
    var function: String?
    /// The attribute's display name, if its first argument is a string literal.
    var displayName: String?
    var line: Int
}

/// Finds `@Test` and `@Suite` declarations in Swift source: the display name (first argument,
/// when a string literal, whatever follows it: traits, `arguments:`, over several lines), the
/// function or type declared, and the types around it (struct, class, enum, actor, extension).
enum TestDeclarationScanner {
    private static let typeKeywords: Set<String> = ["struct", "class", "enum", "actor", "extension", "protocol"]
    /// Words after a type keyword that show it is no type declaration (`class func`, `class var`).
    private static let notTypeNames: Set<String> = ["func", "var", "let", "subscript", "init", "deinit", "override",
                                                    "final", "static", "private", "fileprivate", "internal", "public", "open"]

    static func declarations(in source: String) -> [TestDeclaration] {
        let tokens = SwiftSourceLexer.tokens(of: source)
        var found: [TestDeclaration] = []
        /// One entry per open brace: the type components it opens, empty for any other brace.
        var scopes: [[String]] = []
        var pendingType: [String]? = nil
        var index = 0
        while index < tokens.count {
            let token = tokens[index].token
            switch token {
            case .punctuation(UInt8(ascii: "{")):
                scopes.append(pendingType ?? [])
                pendingType = nil
            case .punctuation(UInt8(ascii: "}")):
                if !scopes.isEmpty { scopes.removeLast() }
            case let .identifier(word) where typeKeywords.contains(word):
                if let name = typeName(tokens, after: index) { pendingType = name }
            case .punctuation(UInt8(ascii: "@")):
                if index + 1 < tokens.count, case let .identifier(attribute) = tokens[index + 1].token,
                   attribute == "Test" || attribute == "Suite" {
                    let (displayName, next) = attributeName(tokens, from: index + 2)
                    let enclosing = scopes.flatMap { $0 }
                    if let declared = declaration(tokens, from: next) {
                        switch (attribute, declared) {
                        case ("Test", .function(let name)):
                            found.append(TestDeclaration(kind: .test, typePath: enclosing, function: name,
                                                         displayName: displayName, line: tokens[index].line))
                        case ("Suite", .type(let name)):
                            found.append(TestDeclaration(kind: .suite, typePath: enclosing + name, function: nil,
                                                         displayName: displayName, line: tokens[index].line))
                        default: break
                        }
                    }
                    index = next
                    continue
                }
            default: break
            }
            index += 1
        }
        return found
    }

    /// The dotted name after a type keyword at `index` (`extension A.B` gives ["A", "B"]).
    private static func typeName(_ tokens: [LocatedToken], after index: Int) -> [String]? {
        var parts: [String] = []
        var j = index + 1
        while j < tokens.count, case let .identifier(name) = tokens[j].token, !notTypeNames.contains(name) {
            parts.append(name)
            guard j + 2 < tokens.count, tokens[j + 1].token == .punctuation(UInt8(ascii: ".")) else { break }
            j += 2
        }
        return parts.isEmpty ? nil : parts
    }

    /// The display name of an attribute whose arguments may start at `start`, and the index after them.
    private static func attributeName(_ tokens: [LocatedToken], from start: Int) -> (String?, Int) {
        guard start < tokens.count, tokens[start].token == .punctuation(UInt8(ascii: "(")) else { return (nil, start) }
        var depth = 0
        var j = start
        while j < tokens.count {
            switch tokens[j].token {
            case .punctuation(UInt8(ascii: "(")), .punctuation(UInt8(ascii: "[")): depth += 1
            case .punctuation(UInt8(ascii: ")")), .punctuation(UInt8(ascii: "]")): depth -= 1
            default: break
            }
            j += 1
            if depth == 0 { break }
        }
        var name: String? = nil
        if start + 2 < tokens.count, case let .string(value) = tokens[start + 1].token,
           tokens[start + 2].token == .punctuation(UInt8(ascii: ",")) || tokens[start + 2].token == .punctuation(UInt8(ascii: ")")) {
            name = value
        }
        return (name, j)
    }

    private enum Declared { case function(String), type([String]) }

    /// What the attribute ending at `start` declares: skips further attributes and modifiers up to
    /// `func NAME` or a type keyword and its name; nil if a brace or the end comes first.
    private static func declaration(_ tokens: [LocatedToken], from start: Int) -> Declared? {
        var j = start
        while j < tokens.count {
            switch tokens[j].token {
            case .identifier("func"):
                if j + 1 < tokens.count, case let .identifier(name) = tokens[j + 1].token { return .function(name) }
                return nil
            case let .identifier(word) where typeKeywords.contains(word):
                return typeName(tokens, after: j).map { .type($0) }
            case .punctuation(UInt8(ascii: "{")), .punctuation(UInt8(ascii: "}")):
                return nil
            default:
                j += 1
            }
        }
        return nil
    }
}
