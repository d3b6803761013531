import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// The plan writes each server's options as arguments and `avp serve <kind>` parses them
/// back: one codec, so every kind's options must survive the round trip.
@Suite struct ServeOptionsRoundTrips {
    @Test func endpoints() throws {
        let e = ServeEndpoints(socket: ["/a"], connect: ["/b", "/c"])
        #expect(e.arguments == ["--socket", "/a", "--connect", "/b", "--connect", "/c"])
        let back = try ServeEndpoints.parse(e.arguments)
        #expect(back.socket == ["/a"] && back.connect == ["/b", "/c"])
    }

    @Test func entropy() throws {
        let options = EntropyServeOptions(endpoints: ServeEndpoints(socket: [], connect: ["/run/rng-a.sock", "/run/rng-b.sock"]))
        let back = try EntropyServeOptions.parse(options.arguments)
        #expect(back.endpoints.connect == ["/run/rng-a.sock", "/run/rng-b.sock"] && back.endpoints.socket.isEmpty)
        #expect(options.commandLine.prefix(2) == ["serve", "entropy"])
    }

    @Test func block() throws {
        var device = BlockDeviceOptions(imagePath: "/images/disk with space.img")
        device.readOnly = true
        device.serial = "IVI-DATA"
        device.queueCount = 4
        device.cache = .writethrough
        device.direct = true
        device.blockSize = 4096
        let options = BlockServeOptions(endpoints: ServeEndpoints(socket: ["/s1"], connect: ["/s2"]), options: device)
        let back = try BlockServeOptions.parse(options.arguments).deviceOptions
        #expect(back.imagePath == device.imagePath && back.readOnly && back.serial == "IVI-DATA" && back.queueCount == 4)
        #expect(back.cache == .writethrough && back.direct && back.blockSize == 4096)
        let plain = try BlockServeOptions.parse(BlockServeOptions(endpoints: ServeEndpoints(socket: [], connect: ["/s"]),
                                                                  options: BlockDeviceOptions(imagePath: "/d")).arguments).deviceOptions
        #expect(!plain.readOnly && plain.serial == "" && plain.queueCount == 1 && plain.cache == .writeback && !plain.direct && plain.blockSize == 512)
    }

    @Test func blockRefusesAWritableImageForSeveralFrontEnds() {
        let options = BlockServeOptions(endpoints: ServeEndpoints(socket: [], connect: ["/a", "/b"]), options: BlockDeviceOptions(imagePath: "/d"))
        #expect(throws: (any Error).self) { try BlockServeOptions.parse(options.arguments) }
    }

    @Test func console() throws {
        let options = ConsoleServeOptions(socket: "/s", attach: "/a", log: "/l", vhostUser: "/v")
        let back = try ConsoleServeOptions.parse(options.arguments)
        #expect(back.socket == "/s" && back.attach == "/a" && back.log == "/l" && back.vhostUser == "/v")
        #expect(try ConsoleServeOptions.parse(ConsoleServeOptions(socket: "/s", attach: "/a", log: "/l", vhostUser: nil).arguments).vhostUser == nil)
    }

    @Test func switchPorts() throws {
        let mac = try #require(MACAddress("02:00:00:00:10:02"))
        let extra = try #require(MACAddress("02:aa:00:00:00:01"))
        let ports = [SwitchPortOption(policy: NetPortPolicy(name: "ivi-1", mac: mac, extraMACs: [extra], macChange: .deny, mtu: 1400),
                                      endpoint: .connect("/run/lan-ivi-1.sock")),
                     SwitchPortOption(policy: NetPortPolicy(name: "cluster-1", mac: extra), endpoint: .listen("/run/c.sock"))]
        let options = SwitchServeOptions(ports: ports, stats: "/logs/switch-lan.json")
        let back = try SwitchServeOptions.parse(options.arguments)
        #expect(back.stats == "/logs/switch-lan.json")
        #expect(back.port.map(\.policy) == ports.map(\.policy))
        #expect(back.port.map(\.endpoint.description) == ports.map(\.endpoint.description))
    }

    @Test func switchPortsRefuseNonsense() {
        for bad in ["name=a,mac=02:00:00:00:00:01", "name=a,connect=/s,mac=01:00:00:00:00:01", "name=a,connect=/s,mac=02:00:00:00:00:01,mtu=67",
                    "name=a,connect=/s,listen=/t,mac=02:00:00:00:00:01", "name=a,name=b,connect=/s,mac=02:00:00:00:00:01",
                    "name=a,connect=/s,mac=02:00:00:00:00:01,colour=red", "name=a,connect=/s,mac=02:00:00:00:00:01,mtu=99999999999999999999999"] {
            #expect(throws: (any Error).self, "\(bad)") { try SwitchPortOption(parsing: bad) }
        }
    }

