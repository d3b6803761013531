/// How a queue reaches the driver: the transport's interrupt (vhost-user's call
/// eventfd) and its error channel (the vring error eventfd). Devices never see it.
public protocol QueueNotifier: AnyObject, Sendable {
    /// Tell the driver that used buffers are ready.
    func signalUsed()
    /// Tell the front end that the queue hit an unrecoverable error.
    func signalError()
}
