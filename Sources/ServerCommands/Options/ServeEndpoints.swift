import ArgumentParser
import VhostUser

/// Where a device server meets its VMMs: sockets it listens on, or VMM sockets it connects to.
public struct ServeEndpoints: ParsableArguments, Sendable {
    @Option(help: "A vhost-user socket to listen on (the VMM connects); repeat to serve several VMs from one process.")
    public var socket: [String] = []
    @Option(help: ArgumentHelp("A VMM's listening vhost-user socket to connect to, and to reconnect to when the VMM restarts "
        + "(QEMU: -chardev socket,server=on,wait=on); repeatable.", valueName: "socket"))
    public var connect: [String] = []

    public init() {}

    /// Endpoints given by value (the plan's way; `parse` is the command's). ArgumentParser
    /// values must be set before they are read, so every property is set here.
    public init(socket: [String], connect: [String]) {
        self = .with {
            $0.socket = socket
            $0.connect = connect
        }
    }

    public var all: [VhostUserServer.Endpoint] { socket.map { .listen($0) } + connect.map { .connect($0) } }

    public var arguments: [String] { socket.flatMap { ["--socket", $0] } + connect.flatMap { ["--connect", $0] } }

    /// "Give at least one": checked by each server's options, since the GPU server's VMs may come as `--vm` instead.
    public func requireSome() throws {
        if all.isEmpty { throw ValidationError("give at least one --socket or --connect") }
    }
}

/// A server whose VMs each bring one endpoint (entropy, block).
public protocol EndpointServeOptions: ServeOptions {
    var endpoints: ServeEndpoints { get set }
}
