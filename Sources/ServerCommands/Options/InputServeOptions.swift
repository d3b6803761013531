import ArgumentParser
import Devices

/// `--size WIDTHxHEIGHT` of `avp serve input`: the touchscreen's pixels, those of the layer
/// (scanout) it lies on.
public struct TouchscreenSize: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    /// 1920x1080, the size of a GPU's default output.
    public static let standard = TouchscreenSize(width: DisplayMode.standard.width, height: DisplayMode.standard.height)

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public init(parsing text: String) throws {
        guard case let (width, height, nil)? = GpuOutputOption.pixels(text),
              Touchscreen.sides.contains(width), Touchscreen.sides.contains(height) else {
            throw ValidationError("size \(UserText.quoted(text)): use WIDTHxHEIGHT in pixels, each \(Touchscreen.sides.lowerBound) to \(Touchscreen.sides.upperBound), e.g. 1920x1080")
        }
        self.init(width: width, height: height)
    }

    public var description: String { "\(width)x\(height)" }
}

/// `avp serve input`: AVP's touchscreen (virtio-input, VIRTIO 1.2 §5.8) for one VM, fed with
/// the host's touches through an events socket.
public struct InputServeOptions: EndpointServeOptions {
    public static let command = "input"
    /// Names the guest shows: printable ASCII, at most what Linux keeps.
    public static let namePattern = "^[ -~]{1,\(InputDeviceDescription.maxTextBytes)}$"

    public static func isValidName(_ name: String) -> Bool {
        (1...InputDeviceDescription.maxTextBytes).contains(name.utf8.count) && name.utf8.allSatisfy { (0x20...0x7e).contains($0) }
    }

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: "The touchscreen's size in pixels, WIDTHxHEIGHT (that of the display layer it lies on); ABS_X and ABS_Y run from 0 to WIDTH-1 and HEIGHT-1. Default: 1920x1080.",
            transform: TouchscreenSize.init(parsing:))
    public var size = TouchscreenSize.standard
    @Option(help: "The device name the guest shows (/sys/class/input/*/name), 1 to 63 printable ASCII characters.")
    public var name = Touchscreen.defaultName
    @Option(help: ArgumentHelp("A Unix socket to listen on for the host's touches, one per line: 'touch X Y', 'move X Y', 'release' "
        + "(an optional last number 0 to 9 names the contact, for several fingers).", valueName: "socket"))
    public var eventsSocket: String?

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints, size: TouchscreenSize, name: String, eventsSocket: String?) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.size = size
            $0.name = name
            $0.eventsSocket = eventsSocket
        }
    }

    public var arguments: [String] {
        endpoints.arguments + ["--size", size.description, "--name", name] + (eventsSocket.map { ["--events-socket", $0] } ?? []) + sandbox.arguments
    }

    public func validate() throws {
        guard endpoints.all.count == 1 else {
            throw ValidationError("a touchscreen serves one VM: give exactly one --socket or --connect")
        }
        guard Self.isValidName(name) else {
            throw ValidationError("--name \(UserText.quoted(name)): use 1 to \(InputDeviceDescription.maxTextBytes) printable ASCII characters")
        }
    }
}