    @Test func vsock() throws {
        let vms = [VsockVMOption(name: "ivi", cid: 3, endpoint: .connect("/run/vsock-ivi.sock"), hostSocket: "/run/ivi.vsock"),
                   VsockVMOption(name: "cluster", cid: 4_294_967_294, endpoint: .listen("/run/vsock-cluster.sock"), hostSocket: "/run/cluster.vsock")]
        let options = VsockServeOptions(vms: vms, allow: [["ivi", "cluster"]])
        let back = try VsockServeOptions.parse(options.arguments)
        #expect(back.vm.map(\.name) == ["ivi", "cluster"] && back.vm.map(\.cid) == [3, 4_294_967_294])
        #expect(back.vm.map(\.hostSocket) == ["/run/ivi.vsock", "/run/cluster.vsock"])
        #expect(back.vm.map(\.endpoint.description) == vms.map(\.endpoint.description))
        #expect(try back.allowedCIDPairs().map { [$0.0, $0.1] } == [[3, 4_294_967_294]])
        for bad in ["name=a,cid=2,connect=/s,uds=/u", "name=a,cid=3,uds=/u", "name=a,cid=x,connect=/s,uds=/u", "cid=3,connect=/s,uds=/u"] {
            #expect(throws: (any Error).self, "\(bad)") { try VsockVMOption(parsing: bad) }
        }
    }
}

extension ServeOptionsRoundTrips {
    @Test func gpu() throws {
        let outputs = [GpuOutputOption(DisplayMode(width: 1280, height: 720, refresh: 60, widthMM: 200, heightMM: 113)),
                       GpuOutputOption(DisplayMode(width: 800, height: 480, refresh: 50, widthMM: 154, heightMM: 86))]
        let options = GpuServeOptions(endpoints: ServeEndpoints(socket: ["/g.sock"], connect: []), outputs: outputs, snapshots: "/shots")
        let back = try GpuServeOptions.parse(options.arguments)
        #expect(back.modes == outputs.map(\.mode) && back.snapshots == "/shots" && back.endpoints.socket == ["/g.sock"])
        #expect(try GpuServeOptions.parse(["--socket", "/g"]).modes == [.standard])
        // A platform's server: VMs with their scanouts, displays with their layers.
        let mode = DisplayMode(width: 640, height: 480, widthMM: 160, heightMM: 120)
        let layer = LayerPolicy(source: ScanoutSource(vm: "ivi", scanout: 0), destination: GpuRect(x: 0, y: 0, width: 640, height: 480),
                                opacity: 128, safetyRegions: [GpuRect(x: 1, y: 2, width: 3, height: 4), GpuRect(x: 5, y: 6, width: 7, height: 8)])
        // A second layer with a mask: the path travels, the server reads the image (AVPS-v2.0-29).
        let scratch = try Scratch()
        let maskPath = scratch.directory + "/top mask.pbm"
        let mask = try AlphaMask(width: 64, height: 48, alpha: (0..<64 * 48).map { $0 % 64 < 32 ? 255 : 0 })
        #expect(FileManager.default.createFile(atPath: maskPath, contents: Data(MaskImage.pbm(mask))))
        let top = LayerPolicy(source: ScanoutSource(vm: "ivi", scanout: 1), destination: GpuRect(x: 8, y: 8, width: 64, height: 48))
        var platform = GpuServeOptions(vms: [VMEndpointOption(name: "ivi", endpoint: .connect("/s/gpu-ivi.sock"))],
                                       scanouts: [.scanout(vm: "ivi", mode: mode)], displays: [.display(name: "main", mode: mode)],
                                       layers: [GpuLayerOption(display: "main", layer: layer), GpuLayerOption(display: "main", layer: top, mask: maskPath)],
                                       stats: "/l/gpu.json", snapshots: "/l", web: (port: 0, urlFile: "/l/web.url"), control: "/s/gpu-control.sock")
        platform.touch = [GpuTouchOption(vm: "ivi", events: "/s/input-ivi.events")]
        let parsed = try GpuServeOptions.parse(platform.arguments)
        #expect(parsed.arguments == platform.arguments && parsed.layer == platform.layer && parsed.stats == "/l/gpu.json")
        #expect(parsed.webPort == 0 && parsed.webURLFile == "/l/web.url" && parsed.control == "/s/gpu-control.sock" && parsed.touch == platform.touch)
        #expect(parsed.layer.map(\.mask) == [nil, maskPath])
        var masked = top
        masked.mask = mask
        #expect(parsed.servedVMs.map(\.name) == ["ivi"] && parsed.servedVMs.first?.modes == [mode])
        #expect(try parsed.displayPolicies.first?.layers == [layer, masked])
        // A mask the server cannot read stops it at validation, naming the layer.
        try FileManager.default.removeItem(atPath: maskPath)
        let unreadable = #expect(throws: (any Error).self) { try GpuServeOptions.parse(platform.arguments) }
        #expect(unreadable.map { GpuServeOptions.message(for: $0) } == "--layer display=main,vm=ivi,scanout=1: mask \(maskPath): cannot read it: No such file or directory")
        #expect(throws: (any Error).self) { try GpuLayerOption(parsing: "display=main,vm=ivi,scanout=0,at=0:0:1:1,mask=") }
        #expect(throws: (any Error).self) { try GpuServeOptions.parse(["--vm", "name=a,connect=/s", "--scanout", "vm=b,mode=640x480,size=1x1"]) }
        #expect(throws: (any Error).self) { try GpuServeOptions.parse(["--vm", "name=a,connect=/s", "--layer", "display=x,vm=a,scanout=0,at=0:0:1:1"]) }
        for bad in ["mode=1920x1080", "size=10x10", "mode=1920x1080,size=0x0", "mode=99999x1080,size=300x200", "mode=1920x1080@1000,size=300x200",
                    "mode=1920*1080,size=300x200", "mode=1920x1080,size=300x200@60"] {
            #expect(throws: (any Error).self, "\(bad)") { try GpuOutputOption(parsing: bad) }
        }
    }
}

