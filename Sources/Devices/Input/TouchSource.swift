/// Where a touchscreen's touches come from on the host: the events socket of `avp serve input`
/// (`TouchEventsSocket`), and whatever else may feed one (the display's web view). A source
/// calls `deliver` from a thread of its own, in the order the touches happened.
public protocol TouchSource: AnyObject, Sendable {
    /// Starts delivering touches; throws if the source cannot run.
    func start(delivering deliver: @escaping @Sendable (TouchAction) -> Void) throws
    /// Stops; once it returns, `deliver` is not called again.
    func stop()
}
