// libFuzzer target: whole vhost-user sessions against every device kind AVP serves (issue 16
// item 2). The first input byte chooses the device (entropy, block, net, vsock, console, gpu,
// sound, gpio, i2c, scmi, input, crypto, fs); the rest is a sequence of steps, each an opcode
// byte and the fields it needs, run by a front end that holds real resources (memfd RAM,
// eventfds, a socket pair) against the device's back end (SequenceFrontEnd):
//   0 negotiate (protocol and virtio feature masks)   1 SET_MEM_TABLE (the RAM, or a variant)
//   2 ADD/REM_MEM_REG                                 3 a whole ring set-up (NUM/BASE/ADDR/CALL/KICK/ENABLE)
//   4 one ring message (any of them, fields perturbed) 5 a chain placed in RAM, published and kicked
//   6 GET_VRING_BASE (stop a ring)                     7 resets (RESET_DEVICE/OWNER, SET_STATUS)
//   8 disconnect and reconnect a new front end         9 GET/SET_CONFIG, crypto sessions, GPU socket
//   10 any request with any payload and descriptors    11 wait for the device's I/O completions
//   12 the RAM shrunk under the mapping (SIGBUS)       13 a lying available index, kicked
//   14 bytes written anywhere in guest RAM             15 VRING_KICK in band
// Every input ends with the front end leaving. Seeds: fuzz/seeds/sequence (make-sequence-seeds).
// Build and run: fuzz/run sequence
import Glibc
import GuestMemory
import Logging
import SystemCalls
import VhostUser
import Virtio

nonisolated(unsafe) private var backends: [SequenceKind: VhostUserBackend] = [:]
private let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var input = FuzzBytes(data: data, count: size)
    let kind = SequenceKind.choose(input.u8())
    let device = SequenceDevices.device(kind)
    let backend = backends[kind] ?? VhostUserBackend(device: device, logger: logger)
    backends[kind] = backend
    guard let front = try? SequenceFrontEnd(backend: backend) else { return 0 }
    var steps = 0
    while !input.isEmpty, steps < 256 {
        steps += 1
        step(input.u8(), &input, front)
    }
    front.finish()
    return 0
}

private func step(_ opcode: UInt8, _ input: inout FuzzBytes, _ front: SequenceFrontEnd) {
    switch opcode & 15 {
    case 0:
        let protocolMask = input.u8()
        let featureMask = input.u8() & 1 != 0 ? UInt64.max : input.u64()
        front.negotiate(protocolMask: protocolMask, featureMask: featureMask)
    case 1:
        memoryTable(input.u8(), &input, front)
    case 2:
        let r = front.ramDescriptor
        if input.u8() & 1 == 0 {
            front.send(.remMemReg(r))
        } else {
            front.send(.addMemReg(MemoryRegionDescriptor(guestAddress: r.guestAddress, size: r.size,
                                                         frontendAddress: r.frontendAddress, mmapOffset: 0), front.ram.file))
        }
    case 3:
        let q = front.queue(input.u8())
        let b = input.u8()
        front.startRing(q, size: UInt16(1) << (b % 9), base: b & 0x80 != 0 ? input.u16() : 0)
    case 4:
        ringMessage(input.u8(), &input, front)
    case 5:
        placeChain(&input, front)
    case 6:
        front.send(.getVringBase(index: UInt32(front.queue(input.u8()))), ack: false)
    case 7:
        switch input.u8() % 4 {
        case 0: front.send(.resetDevice)
        case 1: front.send(.resetOwner)
        case 2: front.send(.setStatus(0))
        default: front.send(.setStatus(input.u8()))
        }
    case 8:
        front.reconnect()
    case 9:
        deviceMessage(input.u8(), &input, front)
    case 10:
        let request = UInt32(input.u8() % 48)
        let flags = input.u8()
        let payload = input.bytes(Int(input.u8()))
        var fds: [FileDescriptor] = []
        for _ in 0..<Int(flags >> 6) { if let e = try? EventFD() { fds.append(e.descriptor) } }
        if flags & 0x20 != 0, let m = try? front.ram.file.duplicate() { fds.append(m) }
        front.deliver(VhostUserMessage(request: request, flags: flags & 1 != 0 ? .needReply : [], payload: payload, descriptors: fds))
    case 11:
        front.awaitDevice(milliseconds: Int32(input.u8() % 4))
    case 12:
        // Rare on purpose: the guard turns the SIGBUS into a fault the back end reports.
        if input.u8() == 0xA5 {
            try? front.ram.file.truncate(to: 0)
            front.kick(front.queue(input.u8()))
            front.afterEvent()
        }
    case 13:
        let q = front.queue(input.u8())
        front.forceAvailableIndex(q, input.u16())
        front.kick(q)
    case 14:
        let offset = Int(input.u16()) * 4
        front.writeRAM(input.bytes(Int(input.u8() % 64)), at: offset)
    default:
        front.send(.vringKick(index: UInt32(front.queue(input.u8()))), ack: false)
    }
}

