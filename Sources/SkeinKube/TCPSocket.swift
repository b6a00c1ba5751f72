import Glibc

/// What HTTP needs from a connection, plain or TLS. Every call is bounded by a deadline.
protocol ByteStream: AnyObject {
    func write(_ bytes: [UInt8], deadline: Deadline) throws(KubeError)
    /// Appends what arrived (at most `max` bytes) to `buffer`; returns the count, 0 at end of stream.
    func read(into buffer: inout [UInt8], max: Int, deadline: Deadline) throws(KubeError) -> Int
}

enum IPLiteral {
    static func isIPv4(_ s: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, s, &a) == 1
    }

    static func isIPv6(_ s: String) -> Bool {
        var a = in6_addr()
        return inet_pton(AF_INET6, s, &a) == 1
    }

    static func isIP(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }
}

/// A non-blocking TCP socket; closed when released.
final class TCPSocket: ByteStream {
    let fd: Int32
    let peer: String

    private init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit { close(fd) }

    /// Tries each address of `host` in turn until one accepts, all within `deadline`.
    /// IP literals never touch name resolution: a static binary's getaddrinfo depends on the host's
    /// NSS modules, and the in-cluster address is always an IP.
    static func connect(host: String, port: UInt16, deadline: Deadline) throws(KubeError) -> TCPSocket {
        let peer = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let addresses = try resolve(host: host, port: port, peer: peer)
        var lastError = KubeError(.unreachable, "connect to \(peer): no address")
        for address in addresses {
            do throws(KubeError) {
                return try connectOne(address, peer: peer, deadline: deadline)
            } catch {
                lastError = error
                if error.kind == .timeout { break }
            }
        }
        throw lastError
    }

    private static func connectOne(_ address: SocketAddress, peer: String, deadline: Deadline) throws(KubeError) -> TCPSocket {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw KubeError(.unreachable, "socket: \(errnoText(errno))") }
        let sock = TCPSocket(fd: fd, peer: peer)
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 {
            guard errno == EINPROGRESS || errno == EINTR else {
                throw KubeError(.unreachable, "connect to \(peer): \(errnoText(errno))")
            }
            try waitReady(fd, Int16(POLLOUT), deadline: deadline, what: "connect to \(peer)")
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            guard err == 0 else { throw KubeError(.unreachable, "connect to \(peer): \(errnoText(err))") }
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return sock
    }

    func write(_ bytes: [UInt8], deadline: Deadline) throws(KubeError) {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a peer that closed early must be an error, not a SIGPIPE that kills the plugin.
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { sent += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try waitReady(fd, Int16(POLLOUT), deadline: deadline, what: "send to \(peer)")
            default: throw KubeError(.unreachable, "send to \(peer): \(errnoText(errno))")
            }
        }
    }

    func read(into buffer: inout [UInt8], max: Int, deadline: Deadline) throws(KubeError) -> Int {
        var chunk = [UInt8](repeating: 0, count: max)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return n
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try waitReady(fd, Int16(POLLIN), deadline: deadline, what: "receive from \(peer)")
            default: throw KubeError(.unreachable, "receive from \(peer): \(errnoText(errno))")
            }
        }
    }
}

/// One resolved address, stored as sockaddr_storage so IPv4 and IPv6 share a type.
struct SocketAddress {
    var storage = sockaddr_storage()
    var length: socklen_t = 0
    var family: Int32 { Int32(storage.ss_family) }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

private func resolve(host: String, port: UInt16, peer: String) throws(KubeError) -> [SocketAddress] {
    var out = SocketAddress()
    var v4 = sockaddr_in()
    var v6 = sockaddr_in6()
    if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &out.storage) { dst in withUnsafeBytes(of: v4) { dst.copyMemory(from: $0) } }
        out.length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return [out]
    }
    if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &out.storage) { dst in withUnsafeBytes(of: v6) { dst.copyMemory(from: $0) } }
        out.length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        return [out]
    }
    return try lookup(host: host, port: port, peer: peer)
}

private func lookup(host: String, port: UInt16, peer: String) throws(KubeError) -> [SocketAddress] {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &list)
    guard rc == 0 else {
        let text = gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
        throw KubeError(.unreachable, "resolve \(peer): \(text)")
    }
    defer { freeaddrinfo(list) }
    var out: [SocketAddress] = []
    var p = list
    while let ai = p {
        if let sa = ai.pointee.ai_addr, Int(ai.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
            var a = SocketAddress()
            withUnsafeMutableBytes(of: &a.storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen)))
            }
            a.length = ai.pointee.ai_addrlen
            out.append(a)
        }
        p = ai.pointee.ai_next
    }
    return out
}
