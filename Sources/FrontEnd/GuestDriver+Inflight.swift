import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// INFLIGHT_SHMFD from the front end's side, the way QEMU's vhost-user-blk drives it: one
/// GET_INFLIGHT_FD, a SET_INFLIGHT_FD before every start of the rings, and a reconnect that
/// hands the kept area to the new back end with each ring's base set to its used index
/// (QEMU's `vhost_virtqueue_stop` falls back to the used index when GET_VRING_BASE fails).
extension GuestDriver {
    /// GET_INFLIGHT_FD for `queueCount` queues of `queueSize`, then SET_INFLIGHT_FD with the area.
    /// Returns false (and keeps no area) if the back end answered with none.
    @discardableResult
    public func setUpInflight(queueCount: Int, queueSize: UInt16) throws -> Bool {
        let (description, file) = try frontend.getInflightFD(queueCount: UInt16(queueCount), queueSize: queueSize)
        guard description.mmapSize > 0, let file else { return false }
        let area = try InflightMemory(description: description, file: file)
        try frontend.sendAcked(.setInflightFD(area.description, area.file))
        inflight = area
        return true
    }

    /// Connects to the back end at `socketPath` (a new one, after the old one died) and resumes
    /// every queue where the guest's rings stand: negotiation, the kept inflight area, the same
    /// memory, and for each ring SET_VRING_NUM/BASE (its used index)/ADDR/CALL/KICK/ENABLE.
    public func reconnect(to socketPath: String) throws {
        frontend = try VhostUserFrontend.connect(to: socketPath)
        try negotiate(features: features, inflight: inflight != nil)
        if let inflight { try frontend.sendAcked(.setInflightFD(inflight.description, inflight.file)) }
        try shareMemory()
        for queue in queues {
            let i = UInt32(queue.index)
            let ring = queue.ring
            try frontend.sendAcked(.setVringNum(index: i, size: UInt32(ring.size)))
            try frontend.sendAcked(.setVringBase(index: i, base: UInt32(try ring.deviceUsedIndex())))
            try frontend.sendAcked(.setVringAddr(VringAddress(
                index: i, descriptorTable: frontendAddress(ring.addresses.descriptorTable),
                usedRing: frontendAddress(ring.addresses.usedRing), availableRing: frontendAddress(ring.addresses.availableRing))))
            try frontend.sendAcked(.setVringCall(index: i, queue.callEvent.descriptor))
            try frontend.sendAcked(.setVringKick(index: i, queue.kickEvent.descriptor))
            if features & vhostUserProtocolFeaturesBit != 0 {
                try frontend.sendAcked(.setVringEnable(index: i, enabled: true))
            }
        }
    }
}
