# AVP — the two commands a new user needs are `make demo` and `make test` (see README.md).
.PHONY: demo test setup unit-and-guest-tests compat-tests fuzz-smoke bench

# Host packages (QEMU 10.0 from bookworm-backports) and the cached guest images: the default
# one (Debian 6.1), the backports one (Debian 6.12, virtio-gpu), which the demo's VMs boot, and
# AVP's own kernel's (virtio-gpio, virtio-i2c; its first build compiles the kernel, ~10 min),
# the arm64 one (AVP's arm64 kernel: SCMI over virtio, PSCI, KASLR, the EFI stub; its first
# build cross-compiles the kernel, ~6 min) and Debian's arm64 kernel's (a stock kernel on -M virt).
setup:
	scripts/host-setup
	scripts/guest-image --print-dir >/dev/null
	scripts/guest-image --flavour backports --print-dir >/dev/null
	scripts/guest-image --flavour own --print-dir >/dev/null
	scripts/guest-image --flavour arm64 --print-dir >/dev/null
	scripts/guest-image --flavour debian-arm64 --print-dir >/dev/null

# The two-VM development platform of examples/two-vms.yaml, supervised until Ctrl-C: both VMs
# on one composed display, live in the web view whose address it prints; attach to a VM's
# console from another terminal: .build/debug/avp console examples/two-vms.yaml ivi
demo: setup
	swift build
	.build/debug/avp up examples/two-vms.yaml

# Everything CI runs: unit tests, real-guest tests (QEMU 10.0), the entropy, block and
# crypto real-guest tests again under QEMU 7.2, and a short fuzzing smoke run.
test: setup unit-and-guest-tests compat-tests fuzz-smoke

unit-and-guest-tests:
	swift build --build-tests
	swift test --skip-build

compat-tests:
	AVP_QEMU="$$(scripts/qemu-7.2)" swift test --skip-build --filter 'GuestTests.(EntropyInRealGuest|BlockInRealGuest|CryptoInRealGuest)'

fuzz-smoke:
	fuzz/run all 30

# Every device next to its peer, one table (about 25 minutes), then guest kernel boot times; not part of CI.
bench:
	bench/all
	bench/boot
