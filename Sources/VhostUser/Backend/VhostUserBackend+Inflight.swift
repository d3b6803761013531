import SystemCalls
import Virtio

/// VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD (vhost-user.rst, "Inflight I/O tracking"), for devices
/// that opt in (`InflightTrackingDevice`). QEMU asks for an area once (GET_INFLIGHT_FD, after
/// SET_FEATURES), keeps it, and hands it back with SET_INFLIGHT_FD before every start of the
/// rings, including after it reconnects to a back end that was killed. When the old back end
/// died with requests in flight, QEMU's GET_VRING_BASE failed and it sends SET_VRING_BASE with
/// the used index; each queue then finds its unfinished heads in the area and resubmits them
/// before reading new ones (`SplitQueue.attachInflight`).
extension VhostUserBackend {
    /// GET_INFLIGHT_FD: a fresh area and its descriptor, or — refused — a description of size 0
    /// and no descriptor, which QEMU takes as "no inflight tracking" rather than as an error.
    func inflightAreaForFrontEnd(_ wanted: InflightDescription) -> (InflightDescription, FileDescriptor?) {
        let none = InflightDescription(queueCount: wanted.queueCount, queueSize: wanted.queueSize)
        guard protocolFeatures.contains(.inflightSharedMemory) else {
            logger.warning("GET_INFLIGHT_FD without VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD negotiated: answered with no area")
            return (none, nil)
        }
        do {
            let (description, file) = try InflightArea.create(wanted, maxQueues: device.queueCount,
                                                               maxQueueSize: Int(device.maxQueueSize))
            logger.info("GET_INFLIGHT_FD: inflight area of \(description.mmapSize) bytes for \(description.queueCount) queues of \(description.queueSize)")
            return (description, file)
        } catch {
            logger.warning("GET_INFLIGHT_FD refused (answered with no area): \(error)")
            return (none, nil)
        }
    }

    /// SET_INFLIGHT_FD: maps the area the front end kept. Refused while a ring runs: a started
    /// queue tracks in the area it started with.
    func setInflightArea(_ description: InflightDescription, _ file: FileDescriptor) throws(VhostUserError) {
        guard protocolFeatures.contains(.inflightSharedMemory) else {
            throw .refused("SET_INFLIGHT_FD without VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD negotiated")
        }
        if let started = vrings.first(where: \.isStarted) {
            throw .refused("SET_INFLIGHT_FD while queue \(started.index) runs")
        }
        inflightArea = try InflightArea(description, file: file, maxQueues: device.queueCount,
                                        maxQueueSize: Int(device.maxQueueSize))
        logger.info("SET_INFLIGHT_FD: tracking requests in flight for \(description.queueCount) queues of \(description.queueSize)")
    }

    /// Attaches queue `index`'s region (if the area covers it) to a queue about to start, and logs
    /// what it held. Returns the fault that must stop the queue (DEVICE_NEEDS_RESET), if any.
    func attachInflight(_ split: SplitQueue, queue index: Int) -> QueueError? {
        guard let area = inflightArea else { return nil }
        do {
            guard let region = try area.queueRegion(index) else {
                logger.warning("queue \(index): not covered by the inflight area (\(area.description.queueCount) queues); requests in flight are not tracked")
                return nil
            }
            guard Int(split.size) <= region.descriptorCount else {
                // Not a region this ring fits (not one this back end made): run untracked rather than not at all.
                logger.warning("queue \(index): ring of \(split.size) is larger than its inflight region (\(region.descriptorCount) entries); requests in flight are not tracked")
                return nil
            }
            let recovery = try split.attachInflight(region)
            if recovery.ignoredEntries > 0 {
                logger.warning("queue \(index): inflight region: ignored \(recovery.ignoredEntries) entries that cannot be heads of this queue")
            }
            if !recovery.heads.isEmpty || recovery.completedBatch > 0 {
                let heads = recovery.heads.prefix(16).map(String.init).joined(separator: ", ") + (recovery.heads.count > 16 ? ", ..." : "")
                logger.notice("queue \(index): resubmitting \(recovery.heads.count) requests left in flight by the previous back end (heads in order: \(heads)); \(recovery.completedBatch) completions it had published; new requests from available index \(split.nextAvailable)")
            }
            return nil
        } catch {
            return error
        }
    }
}
