import Foundation
import Platform
import SystemCalls
import Testing

/// SCMI over virtio in real arm64 guests (qemu-system-aarch64 -M virt, TCG here) through `avp up`:
/// Linux 6.12's SCMI virtio transport binds the vhost-user-scmi device through AVP's
/// `/firmware/scmi` node; scmi-hwmon shows the simulated vehicle's signals, scmi-iio its
/// accelerometer (buffered through SENSOR_UPDATE notifications), scmi-cpufreq drives the shared
/// performance domain, the power domains appear as generic power domains.
@Suite(.serialized) struct ScmiGuests {
    static let image = GuestImage.cached(.arm64)

    /// Both VMs list their hwmon sensors; ecu then drives cpufreq, lists its power domains and
    /// polls its coolant sensor until the host's value arrives.
    static let script = #"""
        name=$(sed 's/.*avp\.name=\([^ ]*\).*/\1/' /proc/cmdline)
        echo "SCMI-BIND-$name=$(basename $(readlink /sys/bus/virtio/devices/virtio0/driver))"
        echo "SENSORS-$name=$(cat /sys/class/hwmon/hwmon*/*_label | sort | tr '\n' ' ')"
        for f in /sys/class/hwmon/hwmon*/*_label; do echo "SENSOR-$name-$(cat $f)=$(cat ${f%_label}_input)"; done
        if [ "$name" = ecu ]; then
          p=/sys/devices/system/cpu/cpufreq/policy0
          echo "FREQS=$(cat $p/scaling_available_frequencies)"
          echo userspace > $p/scaling_governor
          echo 1800000 > $p/scaling_setspeed
          echo "CPUINFO-CUR-FREQ=$(cat $p/cpuinfo_cur_freq)"
          sleep 1
          echo "SCALING-CUR-FREQ=$(cat $p/scaling_cur_freq)"
          d=$(ls -d /sys/bus/iio/devices/iio:device* | head -1)
          echo "IIO-NAME=$(cat $d/name)"
          echo "IIO-RAW=$(cat $d/in_accel_x_raw) $(cat $d/in_accel_y_raw) $(cat $d/in_accel_z_raw)"
          echo 20 > $d/in_accel_sampling_frequency
          for c in x y z; do echo 1 > $d/scan_elements/in_accel_${c}_en; done
          echo 1 > $d/scan_elements/in_timestamp_en
          echo 1 > $d/buffer/enable
          head -c 128 /dev/iio:device0 | hexdump -v -e '"IIO-SCAN=" 8/4 "%d " "\n"'
          echo 0 > $d/buffer/enable
          mount -t debugfs none /sys/kernel/debug
          echo "GENPD=$(grep -E '^(gpu|audio) ' /sys/kernel/debug/pm_genpd/pm_genpd_summary | cut -d' ' -f1 | sort | tr '\n' ' ')"
          label=$(grep -l '^coolant$' /sys/class/hwmon/hwmon*/*_label)
          input=${label%_label}_input
          echo SCMI-READY
          i=0
          while [ $i -lt 1200 ]; do
            v=$(cat $input)
            [ "$v" = 104500 ] && break
            sleep 0.05
            i=$((i + 1))
          done
          echo "SCMI-SEEN=$v"
        fi
        echo SCMI-DONE
        sleep 1
        """#

    static let platform = """
        profile: development
        vms:
          - name: ecu
            arch: aarch64
            memory: 384M
            initrd: test.initrd
            restart: on-failure
            devices:
              - {type: entropy}
              - type: scmi
                signals: car.csv
                sensors: [coolant:celsius, battery:volts, speed:m/s, accel:m/s2]
                performance-domains: ["cpu:600000+1200000+1800000:limit=1200000"]
                cpu-performance-domain: cpu
                power-domains: [gpu, "audio:off"]
                reset-domains: [modem]
          - name: cluster
            arch: aarch64
            memory: 384M
            initrd: test.initrd
            restart: on-failure
            devices:
              - {type: entropy}
              - {type: scmi, signals: car.csv, sensors: [cabin:celsius], power-domains: [gpu]}
        """

    static let csv = "time_s,speed,coolant,cabin,battery,accel_x,accel_y,accel_z\n0,0,80,21,13.8,1.5,-0.25,9.81\n600,30,95,23,14.2,1.5,-0.25,9.81\n"

    @Test("AVPS-v2.0-39, AVPS-v2.0-36: the guests' scmi-hwmon shows the host's simulated signals, a host change arrives within one update period, each VM sees only its sensors, scmi-iio's buffer fills from continuous update notifications; scmi-cpufreq's request reaches the server and is capped by the host limit; the power domains are genpd domains",
          .runningTimeLimit(minutes: 10))
    func scmiSensorsPerformancePower() throws {
        try Self.image.ensureBuilt()
        _ = try QemuProcess.resolve("qemu-system-aarch64")
        let dir = try GuestHarness.workDirectory("scmi")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.csv.write(toFile: dir + "/car.csv", atomically: true, encoding: .utf8)
        try Self.image.initrd(withScript: Self.script, at: dir + "/test.initrd")
        let platform = try RunningPlatform(name: "car", yaml: Self.platform, directory: dir)
        defer { platform.stop() }
        func serial(_ vm: String) -> String { platform.serialLog(vm) }
        func value(_ vm: String, _ key: String) -> String? {
            serial(vm).split(separator: "\n").last { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespaces) }
        }

        let ready = platform.wait(GuestHarness.guestTimeout * 2) { serial("ecu").contains("SCMI-READY") && serial("cluster").contains("SCMI-DONE") }
        #expect(ready, "ecu:\n\(serial("ecu").suffix(3000))\ncluster:\n\(serial("cluster").suffix(2000))\n\(platform.upLog.suffix(2000))")
        try #require(ready)
        // The host changes the coolant signal; the guest, polling hwmon, sees it within one update period (1 s).
        let start = MonotonicClock.nanoseconds()
        let (rc, out) = try platform.avp(["scmi", "set", platform.file, "coolant", "104.5"])
        #expect(rc == 0, "\(out)")
        var seen = false
        while !seen, MonotonicClock.nanoseconds() - start < 30_000_000_000 {
            seen = serial("ecu").contains("SCMI-SEEN=104500")
            if !seen { usleep(10_000) }
        }
        let latency = Double(MonotonicClock.nanoseconds() - start) / 1e9
        print("scmi: host change seen by the guest after \(String(format: "%.3f", latency)) s (console polling included)")
        #expect(seen && latency < 1.0, "seen=\(seen) after \(latency) s")
        let (_, status) = try platform.avp(["scmi", "status", platform.file])
        print(status)

        #expect(value("ecu", "SCMI-BIND-ecu") == "scmi-virtio" && value("cluster", "SCMI-BIND-cluster") == "scmi-virtio")
        #expect(value("ecu", "SENSORS-ecu") == "battery coolant", "hwmon: temperatures and voltages; speed (m/s) is not a hwmon type")
        #expect(value("cluster", "SENSORS-cluster") == "cabin", "cluster sees only its sensor")
        let coolant = Int(value("ecu", "SENSOR-ecu-coolant") ?? "") ?? 0
        #expect((80_000...81_000).contains(coolant), "coolant near the trace's 80 °C at its start: \(coolant)")
        let battery = Int(value("ecu", "SENSOR-ecu-battery") ?? "") ?? 0
        #expect((13_800...13_900).contains(battery), "battery in mV: \(battery)")
        #expect((21_000...21_100).contains(Int(value("cluster", "SENSOR-cluster-cabin") ?? "") ?? 0))
        #expect(value("ecu", "FREQS") == "600000 1200000 1800000")
        #expect(value("ecu", "CPUINFO-CUR-FREQ") == "1200000", "the host limit caps the guest's 1.8 GHz request")
        // scaling_cur_freq is the governor's last target (Linux 6.12's scmi-cpufreq does not re-read it).
        #expect(value("ecu", "SCALING-CUR-FREQ") == "1800000")
        #expect(status.contains("performance cpu level 1200000 limit 1200000 requests [ecu=1800000]"), "\(status)")
        #expect(value("ecu", "GENPD") == "audio gpu")
        // scmi-iio: the three-axis accelerometer, read directly and through its buffer, which
        // SENSOR_UPDATE notifications on the eventq fill at the 20 Hz the guest set (50 ms apart).
        #expect(value("ecu", "IIO-NAME") == "accel")
        #expect(value("ecu", "IIO-RAW") == "1500 -250 9810")
        let scans = serial("ecu").split(separator: "\n").filter { $0.hasPrefix("IIO-SCAN=") }
            .map { $0.dropFirst(9).split(separator: " ").compactMap { Int64($0) } }
        #expect(scans.count == 4 && scans.allSatisfy { $0.count == 8 && $0[0] == 1500 && $0[2] == -250 && $0[4] == 9810 }, "\(scans)")
        let stamps = scans.filter { $0.count == 8 }.map { Int64(UInt32(truncatingIfNeeded: $0[6])) | $0[7] << 32 }
        let gaps = zip(stamps, stamps.dropFirst()).map { Double($1 - $0) / 1e6 }
        print("scmi: IIO buffer scans \(gaps.map { String(format: "%.1f", $0) }.joined(separator: ", ")) ms apart")
        // The rate, not a deadline: under TCG on a loaded host a notification may come late and the
        // next one early (a run here saw 11, 43 and 51 ms), but the median gap stays near 50 ms
        // (1 Hz, the default, or the 100 Hz maximum would be far off), and the timestamps only increase.
        let median = gaps.isEmpty ? 0 : gaps.sorted()[gaps.count / 2]
        #expect(gaps.count == 3 && gaps.allSatisfy { $0 > 0 } && (30...120).contains(median), "\(gaps)")
        #expect(status.contains("sensor coolant 104.5 celsius"))
        #expect(platform.wait(60) { !platform.process.isRunning }, "avp up still running after both guests powered off")
    }
}
