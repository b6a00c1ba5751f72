import CSSL
import Glibc

/// A TLS client connection over a non-blocking TCP socket. OpenSSL's WANT_READ/WANT_WRITE are turned
/// into polls bounded by the caller's deadline, so a silent server can never hold us past it.
final class TLSConnection: ByteStream {
    private let socket: TCPSocket
    private let ssl: OpaquePointer

    private init(socket: TCPSocket, ssl: OpaquePointer) {
        self.socket = socket
        self.ssl = ssl
    }

    // No SSL_shutdown: the response has been read in full (or abandoned), and writing close_notify
    // to a peer that already closed would only produce an error (or a SIGPIPE) to ignore.
    deinit { SSL_free(ssl) }

    /// Connects to `host:port` (by `connectDeadline`), then handshakes and verifies the server (by `deadline`).
    static func connect(host: String, port: UInt16, context: TLSContext,
                        connectDeadline: Deadline, deadline: Deadline) throws(KubeError) -> TLSConnection {
        let socket = try TCPSocket.connect(host: host, port: port, deadline: min(connectDeadline, deadline))
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw tlsError("SSL_new") }
        let conn = TLSConnection(socket: socket, ssl: ssl)
        try conn.prepare(host: host, settings: context.settings)
        try conn.handshake(deadline: deadline)
        return conn
    }

    private func prepare(host: String, settings: TLSSettings) throws(KubeError) {
        guard SSL_set_fd(ssl, socket.fd) == 1 else { throw tlsError("SSL_set_fd") }
        let name = settings.serverName ?? host
        let isIP = IPLiteral.isIP(name)
        // RFC 6066: SNI carries host names only, never address literals.
        if !isIP && skein_ssl_set_sni(ssl, name) != 1 { throw tlsError("SNI \(name)") }
        guard !settings.insecureSkipVerify else { return }
        let param = SSL_get0_param(ssl)
        // As Go: names are matched against subjectAltNames only, never the subject CN.
        X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0)
        guard ok == 1 else { throw tlsError("verification name \(name)") }
    }

    private func handshake(deadline: Deadline) throws(KubeError) {
        while true {
            ERR_clear_error()
            errno = 0
            let rc = SSL_connect(ssl)
            if rc == 1 { return }
            let err = SSL_get_error(ssl, rc)
            switch err {
            case SSL_ERROR_WANT_READ: try waitReady(socket.fd, Int16(POLLIN), deadline: deadline, what: "TLS handshake with \(socket.peer)")
            case SSL_ERROR_WANT_WRITE: try waitReady(socket.fd, Int16(POLLOUT), deadline: deadline, what: "TLS handshake with \(socket.peer)")
            default: throw handshakeError(err)
            }
        }
    }

    private func handshakeError(_ err: Int32) -> KubeError {
        let verify = SSL_get_verify_result(ssl)
        if verify != Int(X509_V_OK) {
            let reason = X509_verify_cert_error_string(verify).map { String(cString: $0) } ?? "error \(verify)"
            ERR_clear_error()
            return KubeError(.tls, "TLS handshake with \(socket.peer): server certificate rejected: \(reason)")
        }
        if err == SSL_ERROR_SYSCALL && errno != 0 {
            return KubeError(.unreachable, "TLS handshake with \(socket.peer): \(errnoText(errno))")
        }
        return tlsError("TLS handshake with \(socket.peer)")
    }

    func write(_ bytes: [UInt8], deadline: Deadline) throws(KubeError) {
        var sent = 0
        while sent < bytes.count {
            ERR_clear_error()
            errno = 0
            var n = 0
            let rc = bytes.withUnsafeBytes { SSL_write_ex(ssl, $0.baseAddress! + sent, $0.count - sent, &n) }
            if rc == 1 { sent += n; continue }
            try wait(SSL_get_error(ssl, rc), deadline: deadline, what: "send to")
        }
    }

    func read(into buffer: inout [UInt8], max: Int, deadline: Deadline) throws(KubeError) -> Int {
        var chunk = [UInt8](repeating: 0, count: max)
        while true {
            ERR_clear_error()
            errno = 0
            var n = 0
            let rc = chunk.withUnsafeMutableBytes { SSL_read_ex(ssl, $0.baseAddress, $0.count, &n) }
            if rc == 1 {
                buffer.append(contentsOf: chunk[0..<n])
                return n
            }
            let err = SSL_get_error(ssl, rc)
            if err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0) { return 0 }
            try wait(err, deadline: deadline, what: "receive from")
        }
    }

    /// Waits for the socket when OpenSSL asks to; any other outcome is the connection's end.
    private func wait(_ err: Int32, deadline: Deadline, what: String) throws(KubeError) {
        switch err {
        case SSL_ERROR_WANT_READ: try waitReady(socket.fd, Int16(POLLIN), deadline: deadline, what: "\(what) \(socket.peer)")
        case SSL_ERROR_WANT_WRITE: try waitReady(socket.fd, Int16(POLLOUT), deadline: deadline, what: "\(what) \(socket.peer)")
        case SSL_ERROR_SYSCALL:
            let reason = errno == 0 ? "connection closed by the peer" : errnoText(errno)
            throw KubeError(.unreachable, "\(what) \(socket.peer): \(reason)")
        default: throw tlsError("\(what) \(socket.peer)")
        }
    }
}
