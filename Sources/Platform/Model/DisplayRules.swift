import Devices
import ServerCommands

/// The rules for `displays:` ({AVPS-v2.0-27} to {AVPS-v2.0-29}): a mode and physical size
/// each, layers on the display naming VMs that have a GPU, safety regions within their
/// layer. Each layer becomes one scanout of its VM, sized as the layer, with the display's
/// pixel density, so the VM's EDID tells it the truth about what it draws on.
struct DisplayRules {
    /// Displays resolved; layers not yet checked against the VMs (that needs them resolved).
    /// `rules` gives the report, the platform file's directory and whether files are checked.
    static func resolve(_ specs: [DisplaySpec], rules: inout KindRules) -> [Platform.Display] {
        var displays: [Platform.Display] = []
        var names: Set<String> = []
        var scanoutsPerVM: [String: Int] = [:]
        for (d, spec) in specs.enumerated() {
            let at = "displays[\(d)]"
            if !names.insert(spec.name).inserted { rules.report.error(at + ".name", "a display named '\(spec.name)' is already declared", fix: "give each display its own name") }
            guard let mode = mode(spec, at: at, report: &rules.report) else { continue }
            if let vm = spec.vm, spec.layers != nil {
                rules.report.error(at + ".vm", "display '\(spec.name)' is given wholly to VM '\(vm)', so no other layer may share it",
                                   fix: "remove 'layers', or give '\(vm)' a layer among them instead of 'vm'")
                continue
            }
            var layers: [Platform.Layer] = []
            for (lat, layer) in spec.effectiveLayers(at: at) {
                var destination = GpuRect.whole(width: mode.width, height: mode.height)
                if let numbers = layer.at {
                    guard let rect = rectangle(numbers), !rect.isEmpty, rect.fits(width: mode.width, height: mode.height) else {
                        rules.report.error(lat + ".at", "a layer is [x, y, width, height] within the display's \(mode.width)x\(mode.height)")
                        continue
                    }
                    destination = rect
                }
                var safety: [GpuRect] = []
                for (r, numbers) in (layer.safety ?? []).enumerated() {
                    guard let rect = rectangle(numbers), !rect.isEmpty, rect.fits(width: Int(destination.width), height: Int(destination.height)) else {
                        rules.report.error("\(lat).safety[\(r)]", "a safety region is [x, y, width, height] within its layer's \(destination.width)x\(destination.height)")
                        continue
                    }
                    safety.append(rect)
                }
                // The scanout keeps the display's pixel density: millimetres scale with pixels.
                let scanoutMode = DisplayMode(width: Int(destination.width), height: Int(destination.height), refresh: mode.refresh,
                                              widthMM: max(DisplayMode.millimetres.lowerBound, mode.widthMM * Int(destination.width) / mode.width),
                                              heightMM: max(DisplayMode.millimetres.lowerBound, mode.heightMM * Int(destination.height) / mode.height))
                if let problem = scanoutMode.problem {
                    rules.report.error(lat + ".at", "the layer's scanout \(problem)")
                    continue
                }
                let mask = layer.mask.flatMap { Self.mask($0, size: destination, at: lat + ".mask", rules: &rules) }
                let index = scanoutsPerVM[layer.vm, default: 0]
                guard index < GpuResponse.maxScanouts else {
                    rules.report.error(lat + ".vm", "VM '\(layer.vm)' has more than \(GpuResponse.maxScanouts) layers (virtio-gpu has 16 scanouts)")
                    continue
                }
                scanoutsPerVM[layer.vm] = index + 1
                layers.append(Platform.Layer(policy: LayerPolicy(source: ScanoutSource(vm: layer.vm, scanout: index), destination: destination,
                                                                 opacity: UInt8(clamping: layer.opacity?.value ?? 255), safetyRegions: safety),
                                             mode: scanoutMode, mask: mask))
            }
            displays.append(Platform.Display(name: spec.name, mode: mode, layers: layers))
        }
        return displays
    }

    /// Every layer names a VM of the platform that has a GPU device.
    static func checkVMs(_ specs: [DisplaySpec], vms: [Platform.VM], report: inout DiagnosticReport) {
        for (d, spec) in specs.enumerated() {
            for (path, layer) in spec.effectiveLayers(at: "displays[\(d)]") {
                let at = path + ".vm"
                guard let vm = vms.first(where: { $0.name == layer.vm }) else {
                    report.error(at, "\(UserText.quoted(layer.vm)) is not a VM of this platform",
                                 fix: "use one of: \(vms.map(\.name).joined(separator: ", "))")
                    continue
                }
                if !vm.devices.contains(where: { $0.kind == .gpu }) {
                    report.error(at, "VM '\(vm.name)' has no gpu device", fix: "add '- type: gpu' to its devices")
                }
            }
        }
    }

    /// The mask's absolute path. When files are checked, the image is read as the GPU server
    /// will read it (`MaskImage.load`) and must be the layer's size: the compositor takes a
    /// mask of exactly its destination ({AVPS-v2.0-29}).
    private static func mask(_ file: String, size destination: GpuRect, at path: String, rules: inout KindRules) -> String? {
        let absolute = rules.absolute(file)
        let shown = UserText.shortened(absolute, limit: 200)
        let (width, height) = (Int(destination.width), Int(destination.height))
        guard !absolute.contains(",") else {   // the server's --layer separates its fields with ','
            rules.report.error(path, "mask \(shown): a mask's path cannot contain ','", fix: "rename the file or its directory")
            return nil
        }
        guard rules.checkFiles else { return absolute }
        let image: AlphaMask
        do { image = try MaskImage.load(path: absolute) } catch {
            let fix = switch error {
            case .cannotRead, .notRegularFile: "check the path (relative paths start at the platform file)"
            default: "save it as a binary PGM (P5, 8-bit) or PBM (P4, 1-bit) of \(width)x\(height) pixels, white where the layer shows"
            }
            rules.report.error(path, "mask \(shown): \(error)", fix: fix)
            return nil
        }
        guard image.width == width, image.height == height else {
            rules.report.error(path, "mask \(shown) is \(image.width)x\(image.height), but its layer is \(width)x\(height)",
                               fix: "scale the mask to \(width)x\(height) pixels, or change the layer's 'at'")
            return nil
        }
        return absolute
    }

    private static func mode(_ spec: DisplaySpec, at: String, report: inout DiagnosticReport) -> DisplayMode? {
        guard let (width, height, refresh) = GpuOutputOption.pixels(spec.mode) else {
            report.error(at + ".mode", "\(UserText.quoted(spec.mode)) is not WIDTHxHEIGHT or WIDTHxHEIGHT@HZ", fix: "e.g. 1920x1080@60")
            return nil
        }
        guard case let (widthMM, heightMM, nil)? = GpuOutputOption.pixels(spec.size) else {
            report.error(at + ".size", "\(UserText.quoted(spec.size)) is not WIDTHxHEIGHT in millimetres", fix: "e.g. 293x165")
            return nil
        }
        let mode = DisplayMode(width: width, height: height, refresh: refresh ?? 60, widthMM: widthMM, heightMM: heightMM)
        if let problem = mode.problem {
            report.error(at + ".mode", "display '\(spec.name)': \(problem)")
            return nil
        }
        return mode
    }

    private static func rectangle(_ numbers: [WholeNumber]) -> GpuRect? {
        guard numbers.count == 4, let v = Optional(numbers.map(\.value)), v.allSatisfy({ (0...65535).contains($0) }) else { return nil }
        return GpuRect(x: UInt32(v[0]), y: UInt32(v[1]), width: UInt32(v[2]), height: UInt32(v[3]))
    }
}
