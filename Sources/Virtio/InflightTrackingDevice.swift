/// A device whose requests may be resubmitted after its back end restarts: the transport then
/// tracks taken heads in memory the front end keeps (vhost-user's INFLIGHT_SHMFD) and, after a
/// reconnect, hands the device the requests a killed predecessor left unfinished before any new
/// one (`SplitQueue.attachInflight`). A device opts in only if doing a request twice is harmless
/// (block reads and writes are; a network packet sent twice is not).
public protocol InflightTrackingDevice: VirtioDevice {}
