/// Where a composed display goes: a PNG writer, a web view, a DRM/KMS output. Added with
/// `Compositor.addOutput(_:)`; the output side of the compositor, as `ScanoutSink` is its
/// input side.
///
/// `displayComposed` is called on the compositor's thread after every composition of a
/// display (at most the compositor's frame rate), and must return at once: note the
/// generation (or copy what it needs) and do the slow work (encoding, page flips, network)
/// on its own thread, as `ScanoutSnapshots` does for scanouts. Pixels are read with
/// `frame.withPixels` (in place, under the frame's lock) or `frame.snapshot()`; a sink that
/// finds a newer generation than it was told about simply shows the newer frame.
public protocol DisplaySink: AnyObject, Sendable {
    /// Display `name` was composed into `frame` (the compositor's output for it), now at `generation`.
    func displayComposed(_ name: String, frame: ScanoutFrame, generation: UInt64)
}
