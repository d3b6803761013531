/// `avp conformance --probe SOCKET --kind KIND`: drives any vhost-user back end (AVP's
/// `avp serve`, qemu-storage-daemon's vhost-user-blk export, QEMU's vhost-user-gpu) with the
/// Swift front end and reports the AVPS requirements a back end alone decides.
public enum ProbeRunner {
    /// Probes `socket` as `kind` without data-changing requests.
    public static func run(socket: String, kind: String) throws(ProbeError) -> ProbeReport {
        try run(socket: socket, kind: kind, options: ProbeOptions())
    }

    public static func run(socket: String, kind: String, options: ProbeOptions) throws(ProbeError) -> ProbeReport {
        let kind = try ProbeKind(parsing: kind)
        let findings: [ProbeFinding]
        switch kind {
        case .block:
            let session = try ProbeSession(socket: socket, options: options)
            findings = BlockProbe.run(session)
        case .entropy:
            let session = try ProbeSession(socket: socket, options: options)
            findings = EntropyProbe.run(session)
        case .gpu:
            findings = try GpuProbe.run(socket: socket, options: options)
        }
        return ProbeReport(socket: socket, kind: kind, allowWrites: options.allowWrites, findings: findings)
    }
}
