import CAVPShim

/// The code and constants a server ran only while it started: argument parsing, opening its
/// files, building its devices and sandbox. They stay resident after start-up although an idle
/// server never runs them again (an idle entropy server kept about 3 MiB of them).
public enum StartupPages {
    /// Unmaps the resident pages of every read-only segment of the program and its shared
    /// libraries from this process (see `avp_release_read_only_pages`). Nothing is lost: what
    /// runs afterwards comes back from the page cache on first touch, as minor faults.
    public static func release() { avp_release_read_only_pages() }
}
