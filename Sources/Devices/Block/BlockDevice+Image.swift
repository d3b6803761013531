import Logging
import SystemCalls

extension BlockDevice {
    /// Opens (and locks) the image `options` names.
    public convenience init(options: BlockDeviceOptions, logger: Logger) throws {
        try self.init(options: options, image: Self.openImage(options, logger: logger), logger: logger)
    }

    /// Opens and locks the image for `options`; one image can back several devices of one server
    /// (a shared server's front ends), whose lock then covers them all.
    public static func openImage(_ options: BlockDeviceOptions, logger: Logger) throws -> BlockImage {
        var waitStarted: Double?
        do {
            let image = try BlockImage(path: options.imagePath, readOnly: options.readOnly, direct: options.direct) {
                waitStarted = MonotonicClock.seconds()
                logger.notice("\(options.imagePath) is locked by another open file: waiting up to \(Int(BlockImage.lockWaitSeconds)) s for it (a previous server's I/O still in flight)")
            }
            if let waitStarted {
                logger.notice("\(options.imagePath): lock taken after \(Int((MonotonicClock.seconds() - waitStarted) * 1000)) ms")
            }
            return image
        } catch {
            throw BlockDeviceError.image(options.imagePath, error)
        }
    }
}
