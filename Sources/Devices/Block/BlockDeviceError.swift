/// Why a block device could not be made.
public enum BlockDeviceError: Error, CustomStringConvertible {
    case invalidOption(String)
    case image(String, BlockImageError)

    public var description: String {
        switch self {
        case let .invalidOption(why): return why
        case let .image(path, e): return "cannot open image \(path): \(e)"
        }
    }
}