/// SET_MEM_TABLE: the RAM as it is (mostly), or with a field made wrong.
private func memoryTable(_ variant: UInt8, _ input: inout FuzzBytes, _ front: SequenceFrontEnd) {
    let r = front.ramDescriptor
    var d = r
    switch variant % 8 {
    case 0, 1, 2, 3: break
    case 4: d = MemoryRegionDescriptor(guestAddress: r.guestAddress, size: UInt64(input.u32()), frontendAddress: r.frontendAddress, mmapOffset: 0)
    case 5: d = MemoryRegionDescriptor(guestAddress: r.guestAddress, size: r.size, frontendAddress: r.frontendAddress, mmapOffset: input.u64())
    case 6: d = MemoryRegionDescriptor(guestAddress: GuestAddress(input.u64()), size: r.size, frontendAddress: FrontendAddress(input.u64()), mmapOffset: 0)
    default:
        front.send(.setMemTable([], []))
        return
    }
    if variant & 0x80 != 0 {
        // Two regions on the one memfd, the second's place chosen by the input (overlaps included).
        let second = MemoryRegionDescriptor(guestAddress: GuestAddress(input.u64() & 0xffff_ffff), size: 0x10000,
                                            frontendAddress: FrontendAddress(input.u64() & 0xffff_ffff_ffff), mmapOffset: UInt64(input.u8()) << 12)
        front.send(.setMemTable([d, second], [front.ram.file, front.ram.file]))
    } else {
        front.send(.setMemTable([d], [front.ram.file]))
    }
}

/// One of the ring messages on its own, fields from the input.
private func ringMessage(_ variant: UInt8, _ input: inout FuzzBytes, _ front: SequenceFrontEnd) {
    let q = front.queue(input.u8())
    let i = UInt32(q)
    switch variant % 9 {
    case 0:
        let size = variant & 0x80 != 0 ? UInt32(input.u16()) : UInt32(1) << (input.u8() % 11)
        front.setRingSize(q, UInt16(truncatingIfNeeded: size))
        front.send(.setVringNum(index: i, size: size))
    case 1:
        let base = variant & 0x80 != 0 ? input.u32() : UInt32(input.u16())
        front.setAvailableIndex(q, UInt16(truncatingIfNeeded: base))
        front.send(.setVringBase(index: i, base: base))
    case 2:
        var a = front.ringAddress(q)
        if variant & 0x80 != 0 {
            // A ring part moved anywhere (across the RAM's end, into no region at all).
            let moved = FrontendAddress(a.descriptorTable.raw &+ UInt64(input.u32()))
            switch input.u8() % 3 {
            case 0: a = VringAddress(index: i, descriptorTable: moved, usedRing: a.usedRing, availableRing: a.availableRing)
            case 1: a = VringAddress(index: i, descriptorTable: a.descriptorTable, usedRing: moved, availableRing: a.availableRing)
            default: a = VringAddress(index: i, descriptorTable: a.descriptorTable, usedRing: a.usedRing, availableRing: moved)
            }
        }
        front.send(.setVringAddr(a))
    case 3:
        front.send(.setVringKick(index: i, variant & 0x80 != 0 ? nil : front.kickDescriptor(q)))
    case 4:
        front.send(.setVringCall(index: i, variant & 0x80 != 0 ? nil : front.callDescriptor(q)))
    case 5:
        front.send(.setVringErr(index: i, variant & 0x80 != 0 ? nil : (try? EventFD())?.descriptor))
    case 6:
        front.send(.setVringEnable(index: i, enabled: variant & 0x80 == 0))
    case 7:
        front.kick(q)
    default:
        front.send(.setVringNum(index: i, size: UInt32(front.sizes[q % SequenceFrontEnd.ringCount])))
    }
}

/// A chain of 1-8 descriptors in ring `q`'s table, buffers in the data area (or anywhere), published and kicked.
private func placeChain(_ input: inout FuzzBytes, _ front: SequenceFrontEnd) {
    let q = front.queue(input.u8())
    let shape = input.u8()
    let count = Int(shape & 7) + 1
    let size = max(1, front.sizes[q % SequenceFrontEnd.ringCount])
    let head = UInt16(input.u8()) % size
    for n in 0..<count {
        let index = (head &+ UInt16(n)) % size
        let fieldByte = input.u8()
        let address: UInt64 = fieldByte & 0x80 != 0
            ? input.u64()
            : SequenceFrontEnd.ramBase + UInt64(SequenceFrontEnd.dataStart) + UInt64(input.u16()) * 2
        let length = fieldByte & 0x40 != 0 ? input.u32() : UInt32(input.u16() % 4096)
        var flags: UInt16 = fieldByte & 1 != 0 ? 2 : 0            // WRITE
        if n + 1 < count { flags |= 1 }                           // NEXT
        if fieldByte & 0x20 != 0 { flags = UInt16(input.u8()) & 7 } // any flags (INDIRECT included)
        let next = fieldByte & 0x10 != 0 ? UInt16(input.u8()) : (index + 1) % size
        front.writeDescriptor(q, index, address: address, length: length, flags: flags, next: next)
    }
    // The readable part of the first buffer: a request header from the input.
    if shape & 8 != 0 {
        let offset = SequenceFrontEnd.dataStart + Int(input.u16()) * 2
        front.writeRAM(input.bytes(Int(input.u8() % 96)), at: offset)
    }
    front.publish(q, head: head)
    if shape & 0x10 == 0 { front.kick(q) }
}

/// The requests of particular devices: configuration space, crypto sessions, the GPU's display socket.
private func deviceMessage(_ variant: UInt8, _ input: inout FuzzBytes, _ front: SequenceFrontEnd) {
    switch variant % 5 {
    case 0:
        front.send(.getConfig(offset: UInt32(input.u8()), size: UInt32(input.u8()), flags: 0), ack: false)
    case 1:
        let offset = UInt32(input.u8())
        front.send(.setConfig(offset: offset, flags: 0, bytes: input.bytes(Int(input.u8() % 16))))
    case 2:
        front.send(.createCryptoSession(input.bytes(Int(input.u8()))), ack: false)
    case 3:
        front.send(.closeCryptoSession(UInt64(input.u8())))
    default:
        guard let (near, far) = try? UnixSocket.pair() else { return }
        front.hold(near)
        front.send(.gpuSetSocket(far.descriptor))
    }
}
