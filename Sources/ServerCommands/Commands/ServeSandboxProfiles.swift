import ArgumentParser
import SystemCalls
import VhostUser

/// A server command that confines itself with `--sandbox namespace` (docs/sandbox.md): its kind's
/// profile, made from its options, says what it may still reach once it has opened what it needs.
public protocol SandboxedServe: ParsableCommand {
    var sandboxMode: SandboxMode { get }
    var sandboxProfile: SandboxProfile { get }
    /// The whole confinement from a process with one thread, as the server applies it (`avp sandbox-try`).
    func confineAlone() throws
}

extension SandboxedServe {
    /// The profile `ServeLifecycle` applies, or nil with `--sandbox none`.
    var activeSandbox: SandboxProfile? { sandboxMode == .namespace ? sandboxProfile : nil }

    public func confineAlone() throws {
        try ServerSandbox.isolate(sandboxProfile)
        try ServerSandbox.confine(sandboxProfile)
    }
}

extension SandboxProfile {
    /// The profile of a server of `kind` on `endpoints`: their sockets' directories (writable: a
    /// listener removes its socket when it stops; a connecting server reconnects there), the
    /// directories of `sockets` (its other listeners and the sockets it connects to), of `outputs`
    /// (files it replaces while it runs) and `readOnly` directories; no capabilities. A server that
    /// connects at run time gets socket(AF_UNIX) and connect. Limits: open files 1024 plus 256 per
    /// VM (memory regions, kick and call descriptors, the inflight memfd); address space 16 GiB
    /// plus 64 GiB per VM, since each VM's whole RAM is mapped (a VM of more than 64 GiB needs
    /// --sandbox none).
    static func server(_ kind: String, endpoints: [VhostUserServer.Endpoint], sockets: [String] = [], connectsTo: [String] = [],
                       outputs: [String] = [], outputDirectories: [String] = [], readOnly: [String] = [],
                       syscalls: Syscalls = [], keepsHostNetwork: Bool = false, keepsHostIPC: Bool = false) -> SandboxProfile {
        let reconnects = endpoints.contains { if case .connect = $0 { true } else { false } }
        let vms = max(1, endpoints.count)
        var directories = (endpoints.map(\.path) + sockets + connectsTo + outputs).map { Directory(directory(of: $0), writable: true) }
        directories += outputDirectories.map { Directory(directory($0), writable: true) }
        directories += readOnly.map { Directory($0, writable: false) }
        return SandboxProfile(kind: kind, directories: directories, syscalls: syscalls.union(reconnects || !connectsTo.isEmpty ? .unixSockets : []),
                              keepsHostNetwork: keepsHostNetwork, keepsHostIPC: keepsHostIPC,
                              openFiles: 1024 + 256 * vms, addressSpace: UInt64(16 + 64 * vms) << 30)
    }
}

extension ServeEntropy: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    var sandboxProfile: SandboxProfile { .server("entropy", endpoints: options.endpoints.all) }
}

extension ServeBlock: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// The image is open before the sandbox; its I/O goes through the loop's io_uring, as every kind's waiting does.
    var sandboxProfile: SandboxProfile { .server("block", endpoints: options.endpoints.all) }
}

extension ServeConsole: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// Listeners only (the VMM's chardev reconnects to it); the log is open before the sandbox.
    var sandboxProfile: SandboxProfile {
        .server("console", endpoints: options.vhostUser.map { [.listen($0)] } ?? [], sockets: [options.socket, options.attach])
    }
}

extension ServeCrypto: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    var sandboxProfile: SandboxProfile { .server("crypto", endpoints: options.endpoints.all) }
}

extension ServeGpio: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// A host chip is open before the sandbox (its line requests too).
    var sandboxProfile: SandboxProfile {
        .server("gpio", endpoints: options.servedVMs.map(\.endpoint), sockets: options.control.map { [$0] } ?? [])
    }
}

