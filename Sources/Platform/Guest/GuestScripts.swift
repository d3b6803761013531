/// Guest-side scripts (busybox sh) that AVP's own commands run in the default guest.
public enum GuestScripts {
    /// `avp run`'s default: show that the guest's hardware RNG is AVP's vhost-user
    /// entropy device ({AVPS-v2.0-40}, {AVPS-v2.0-41}) and read from it.
    public static let entropyDemo = """
        rng=/sys/class/misc/hw_random
        echo
        echo "== AVP demo: the guest's entropy source is AVP's vhost-user virtio-rng server =="
        echo "virtio devices:"
        for d in /sys/bus/virtio/devices/*; do
          echo "  ${d##*/}: device id $(cat $d/device), driver $(basename $(readlink $d/driver) 2>/dev/null)"
        done
        echo "hw_random available: $(cat $rng/rng_available)"
        echo "hw_random current:   $(cat $rng/rng_current)"
        case "$(cat $rng/rng_current)" in virtio_rng.*) ;; *) echo "no virtio-rng device"; exit 1 ;; esac
        start=$(cut -d' ' -f1 /proc/uptime)
        dd if=/dev/hwrng of=/tmp/random bs=4096 count=64 2>/dev/null
        end=$(cut -d' ' -f1 /proc/uptime)
        echo "read 256 KiB from /dev/hwrng in $(awk "BEGIN{print $end-$start}") s (guest clock, TCG is slow)"
        echo "first bytes:"
        hexdump -C /tmp/random | head -n 4
        echo "distinct 4 KiB blocks: $(for i in $(seq 0 63); do dd if=/tmp/random bs=4096 skip=$i count=1 2>/dev/null | md5sum; done | sort -u | wc -l) of 64"
        """
}
