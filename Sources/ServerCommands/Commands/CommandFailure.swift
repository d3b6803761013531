#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// A failure to report to the user as one line (ArgumentParser prints it after "Error: ").
public struct CommandFailure: Error, LocalizedError, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
    public var errorDescription: String? { message }

    /// `error` made printable: Foundation's file errors become "cannot read PATH: reason";
    /// every other error is returned as it is.
    public static func cleaned(_ error: Error) -> Error {
        guard let cocoa = error as? CocoaError else { return error }
        let path = cocoa.filePath ?? cocoa.url?.path
        let reason: String
        if let posix = cocoa.underlying as? POSIXError {
            reason = String(cString: strerror(posix.code.rawValue))
        } else {
            reason = "\(cocoa.code)"
        }
        let verb = (512..<1024).contains(cocoa.code.rawValue) ? "cannot write" : (256..<512).contains(cocoa.code.rawValue) ? "cannot read" : "cannot use"
        guard let path else { return CommandFailure("\(verb) a file: \(reason)") }
        return CommandFailure("\(verb) \(UserText.shortened(path, limit: 200)): \(reason)")
    }
}
