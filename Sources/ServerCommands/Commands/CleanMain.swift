import ArgumentParser

extension ParsableCommand {
    /// ArgumentParser's `main`, except that Foundation's file errors, which it would print as an
    /// `NSCocoaErrorDomain` dump, become one line naming the file and the reason
    /// (`CommandFailure.cleaned`). The `main` of both `avp` and `avp-serve`.
    public static func mainWithCleanErrors() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: CommandFailure.cleaned(error))
        }
    }
}