/// `avp run --disk PATH,flags,key=value`: the same compound-value parser as --port and --vm.
@Suite struct DiskSpecifications {
    @Test func flagsAndValues() throws {
        let d = try DiskSpecification(parsing: "/images/data.img,ro,direct,serial=DATA,queues=4,cache=writethrough").options
        #expect(d.imagePath == "/images/data.img" && d.readOnly && d.direct && d.serial == "DATA" && d.queueCount == 4 && d.cache == .writethrough)
        let plain = try DiskSpecification(parsing: "plain.img").options
        #expect(plain.imagePath == "plain.img" && !plain.readOnly && plain.queueCount == 1 && plain.cache == .writeback)
    }

    @Test func nonsenseIsRefused() {
        for bad in ["", ",ro", "d.img,rw", "d.img,ro,ro", "d.img,queues=0", "d.img,queues=65", "d.img,cache=none", "d.img,serial", "d.img,ro=1"] {
            #expect(throws: (any Error).self, "\(bad)") { try DiskSpecification(parsing: bad) }
        }
    }
}

/// `avp serve i2c`: targets per VM survive the plan's arguments (more in I2cKindTests).
@Suite struct I2cServeOptionsRoundTrip {
    @Test func i2c() throws {
        let options = I2cServeOptions(vms: [VMEndpointOption(name: "ivi", endpoint: .connect("/run/i2c-ivi.sock"))],
                                      targets: [I2cTargetOption(vm: "ivi", spec: .temperature(I2cAddress(0x48)!, celsius: 21.5))],
                                      control: "/run/i2c-control.sock")
        let back = try I2cServeOptions.parse(options.arguments)
        #expect(back.vm == options.vm && back.target == options.target && back.control == options.control)
    }
}

/// `avp serve gpio`: a block's lines, its VMs' owned and read-only lines, the chip and the control socket.
@Suite struct GpioServeOptionsRoundTrip {
    @Test func gpio() throws {
        let options = GpioServeOptions(lines: [GpioLineOption(name: "door-open", offset: 17), GpioLineOption(name: "ignition")],
                                       vms: [GpioVMOption(name: "ivi", endpoint: .connect("/run/gpio-ivi.sock"), lines: ["door-open"], readOnly: ["ignition"]),
                                             GpioVMOption(name: "cluster", endpoint: .listen("/run/gpio-cluster.sock"), lines: [], readOnly: ["ignition"])],
                                       chip: "/dev/gpiochip0", control: "/run/gpio-control.sock")
        let back = try GpioServeOptions.parse(options.arguments)
        #expect(back.line == options.line && back.vm == options.vm && back.chip == options.chip && back.control == options.control)
        #expect(options.commandLine.prefix(2) == ["serve", "gpio"])
        let standalone = GpioServeOptions(endpoints: ServeEndpoints(socket: ["/tmp/gpio.sock"], connect: []),
                                          lines: [GpioLineOption(name: "a")], readOnly: [GpioLineOption(name: "b")])
        let parsed = try GpioServeOptions.parse(standalone.arguments)
        #expect(parsed.servedVMs == [GpioVMOption(name: "guest", endpoint: .listen("/tmp/gpio.sock"), lines: ["a"], readOnly: ["b"])])
    }

