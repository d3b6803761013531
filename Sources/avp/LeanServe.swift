import Foundation

/// `avp serve …` runs in `avp-serve`, the device servers linked without Foundation, Yams and the
/// platform (Package.swift), when that program sits next to `avp`, as every build puts it: the
/// exec replaces this process, so an idle server holds only what serving needs (bench/idle-rss).
/// Without it (a build of the `avp` product alone) the same commands run in this process.
enum LeanServe {
    /// Replaces the process with `avp-serve` when `arguments` (argv) ask for `avp serve`; returns
    /// if they do not, or if there is no `avp-serve` to run.
    static func execIfServing(_ arguments: [String]) {
        guard arguments.count > 1, arguments[1] == "serve", let path = siblingExecutable("avp-serve") else { return }
        let argv = [path] + arguments.dropFirst(2)
        var cArguments = argv.map { strdup($0) }
        cArguments.append(nil)
        execv(path, &cArguments)
        // execv returns only on failure; the in-process commands serve instead.
        for pointer in cArguments { free(pointer) }
    }

    /// `name` in the directory of this executable, if it is there and executable.
    private static func siblingExecutable(_ name: String) -> String? {
        guard let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let path = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(name).path
        return access(path, X_OK) == 0 ? path : nil
    }
}
