import CNetlink
import Glibc

/// One NETLINK_ROUTE socket, bound to the network namespace of the thread that created it
/// (the socket keeps that namespace even if the thread later moves). Not thread-safe:
/// use one handle per thread.
public final class NetlinkHandle {
    let sock: OpaquePointer
    /// Filled by the C error hook on every NLMSG_ERROR; reset before each request.
    private let lastError: UnsafeMutablePointer<skein_nlerr>
    /// Whether the kernel accepted NETLINK_GET_STRICT_CHK (filters dumps kernel-side).
    let strictDumps: Bool

    public init() throws {
        guard let sk = nl_socket_alloc() else {
            throw NetlinkError(op: "netlink socket", errno: ENOMEM, message: "nl_socket_alloc failed")
        }
        let slot = UnsafeMutablePointer<skein_nlerr>.allocate(capacity: 1)
        skein_nlerr_reset(slot)
        var rc = nl_connect(sk, NETLINK_ROUTE)
        if rc >= 0 { rc = skein_nl_setup(sk, slot) }
        guard rc >= 0 else {
            nl_socket_free(sk)
            slot.deallocate()
            throw NetlinkError(op: "netlink socket", errno: errnoForNLE(rc), message: nlErrorText(rc))
        }
        sock = sk
        lastError = slot
        strictDumps = rc == 1
    }

    deinit {
        nl_socket_free(sock)  // closes the fd too
        lastError.deallocate()
    }

    /// Runs one libnl call, turning a negative NLE_* into a NetlinkError that keeps the
    /// kernel's own errno when the kernel sent one.
    @discardableResult
    func call(_ op: String, _ body: () -> Int32) throws -> Int32 {
        skein_nlerr_reset(lastError)
        let rc = body()
        guard rc < 0 else { return rc }
        throw error(op, rc)
    }

    /// Like `call`, but errnos in `tolerated` return false instead of throwing.
    func tolerate(_ op: String, _ tolerated: Set<Int32>, _ body: () -> Int32) throws -> Bool {
        do {
            try call(op, body)
            return true
        } catch let e as NetlinkError where tolerated.contains(e.errno) {
            return false
        }
    }

    private func error(_ op: String, _ rc: Int32) -> NetlinkError {
        let kernel = lastError.pointee.err
        var message = nlErrorText(rc)
        if kernel != 0 { message += " (kernel: \(strerrorString(kernel)))" }
        let extack = String(cString: skein_nlerr_msg(lastError))
        if !extack.isEmpty { message += ": \(extack)" }
        return NetlinkError(op: op, errno: kernel != 0 ? kernel : errnoForNLE(rc), message: message)
    }
}

// MARK: - libnl object helpers

/// A +1 nl_addr for raw bytes; the caller must nl_addr_put it.
func makeNLAddr(_ op: String, family: Int32, bytes: [UInt8], prefix: UInt8? = nil) throws -> OpaquePointer {
    let built = bytes.withUnsafeBytes { nl_addr_build(family, $0.baseAddress, $0.count) }
    guard let addr = built else { throw NetlinkError(op: op, errno: ENOMEM, message: "nl_addr_build failed") }
    if let prefix = prefix { nl_addr_set_prefixlen(addr, Int32(prefix)) }
    return addr
}

func nlAddrBytes(_ addr: OpaquePointer?) -> [UInt8] {
    guard let addr = addr, let raw = nl_addr_get_binary_addr(addr) else { return [] }
    let len = Int(nl_addr_get_len(addr))
    return Array(UnsafeRawBufferPointer(start: raw, count: len))
}

func checkIfName(_ op: String, _ name: String) throws {
    // libnl silently truncates longer names to IFNAMSIZ-1.
    guard !name.isEmpty, name.utf8.count <= 15, !name.utf8.contains(0), !name.contains("/") else {
        throw NetlinkError.invalid(op, "invalid interface name \"\(name)\" (1-15 bytes, no '/')")
    }
}

func checkMAC(_ op: String, _ mac: [UInt8]) throws {
    guard mac.count == 6 else { throw NetlinkError.invalid(op, "MAC must be 6 bytes, got \(mac.count)") }
}

func checkAddr(_ op: String, _ family: AddressFamily, _ bytes: [UInt8], prefix: UInt8) throws {
    guard bytes.count == family.byteCount else {
        throw NetlinkError.invalid(op, "address must be \(family.byteCount) bytes, got \(bytes.count)")
    }
    guard prefix <= family.maxPrefix else {
        throw NetlinkError.invalid(op, "prefix length \(prefix) exceeds \(family.maxPrefix)")
    }
}
