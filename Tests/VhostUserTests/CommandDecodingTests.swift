import GuestMemory
import SystemCalls
import Testing
import VhostUser

private func message(_ command: VhostUserCommand) -> VhostUserMessage {
    let (request, payload, fds) = command.encode()
    return VhostUserMessage(request: request.rawValue, payload: payload, descriptors: fds)
}

private func raw(_ request: VhostUserRequest, _ payload: [UInt8], fds: Int = 0) throws -> VhostUserMessage {
    VhostUserMessage(request: request.rawValue, payload: payload, descriptors: try (0..<fds).map { _ in try EventFD().descriptor })
}

private func u64(_ v: UInt64) -> [UInt8] { var w = ByteWriter(); w.write(v); return w.bytes }

@Suite struct CommandDecoding {
    @Test func encodedCommandsDecodeToThemselves() throws {
        let fd = try EventFD().descriptor
        let region = MemoryRegionDescriptor(guestAddress: GuestAddress(0x1000), size: 0x2000,
                                            frontendAddress: FrontendAddress(0x7f00_0000), mmapOffset: 0x40)
        let address = VringAddress(index: 1, flags: 0, descriptorTable: FrontendAddress(0x10), usedRing: FrontendAddress(0x20),
                                   availableRing: FrontendAddress(0x30), log: 0)
        let decoded = try [
            VhostUserCommand.setFeatures(0x1_3000_0000), .setMemTable([region, region], [fd, fd]),
            .setVringAddr(address), .setVringKick(index: 3, fd), .setVringCall(index: 2, nil),
            .setConfig(offset: 4, flags: 0, bytes: [1, 2, 3]), .getConfig(offset: 0, size: 8, flags: 0),
            .addMemReg(region, fd), .remMemReg(region), .setVringEnable(index: 0, enabled: true),
        ].map { try VhostUserCommand.decode(message($0)) }
        guard case let .setFeatures(f) = decoded[0], f == 0x1_3000_0000 else { Issue.record("setFeatures"); return }
        guard case let .setMemTable(regions, fds) = decoded[1], regions == [region, region], fds.count == 2 else { Issue.record("memtable"); return }
        guard case let .setVringAddr(a) = decoded[2], a == address else { Issue.record("addr"); return }
        guard case let .setVringKick(3, kick) = decoded[3], kick != nil else { Issue.record("kick"); return }
        guard case .setVringCall(2, nil) = decoded[4] else { Issue.record("call"); return }
        guard case let .setConfig(4, 0, bytes) = decoded[5], bytes == [1, 2, 3] else { Issue.record("setConfig"); return }
        guard case .getConfig(0, 8, 0) = decoded[6] else { Issue.record("getConfig"); return }
        guard case let .addMemReg(r, _) = decoded[7], r == region else { Issue.record("add"); return }
        guard case let .remMemReg(r2) = decoded[8], r2 == region else { Issue.record("rem"); return }
        guard case .setVringEnable(0, true) = decoded[9] else { Issue.record("enable"); return }
    }

    @Test func headerWithWrongVersionOrOversizedPayloadIsRejected() throws {
        var w = ByteWriter()
        w.write(UInt32(1)); w.write(UInt32(0x2)); w.write(UInt32(0))
        #expect(throws: VhostUserError.badVersion(2)) { try VhostUserHeader(bytes: w.bytes) }
        w = ByteWriter()
        w.write(UInt32(1)); w.write(UInt32(0x1)); w.write(UInt32(1 << 20))
        #expect(throws: VhostUserError.payloadTooLarge(1 << 20)) { try VhostUserHeader(bytes: w.bytes) }
        #expect(throws: VhostUserError.self) { try VhostUserHeader(bytes: [1, 2, 3]) }
    }

    @Test func unknownRequestIsAnError() throws {
        #expect(throws: VhostUserError.unknownRequest(999)) { try VhostUserCommand.decode(VhostUserMessage(request: 999)) }
    }

    @Test func payloadSizesAreChecked() throws {
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setFeatures, [1, 2, 3])) }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringNum, u64(0) + [0])) }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringAddr, [UInt8](repeating: 0, count: 39))) }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.getConfig, [0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0])) }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringEnable, [0, 0, 0, 0, 2, 0, 0, 0])) }
    }

    @Test func memoryTableMustMatchItsDescriptorsAndLimit() throws {
        var w = ByteWriter()
        w.write(UInt32(2)); w.write(UInt32(0)); w.write(bytes: [UInt8](repeating: 0, count: 64))
        #expect(throws: VhostUserError.wrongDescriptorCount(request: "setMemTable", expected: 2, got: 1)) {
            try VhostUserCommand.decode(try raw(.setMemTable, w.bytes, fds: 1))
        }
        w = ByteWriter()
        w.write(UInt32(1000)); w.write(UInt32(0))
        #expect(throws: VhostUserError.tooManyRegions(1000)) { try VhostUserCommand.decode(try raw(.setMemTable, w.bytes)) }
        w = ByteWriter()
        w.write(UInt32(2)); w.write(UInt32(0)); w.write(bytes: [UInt8](repeating: 0, count: 32))
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setMemTable, w.bytes, fds: 2)) }
    }

    @Test func vringDescriptorMessagesCheckFlagsAndDescriptors() throws {
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringKick, u64(0x200))) } // reserved bit
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringKick, u64(0))) }     // fd missing
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringCall, u64(0x100), fds: 1)) } // NOFD + fd
        guard case .setVringErr(5, nil) = try VhostUserCommand.decode(try raw(.setVringErr, u64(0x105))) else {
            Issue.record("NOFD with index 5"); return
        }
    }

    @Test func unexpectedDescriptorsAreRefused() throws {
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.getFeatures, [], fds: 1)) }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(try raw(.setVringNum, u64(0), fds: 1)) }
    }
}
