// libyaml itself, which Yams wraps. Yams only composes whole trees (recursively, and
// hashing every mapping key), so the checks below must run on libyaml's event stream
// first; CYaml is the module of Yams' package that holds it.
import CYaml
import ServerCommands

/// Reads a platform file as libyaml's stream of events, before Yams composes it, for
/// what must be caught before there is a tree:
///
/// - nesting deeper than `PlatformLimits.nestingDepth`: Yams composes recursively, so
///   `[[[[…` ten thousand deep would otherwise be bounded only by libyaml's own limit
///   of 1000 levels and reported with libyaml's internal message;
/// - aliases (`*name`) that repeat more than `PlatformLimits.aliasedNodes` nodes: a
///   "billion laughs" file of a few hundred bytes expands to hundreds of millions of
///   nodes, and Yams hashes a mapping key of that size without end;
/// - a mapping key written twice, reported where it is written again (Yams reports the
///   first occurrence, which is not the mistake).
///
/// libyaml's parser keeps its own stacks instead of recursing, so this pass cannot
/// overflow the stack whatever the input. A syntax error ends the pass without a
/// finding; composing the file then reports it.
enum EventScan {
    static func diagnostics(for text: String) -> [Diagnostic] {
        var scan = Scan()
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return [] }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { input in
            yaml_parser_set_input_string(&parser, input.baseAddress, input.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                let done = event.type == YAML_STREAM_END_EVENT || !scan.take(event)
                yaml_event_delete(&event)
                if done { return }
            }
            // libyaml's scanner reads ahead through a run of '[' or '{' and may refuse the
            // nesting (at 1000) before the events reach this pass's limit. Then the place to
            // name is where the run passes the limit, not where libyaml stopped.
            if let problem = parser.problem, String(cString: problem).contains("nesting level") {
                let mark = parser.problem_mark
                let start = Place(line: mark.line + 1, column: mark.column + 1)
                scan.diagnostics = [Scan.tooDeep(at: Self.placeBeyondLimit(in: input, from: Int(mark.index), at: start, depth: scan.open.count) ?? start)]
            }
        }
        return scan.diagnostics
    }

    /// Where the flow collections opened from `offset` on (counting on from `depth`) first
    /// go deeper than the limit, if they do before the text ends.
    private static func placeBeyondLimit(in text: UnsafeBufferPointer<UInt8>, from offset: Int, at start: Place, depth: Int) -> Place? {
        var place = start
        var depth = depth
        for byte in text[min(offset, text.count)...] {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > PlatformLimits.nestingDepth { return place }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            case UInt8(ascii: "\n"):
                place.line += 1
                place.column = 0
            default:
                break
            }
            // Columns count characters: continuation bytes of UTF-8 sequences add none.
            if byte & 0xC0 != 0x80 { place.column += 1 }
        }
        return nil
    }

    /// A 1-based line and column, counted as libyaml and Yams count them.
    private struct Place {
        var line: Int
        var column: Int
    }

    private struct Scan {
        /// An open mapping or sequence.
        struct Collection {
            var isMapping: Bool
            var anchor: String?
            /// `nodes` when it started: what it holds is the difference at its end.
            var nodesBefore: Int
            /// In a mapping: whether the next node is a key.
            var expectingKey = true
            /// In a mapping: its plain keys so far and where each is first written.
            var keys: [String: Place] = [:]
        }

        var open: [Collection] = []
        /// Nodes of the document as composed: literal ones, plus what aliases repeat.
        var nodes = 0
        var aliased = 0
        /// Anchor → the number of nodes of the node it names.
        var anchors: [String: Int] = [:]
        var diagnostics: [Diagnostic] = []

        /// Takes one event; false once the file is refused and the pass should stop.
        mutating func take(_ event: yaml_event_t) -> Bool {
            let mark = Place(line: event.start_mark.line + 1, column: event.start_mark.column + 1)
            switch event.type {
            case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                _ = startNode()
                nodes += 1
                let anchor = Self.string(isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)
                open.append(Collection(isMapping: isMapping, anchor: anchor, nodesBefore: nodes - 1))
                if open.count > PlatformLimits.nestingDepth {
                    diagnostics = [Self.tooDeep(at: mark)]
                    return false
                }
            case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                guard let collection = open.popLast() else { return true }
                if let anchor = collection.anchor { anchors[anchor] = nodes - collection.nodesBefore }
            case YAML_SCALAR_EVENT:
                if startNode(), let key = Self.string(event.data.scalar.value, length: event.data.scalar.length) {
                    noteKey(key, at: mark)
                }
                nodes += 1
                if let anchor = Self.string(event.data.scalar.anchor) { anchors[anchor] = 1 }
            case YAML_ALIAS_EVENT:
                _ = startNode()
                let repeated = Self.string(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1
                nodes += repeated
                aliased += repeated
                if aliased > PlatformLimits.aliasedNodes {
                    diagnostics = [Diagnostic(line: mark.line, column: mark.column,
                                              "aliases repeat more than \(PlatformLimits.aliasedNodes) nodes by here, more than any platform needs",
                                              fix: "write the values out, or alias smaller parts (*name repeats everything its anchor names)")]
                    return false
                }
            default:
                break
            }
            return true
        }

        static func tooDeep(at place: Place) -> Diagnostic {
            Diagnostic(line: place.line, column: place.column,
                       "nesting is too deep here: a platform file may nest at most \(PlatformLimits.nestingDepth) levels of lists and mappings",
                       fix: "a platform file needs only a few levels (vms, a VM, its devices, a device); check for unclosed '[' or '{'")
        }

        /// Counts a node into the open mapping's key/value alternation; true if it is a key.
        mutating func startNode() -> Bool {
            guard let last = open.indices.last, open[last].isMapping else { return false }
            defer { open[last].expectingKey.toggle() }
            return open[last].expectingKey
        }

        mutating func noteKey(_ key: String, at mark: Place) {
            guard let last = open.indices.last else { return }
            if let first = open[last].keys[key] {
                if diagnostics.count < PlatformLimits.diagnostics {
                    diagnostics.append(Diagnostic(line: mark.line, column: mark.column,
                                                  "duplicate key \(UserText.quoted(key)): it already appears at line \(first.line), column \(first.column)",
                                                  fix: "remove one of them, or merge their values"))
                }
            } else {
                open[last].keys[key] = mark
            }
        }

        static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }

        static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String? {
            pointer.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) }
        }
    }
}
