/// Where a host component sends touches for one VM's touchscreen (the GPU server's web view
/// routes a person's touches this way). `TouchEventsClient` writes them to an input server's
/// events socket.
public protocol TouchTarget: AnyObject, Sendable {
    /// Sends `action` in the touchscreen's pixels; never blocks the caller.
    func send(_ action: TouchAction)
}