extension ServeGpu: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// Statistics and snapshots are replaced while it runs; the web view's touches connect to input
    /// servers' sockets. The web view listens on 127.0.0.1 in the host's network namespace, which
    /// the server then keeps (no new socket but a Unix one either way).
    var sandboxProfile: SandboxProfile {
        let outputs = options.stats.map { [$0] } ?? []
        return .server("gpu", endpoints: options.servedVMs.map(\.endpoint), sockets: options.control.map { [$0] } ?? [],
                       connectsTo: options.touch.map(\.events), outputs: outputs, outputDirectories: options.snapshots.map { [$0] } ?? [],
                       syscalls: outputs.isEmpty && options.snapshots == nil ? [] : .fileReplace, keepsHostNetwork: options.webPort != nil)
    }
}

extension ServeI2c: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// EEPROM files are replaced on every write; host adapters are open before the sandbox.
    var sandboxProfile: SandboxProfile {
        let eeproms = options.servedVMs.flatMap(\.targets).compactMap { target -> String? in
            if case let .eeprom(_, file) = target { file } else { nil }
        }
        return .server("i2c", endpoints: options.servedVMs.map(\.endpoint), sockets: options.control.map { [$0] } ?? [],
                       outputs: eeproms, syscalls: eeproms.isEmpty ? [] : .fileReplace)
    }
}

extension ServeInput: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    var sandboxProfile: SandboxProfile {
        .server("input", endpoints: options.endpoints.all, sockets: options.eventsSocket.map { [$0] } ?? [])
    }
}

extension ServeScmi: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// A host sensor file (hwmon, IIO) is opened on every read: its directory, read-only.
    var sandboxProfile: SandboxProfile {
        let files = options.sensor.compactMap { sensor -> String? in
            if case let .file(path) = sensor.source { SandboxProfile.directory(of: path) } else { nil }
        }
        return .server("scmi", endpoints: options.servedVMs.map(\.endpoint), sockets: options.control.map { [$0] } ?? [], readOnly: files)
    }
}

extension ServeSound: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// The WAV file is open before the sandbox. ALSA devices too, but dmix and dsnoop share System V
    /// memory with the host's other players, and audio threads may ask for real-time priority.
    var sandboxProfile: SandboxProfile {
        let alsa = options.alsaOutput != nil || options.alsaInput != nil
        return .server("sound", endpoints: options.servedVMs.map(\.endpoint), sockets: options.control.map { [$0] } ?? [],
                       syscalls: alsa ? .audio : [], keepsHostIPC: alsa)
    }
}

extension ServeSwitch: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    var sandboxProfile: SandboxProfile {
        .server("switch", endpoints: options.port.map(\.endpoint), outputs: options.stats.map { [$0] } ?? [],
                syscalls: options.stats == nil ? [] : .fileReplace)
    }
}

extension ServeVsock: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// A guest's connection to the host's port P connects to the Unix socket PATH_P next to each VM's uds=PATH.
    var sandboxProfile: SandboxProfile {
        .server("vsock", endpoints: options.vm.map(\.endpoint), connectsTo: options.vm.map(\.hostSocket))
    }
}

extension ServeFs: SandboxedServe {
    var sandboxMode: SandboxMode { options.sandbox }
    /// Its root is its own (the share at /share, sockets at /sockets/N: `ServerSandbox.pivot(share:…)`);
    /// the open-file limit is the one it raised at start for the nodes it keeps open.
    var sandboxProfile: SandboxProfile {
        let endpoints = options.endpoints.all
        let reconnects = endpoints.contains { if case .connect = $0 { true } else { false } }
        let vms = max(1, endpoints.count)
        return SandboxProfile(kind: "fs", capabilities: Self.keptCapabilities,
                              syscalls: SandboxProfile.Syscalls.fileSystem.union(reconnects ? .unixSockets : []),
                              addressSpace: UInt64(16 + 64 * vms) << 30)
    }

    public func confineAlone() throws {
        let endpoints = options.endpoints.all
        try ServerSandbox.isolate(sandboxProfile)
        try ServerSandbox.pivot(share: options.sharedDir, readOnly: options.readOnly, socketDirectories: Self.socketDirectories(endpoints).list)
        try ServerSandbox.restrict(sandboxProfile)
    }
}
