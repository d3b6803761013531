import Foundation
import SystemCalls

/// A fresh directory under the temporary directory for one store test, named after `purpose`.
func temporaryShare(_ purpose: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("avp-fs-\(purpose)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
}

/// The errno `body` failed with, nil if it succeeded (-1 for an error that is no Errno).
func errnoCode(_ body: () throws -> Void) -> Int32? {
    do { try body(); return nil } catch let error as Errno { return error.code } catch { return -1 }
}
