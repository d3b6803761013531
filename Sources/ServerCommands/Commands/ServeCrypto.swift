import ArgumentParser
import Devices
import Logging
import VhostUser

struct ServeCrypto: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: CryptoServeOptions.command,
        abstract: "virtio-crypto back end (VIRTIO 1.2 §5.9) over the host's libcrypto; AVPS-v2.0-45.",
        discussion: """
            QEMU's virtio-crypto keeps the control queue and forwards sessions (VHOST_USER_CREATE_CRYPTO_SESSION); this server holds the keys and serves the data queue. QEMU example:
              -chardev socket,id=cr,path=PATH
              -object cryptodev-vhost-user,id=cr0,chardev=cr
              -device virtio-crypto-pci,cryptodev=cr0

            Guest RAM must be shared with the server:
              -object memory-backend-memfd,id=mem,size=512M,share=on
              -machine memory-backend=mem

            QEMU advertises AES-CBC as the cipher of a vhost-user crypto device (Linux: cbc-aes-virtio). Keys are zeroed when their session closes; each VM holds at most --max-sessions sessions. Statistics are logged when the server stops.
            """)

    @OptionGroup var options: CryptoServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("crypto", logging: logging, sandbox: activeSandbox) { logger in
            // One device (one session table, one limit) per front end: per-VM isolation of keys.
            let endpoints = options.endpoints.all
            let devices = endpoints.map { _ in CryptoDevice(maxSessions: options.maxSessions, logger: logger) }
            let servers = try zip(endpoints, devices).map { try VhostUserServer(endpoint: $0, device: $1, logger: logger) }
            Self.prepareLibcrypto(logger)
            return .init(servers: servers) {
                for (endpoint, device) in zip(endpoints, devices) {
                    logger.notice("statistics \(endpoint.path): \(device.requestsServed) requests, \(device.bytesProcessed) bytes, \(device.openSessions) sessions open")
                }
            }
        }
    }

    /// An idle server does not hold libcrypto (issue 17: about 3 MiB resident): its file is opened here,
    /// before the sandbox hides it, and mapped by the first session. Then the sandbox also hides
    /// openssl.cnf, which libcrypto reads on first use; AES needs only the default provider, built in.
    /// Where the file is not beside libc, libcrypto is loaded and set up now, configuration included.
    static func prepareLibcrypto(_ logger: Logger) {
        guard !OpenSSLCipher.prepareLibrary() else { return }
        logger.info("libcrypto.so.3 is not in libc's directory: loading it by its soname before the sandbox closes")
        warmUpLibcrypto()
    }

    /// Sets libcrypto up with a throwaway key for each cipher.
    static func warmUpLibcrypto() {
        let key = [UInt8](repeating: 0x5A, count: 32)
        for algorithm in [CipherAlgorithm.aesCBC, .aesCTR, .aesXTS] {
            let secret = key.withUnsafeBytes { SecretBytes(copying: $0) }
            _ = try? OpenSSLCipher(algorithm: algorithm, direction: .encrypt, key: secret)
        }
    }
}
