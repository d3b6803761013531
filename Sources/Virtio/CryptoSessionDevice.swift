/// A device whose sessions its VMM creates and closes through vhost-user messages beside the
/// queues: virtio-crypto behind QEMU's cryptodev-vhost-user, where QEMU keeps the control queue
/// (VIRTIO 1.2 §5.9.7.2) and forwards each session to the back end as
/// VHOST_USER_CREATE_CRYPTO_SESSION / VHOST_USER_CLOSE_CRYPTO_SESSION (vhost-user.rst). The
/// transport offers VHOST_USER_PROTOCOL_F_CRYPTO_SESSION only for such a device and calls these
/// on the device's worker thread, between queue work.
public protocol CryptoSessionDevice: VirtioDevice {
    /// The reply payload to a CREATE_CRYPTO_SESSION whose payload (QEMU's VhostUserCryptoSession,
    /// in the layout of the VMM's version) is `payload`: the same number of bytes, carrying the
    /// new session's id or -1.
    func createCryptoSession(_ payload: [UInt8]) -> [UInt8]
    /// Closes session `id`; false if there is no such session.
    func closeCryptoSession(_ id: UInt64) -> Bool
}
