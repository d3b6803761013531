import Devices
import Foundation

/// What a kind's `resolve` works with: where the device is written, whose it is, the
/// platform around it, values that must be unique on the platform, and the report its
/// problems go to.
struct KindRules {
    /// Whose device is being resolved.
    enum User: Sendable {
        case vm(String, index: Int)
        case server(String)

        /// "VM 'ivi'" or "server 'maps'", for messages.
        var description: String {
            switch self {
            case let .vm(name, _): "VM '\(name)'"
            case let .server(name): "server '\(name)'"
            }
        }
    }

    var report: DiagnosticReport
    let platformName: String
    let profile: PlatformFile.Profile
    /// The platform file's directory: relative paths start there.
    let directory: String
    /// Whether files named by the platform must exist (`avp describe` does not need them).
    let checkFiles: Bool
    /// Declared networks and their MTUs.
    var networks: [String: Int] = [:]
    /// Each VM's GPU scanouts: the layers naming it under `displays:`, in order.
    var scanouts: [String: [DisplayMode]] = [:]
    /// The roles declared under `audio:` (or the standard ones).
    var audioRoles = AudioRole.standard
    /// The machine of the VM whose device is being resolved (nil for a shared server).
    var machine: QemuCommandLine.Machine?
    /// This host's sysfs, for the warnings about host devices named by the platform.
    var host = HostPCI()

    /// The device's path in the file ("vms[0].devices[2]") and its user.
    var at = ""
    var user = User.server("")

    /// Values that must be unique on the platform: space ("mac", "cid", "writer") → value → owner.
    private var claims: [String: [String: String]] = [:]

    init(report: DiagnosticReport, platformName: String, profile: PlatformFile.Profile, directory: String, checkFiles: Bool) {
        self.report = report
        self.platformName = platformName
        self.profile = profile
        self.directory = directory
        self.checkFiles = checkFiles
    }

    /// Records that the current user has `value` in `space`; returns who had it first, if anyone did.
    mutating func claim(_ value: String, in space: String) -> String? {
        if let owner = claims[space]?[value] { return owner }
        claims[space, default: [:]][value] = user.description
        return nil
    }

    /// Who recorded `value` in `space` first, without recording anything.
    func holder(_ value: String, in space: String) -> String? { claims[space]?[value] }

    /// An error at one of the device's options (`option`), or at its `type:` when nil.
    mutating func error(_ option: String?, _ message: String, fix: String? = nil) {
        report.error(at + "." + (option ?? "type"), message, fix: fix)
    }

    /// A warning at one of the device's options (`option`), or at its `type:` when nil.
    mutating func warning(_ option: String?, _ message: String, fix: String? = nil) {
        report.warning(at + "." + (option ?? "type"), message, fix: fix)
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }

    /// Whether `path` is an existing regular file (or anything when files are not checked).
    func fileExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return !checkFiles || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue)
    }
}
