#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// What the host asks the GPU server's control socket (`avp display`): the policy of a
/// display, or a change of one layer. AVPS 2.8 leaves composition to a host policy; this is
/// how the host's operator changes it while the VMs run ({AVPS-v2.0-29}). Guests have no
/// path here: the socket is in the platform's private state directory.
///
/// One JSON object per line each way, at most `maxLine` bytes.
public enum DisplayControlRequest: Codable, Sendable, Equatable {
    case show(display: String)
    case change(display: String, layer: Int, LayerChange)

    public static let maxLine = 4096

    public var display: String {
        switch self {
        case let .show(display), let .change(display, _, _): display
        }
    }

    /// A line of JSON, or an error that says what is wrong with it.
    public init(line: [UInt8]) throws(DisplayControlError) {
        guard line.count <= Self.maxLine else { throw .lineTooLong }
        do { self = try JSONDecoder().decode(Self.self, from: Data(line)) } catch {
            throw .malformedRequest
        }
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// A change to one layer. The size of a layer is fixed: it is the size of the scanout its
/// VM was given (and told about in its EDID), so a layer moves but is not resized.
public enum LayerChange: Codable, Sendable, Equatable {
    /// 0 hides the layer, 255 makes it opaque.
    case opacity(value: UInt8)
    /// The top-left corner on the display; the layer must stay within it.
    case move(x: UInt32, y: UInt32)
    /// The layer's new place in the stack: 0 the bottom, layers.count - 1 the top.
    case restack(to: Int)

    /// `policy` with the change made to layer `index`, validated.
    public func applied(to policy: DisplayPolicy, layer index: Int) throws(DisplayControlError) -> DisplayPolicy {
        guard policy.layers.indices.contains(index) else { throw .noSuchLayer(display: policy.name, layer: index, count: policy.layers.count) }
        var changed = policy
        switch self {
        case let .opacity(value):
            changed.layers[index].opacity = value
        case let .move(x, y):
            changed.layers[index].destination.x = x
            changed.layers[index].destination.y = y
        case let .restack(to):
            guard policy.layers.indices.contains(to) else { throw .noSuchLayer(display: policy.name, layer: to, count: policy.layers.count) }
            changed.layers.insert(changed.layers.remove(at: index), at: to)
        }
        do { try changed.validate() } catch { throw .refused(error) }
        return changed
    }
}

/// The answer: the display's policy as it now is, or why the request was refused.
public enum DisplayControlResponse: Codable, Sendable, Equatable {
    case policy(summary: DisplayPolicySummary)
    case refused(reason: String)

    public init(line: [UInt8]) throws(DisplayControlError) {
        do { self = try JSONDecoder().decode(Self.self, from: Data(line)) } catch { throw .malformedResponse }
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// A display's policy as the control socket shows it: everything but mask pixels.
public struct DisplayPolicySummary: Codable, Sendable, Equatable {
    public struct Layer: Codable, Sendable, Equatable {
        public var vm: String
        public var scanout: Int
        /// x, y, width, height on the display.
        public var at: [UInt32]
        public var opacity: UInt8
        public var masked: Bool
        public var safetyRegions: Int
    }

    public var name: String
    public var width: Int
    public var height: Int
    /// Bottom to top.
    public var layers: [Layer]

    public init(_ policy: DisplayPolicy) {
        name = policy.name
        width = policy.width
        height = policy.height
        layers = policy.layers.map { l in
            let d = l.destination
            return Layer(vm: l.source.vm, scanout: l.source.scanout, at: [d.x, d.y, d.width, d.height], opacity: l.opacity,
                         masked: l.mask != nil, safetyRegions: l.safetyRegions.count)
        }
    }
}

public enum DisplayControlError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case malformedRequest
    case malformedResponse
    case noSuchLayer(display: String, layer: Int, count: Int)
    case refused(DisplayPolicyError)

    public var description: String {
        switch self {
        case .lineTooLong: "a control request is one line of at most \(DisplayControlRequest.maxLine) bytes"
        case .malformedRequest: "the control request is not a display request (JSON: show or change)"
        case .malformedResponse: "the GPU server's answer is not a display control response"
        case let .noSuchLayer(display, layer, count):
            "display '\(display)' has no layer \(layer)" + (count == 0 ? "; it has no layers" : "; its layers are 0 (bottom) to \(count - 1) (top)")
        case let .refused(error): error.description
        }
    }
}
