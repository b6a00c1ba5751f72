import CNetlink
import Glibc

/// A failed netlink, namespace or sysctl operation. `errno` is the kernel's errno when
/// the kernel answered, otherwise the closest errno for libnl's own NLE_* code.
public struct NetlinkError: Error, CustomStringConvertible, Equatable, Sendable {
    public let op: String
    /// Positive errno; 0 if unknown.
    public let errno: Int32
    public let message: String

    public init(op: String, errno: Int32, message: String) {
        self.op = op
        self.errno = errno
        self.message = message
    }

    public var description: String { "\(op): \(message) (errno \(errno))" }

    static func invalid(_ op: String, _ message: String) -> NetlinkError {
        NetlinkError(op: op, errno: EINVAL, message: message)
    }

    /// From a failed libc call: reads the thread's errno now.
    static func posix(_ op: String, _ what: String) -> NetlinkError {
        let e = Glibc.errno
        return NetlinkError(op: op, errno: e, message: "\(what): \(strerrorString(e))")
    }
}

func strerrorString(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return String(cString: s)
}

/// libnl returns negative NLE_* codes. This is only the fallback for when no kernel
/// errno was captured (libnl-side failures, or paths with their own error hook).
func errnoForNLE(_ code: Int32) -> Int32 {
    switch abs(code) {
    case NLE_EXIST: return EEXIST
    case NLE_OBJ_NOTFOUND, NLE_NODEV: return ENODEV
    case NLE_NOADDR: return EADDRNOTAVAIL
    case NLE_PERM: return EPERM
    case NLE_NOACCESS: return EACCES
    case NLE_BUSY: return EBUSY
    case NLE_INVAL, NLE_MISSING_ATTR, NLE_AF_MISMATCH, NLE_IMMUTABLE: return EINVAL
    case NLE_RANGE: return ERANGE
    case NLE_NOMEM: return ENOMEM
    case NLE_INTR: return EINTR
    case NLE_AGAIN, NLE_DUMP_INTR: return EAGAIN
    case NLE_OPNOTSUPP, NLE_MSGTYPE_NOSUPPORT: return EOPNOTSUPP
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT
    case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT
    case NLE_BAD_SOCK: return EBADF
    case NLE_MSGSIZE, NLE_MSG_OVERFLOW, NLE_MSG_TRUNC: return EMSGSIZE
    default: return 0
    }
}

func nlErrorText(_ code: Int32) -> String {
    guard let s = nl_geterror(code) else { return "libnl error \(code)" }
    return String(cString: s)
}