    @Test func gpioRefusesNonsense() {
        for arguments in [["--socket", "/s"], ["--socket", "/s", "--line", "a", "--line", "a"], ["--socket", "/s", "--line", "a=3"],
                          ["--line", "a", "--vm", "name=x,connect=/s,lines=b"],
                          ["--line", "a", "--vm", "name=x,connect=/s,lines=a", "--vm", "name=y,connect=/t,lines=a"],
                          ["--socket", "/s", "--line", "bad name"], ["--socket", "/s", "--line", "a", "--vm", "name=x,connect=/t,lines=a"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try GpioServeOptions.parse(arguments) }
        }
    }
}

/// `avp serve scmi`: signals, sensors, performance, power and reset domains, VMs' views, control socket.
@Suite struct ScmiServeOptionsRoundTrip {
    @Test func scmi() throws {
        let options = ScmiServeOptions(
            signals: "/etc/avp/car.csv", signalMode: .step, constants: [ScmiConstantSignal(name: "cabin", value: 21.5)],
            sensors: [ScmiSensorOption(name: "coolant", unit: .celsius, source: .signal("coolant")),
                      ScmiSensorOption(name: "speed", unit: .metersPerSecond, source: .signal("speed")),
                      ScmiSensorOption(name: "soc", unit: .celsius, source: .file("/sys/class/hwmon/hwmon0/temp1_input"))],
            performance: [ScmiPerformanceOption(name: "cpu", levels: [600_000, 1_200_000], limit: 600_000)],
            power: [ScmiPowerOption(name: "gpu"), ScmiPowerOption(name: "audio", initiallyOn: false)], reset: ["modem"],
            vms: [ScmiVMOption(name: "ivi", endpoint: .connect("/run/scmi-ivi.sock"), sensors: ["coolant", "speed"], performance: ["cpu"],
                               power: ["gpu", "audio"], reset: ["modem"]),
                  ScmiVMOption(name: "cluster", endpoint: .listen("/run/scmi-cluster.sock"), sensors: ["speed"])],
            control: "/run/scmi-control.sock")
        let back = try ScmiServeOptions.parse(options.arguments)
        #expect(back.arguments == options.arguments)
        #expect(back.vm == options.vm && back.sensor == options.sensor && back.performanceDomain == options.performanceDomain)
        #expect(back.powerDomain == options.powerDomain && back.signal == options.signal && back.signalMode == .step)
        #expect(options.commandLine.prefix(2) == ["serve", "scmi"])
        let standalone = ScmiServeOptions(endpoints: ServeEndpoints(socket: ["/tmp/scmi.sock"], connect: []), constants: [ScmiConstantSignal(name: "t", value: 30)],
                                          sensors: [ScmiSensorOption(name: "t", unit: .celsius, source: .signal("t"))], reset: ["r"])
        let parsed = try ScmiServeOptions.parse(standalone.arguments)
        #expect(parsed.servedVMs == [ScmiVMOption(name: "guest", endpoint: .listen("/tmp/scmi.sock"), sensors: ["t"], reset: ["r"])])
    }

    @Test func scmiRefusesNonsense() {
        for arguments in [["--socket", "/s"], ["--socket", "/s", "--sensor", "name=t,unit=kelvin,signal=t", "--signal", "t=1"],
                          ["--socket", "/s", "--sensor", "name=t,unit=celsius,signal=t"],
                          ["--socket", "/s", "--performance-domain", "name=cpu,levels=3+2"],
                          ["--socket", "/s", "--power-domain", "a,on"], ["--socket", "/s", "--reset-domain", "has space"],
                          ["--reset-domain", "r", "--vm", "name=x,connect=/s,reset=q"],
                          ["--socket", "/s", "--reset-domain", "r", "--vm", "name=x,connect=/t,reset=r"],
                          ["--socket", "/s", "--signal", "t=nan", "--sensor", "name=t,unit=celsius,signal=t"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try ScmiServeOptions.parse(arguments) }
        }
    }
}

/// `avp serve crypto`: endpoints and the per-VM session limit.
@Suite struct CryptoServeOptionsRoundTrip {
    @Test("AVPS-v2.0-45: crypto server options survive the trip through arguments; limits outside 1-4096 are refused")
    func roundTrip() throws {
        let options = CryptoServeOptions(endpoints: ServeEndpoints(socket: [], connect: ["/run/a.sock", "/run/b.sock"]), maxSessions: 6)
        let back = try CryptoServeOptions.parse(options.arguments)
        #expect(back.endpoints.connect == ["/run/a.sock", "/run/b.sock"] && back.maxSessions == 6)
        #expect(try CryptoServeOptions.parse(["--socket", "/tmp/c.sock"]).maxSessions == CryptoServeOptions.defaultMaxSessions)
        for bad in ["0", "4097", "-1"] {
            #expect(throws: (any Error).self, "\(bad)") { try CryptoServeOptions.parse(["--socket", "/tmp/c.sock", "--max-sessions", bad]) }
        }
    }
}
