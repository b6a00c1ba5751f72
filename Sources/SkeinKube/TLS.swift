import CSSL
import Glibc

/// Where a certificate, key or CA bundle comes from: a file (read when the client is made) or
/// PEM bytes given inline (kubeconfig `*-data`, already base64-decoded).
public enum PEMSource: Equatable, Sendable {
    case file(String)
    case pem([UInt8])

    func load() throws(KubeError) -> [UInt8] {
        switch self {
        case .file(let path): return try readFile(path)
        case .pem(let bytes): return bytes
        }
    }

    var label: String {
        switch self {
        case .file(let path): return path
        case .pem: return "inline PEM data"
        }
    }
}

/// How to authenticate the server and ourselves.
public struct TLSSettings: Equatable, Sendable {
    /// The only trusted roots: the system store is never consulted.
    public var ca: PEMSource?
    /// Skip every server check. The caller logs that it is on.
    public var insecureSkipVerify: Bool
    public var clientCertificate: PEMSource?
    public var clientKey: PEMSource?
    /// The name to send as SNI and verify instead of the URL's host (kubeconfig `tls-server-name`).
    public var serverName: String?

    public init(ca: PEMSource? = nil, insecureSkipVerify: Bool = false, clientCertificate: PEMSource? = nil,
                clientKey: PEMSource? = nil, serverName: String? = nil) {
        self.ca = ca
        self.insecureSkipVerify = insecureSkipVerify
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.serverName = serverName
    }
}

/// An OpenSSL client context holding the trust roots and the client identity, shared by every
/// connection of one client.
public final class TLSContext {
    let ctx: OpaquePointer
    public let settings: TLSSettings

    public init(_ settings: TLSSettings) throws(KubeError) {
        _ = skein_ssl_init()
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw tlsError("SSL_CTX_new") }
        self.ctx = ctx
        self.settings = settings
        guard skein_ssl_ctx_defaults(ctx) == 1 else { throw tlsError("TLS defaults") }
        if settings.insecureSkipVerify {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        } else {
            guard let ca = settings.ca else {
                throw KubeError(.config, "no certificate authority configured (and insecure-skip-tls-verify is off)")
            }
            try loadTrust(ca)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        }
        switch (settings.clientCertificate, settings.clientKey) {
        case (nil, nil): break
        case (let cert?, let key?): try loadIdentity(cert: cert, key: key)
        default: throw KubeError(.config, "a client certificate needs its key and a key needs its certificate")
        }
    }

    deinit { SSL_CTX_free(ctx) }

    private func loadTrust(_ source: PEMSource) throws(KubeError) {
        let certs = try readCertificates(try source.load(), label: source.label)
        defer { certs.forEach { X509_free($0) } }
        guard let store = SSL_CTX_get_cert_store(ctx) else { throw tlsError("SSL_CTX_get_cert_store") }
        // As Go's crypto/x509 (and so kubectl): every certificate of the bundle is a trust anchor,
        // an intermediate too, without a chain up to a self-signed root.
        X509_STORE_set_flags(store, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        for cert in certs where X509_STORE_add_cert(store, cert) != 1 {
            throw tlsError("adding a CA certificate from \(source.label)")
        }
    }

    private func loadIdentity(cert: PEMSource, key: PEMSource) throws(KubeError) {
        let chain = try readCertificates(try cert.load(), label: cert.label)
        defer { chain.forEach { X509_free($0) } }
        guard SSL_CTX_use_certificate(ctx, chain[0]) == 1 else { throw tlsError("client certificate \(cert.label)") }
        for extra in chain.dropFirst() where skein_ssl_ctx_add_chain_cert(ctx, extra) != 1 {
            throw tlsError("client certificate chain \(cert.label)")
        }
        let keyBytes = try key.load()
        let pkey = keyBytes.withUnsafeBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let pkey else { throw tlsError("client key \(key.label): no PEM private key") }
        defer { EVP_PKEY_free(pkey) }
        guard SSL_CTX_use_PrivateKey(ctx, pkey) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw tlsError("client key \(key.label) does not match certificate \(cert.label)")
        }
    }
}

/// Every certificate of a PEM bundle, in order; at least one, or an error.
private func readCertificates(_ pem: [UInt8], label: String) throws(KubeError) -> [OpaquePointer] {
    var certs: [OpaquePointer] = []
    pem.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return }
        defer { BIO_free(bio) }
        while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(cert) }
    }
    // Reading stops at the first non-certificate: the expected "no start line" is not an error.
    ERR_clear_error()
    guard !certs.isEmpty else { throw KubeError(.tls, "\(label): no PEM certificate found") }
    return certs
}

/// OpenSSL's error queue, drained, as one line.
func tlsError(_ what: String) -> KubeError {
    var parts: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buf, buf.count)
        parts.append(String(cString: buf))
    }
    return KubeError(.tls, parts.isEmpty ? what : "\(what): \(parts.joined(separator: "; "))")
}
