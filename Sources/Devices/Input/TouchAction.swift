/// One change of a touch as the host sees it, in the touchscreen's pixels (0,0 top left).
/// `contact` tells simultaneous fingers apart (0 for a single pointer).
public enum TouchAction: Sendable, Equatable, CustomStringConvertible {
    /// A contact starts touching at x, y (or moves there if it already touches).
    case touch(contact: Int, x: Int, y: Int)
    /// A touching contact moves to x, y (nothing if it does not touch).
    case move(contact: Int, x: Int, y: Int)
    /// A contact stops touching (nothing if it does not touch).
    case release(contact: Int)

    public var contact: Int {
        switch self {
        case let .touch(c, _, _), let .move(c, _, _), let .release(c): c
        }
    }

    /// The action as a line of the events protocol (`TouchLine` reads it back as this action).
    public var description: String {
        switch self {
        case let .touch(c, x, y): "touch \(x) \(y) \(c)"
        case let .move(c, x, y): "move \(x) \(y) \(c)"
        case let .release(c): "release \(c)"
        }
    }
}
