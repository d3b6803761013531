#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemCalls

/// Where an emulated EEPROM keeps its contents: a file of exactly `Eeprom24C02.size` bytes.
/// Written durably — a temporary file beside it, fsync, rename over the file, fsync of the
/// directory — so a crash leaves the old contents or the new, never half of a write.
public struct EepromFile: Sendable, Equatable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The contents, creating the file erased (all 0xFF) when it does not exist.
    public func load() throws(EepromFileError) -> [UInt8] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            let erased = [UInt8](repeating: 0xFF, count: Eeprom24C02.size)
            try store(erased)
            return erased
        } catch {
            throw .unreadable(path, "\(error)")
        }
        guard data.count == Eeprom24C02.size else { throw .wrongSize(path, data.count) }
        return [UInt8](data)
    }

    /// Replaces the contents durably.
    public func store(_ bytes: [UInt8]) throws(EepromFileError) {
        precondition(bytes.count == Eeprom24C02.size)
        let temporary = path + ".tmp"
        do throws(Errno) {
            let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try file.writeAll(bytes)
            _ = try retryingSyscall("fsync \(temporary)") { fsync(file.rawValue) }
            file.close()
            _ = try retryingSyscall("rename \(temporary)") { rename(temporary, path) }
            let directory = try FileDescriptor.open(URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                    flags: O_RDONLY | O_DIRECTORY)
            _ = try retryingSyscall("fsync of \(path)'s directory") { fsync(directory.rawValue) }
        } catch {
            unlink(temporary)
            throw .unwritable(path, error.description)
        }
    }
}

public enum EepromFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case wrongSize(String, Int)
    case unwritable(String, String)

    public var description: String {
        switch self {
        case let .unreadable(path, why): "EEPROM file \(path) cannot be read: \(why)"
        case let .wrongSize(path, size):
            "EEPROM file \(path) has \(size) bytes, not the \(Eeprom24C02.size) of a 24C02: remove it to start erased, or give another file"
        case let .unwritable(path, why): "EEPROM file \(path) cannot be written: \(why)"
        }
    }
}
