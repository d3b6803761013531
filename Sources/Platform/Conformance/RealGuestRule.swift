/// Which tests prove a requirement in a real guest: those of the GuestTests target whose suite
/// says so by its name (`EntropyInRealGuest`, `NetInRealGuests`, `ArmGuests`, `DebianArmGuest`).
/// GuestTests also has suites that boot nothing or only check a command (`FsSandboxFromTheHost`,
/// `AVPRunCommand`); their names do not end so, and they count as host-side evidence.
public enum RealGuestRule {
    public static let target = "GuestTests"
    public static let suiteSuffixes = ["InRealGuest", "InRealGuests", "Guest", "Guests"]

    public static func isRealGuest(_ test: TestReference) -> Bool {
        guard test.target == target, let suite = test.suite else { return false }
        return suiteSuffixes.contains { suite.hasSuffix($0) }
    }
}
