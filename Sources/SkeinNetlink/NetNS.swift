import CNetlink
import Glibc

private let nsfsMagic = 0x6e73_6673
private let procSuperMagic = 0x9fa0

/// An open network namespace file (e.g. /run/netns/x, /proc/<pid>/ns/net).
/// Holding the fd keeps the namespace alive even if its bind mount is removed.
public final class NetNS {
    public let fd: Int32
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    public static func open(path: String) throws -> NetNS {
        // O_NONBLOCK: a FIFO (or a device) named as CNI_NETNS must be refused, not block forever
        // in open(2) waiting for a writer; the checks below reject anything that is not a netns.
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.posix("netns open", "open \(path)") }
        do {
            try validate(fd: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        return NetNS(fd: fd, path: path)
    }

    /// The calling thread's network namespace.
    public static func current() throws -> NetNS {
        try open(path: "/proc/thread-self/ns/net")
    }

    /// True if `path` opens as a network namespace (a stale, unmounted
    /// /run/netns entry is a plain file and does not count).
    public static func exists(path: String) -> Bool {
        (try? open(path: path)) != nil
    }

    private static func validate(fd: Int32, path: String) throws {
        let magic = skein_fstatfs_type(fd)
        guard magic != -1 else { throw NetlinkError.posix("netns open", "fstatfs \(path)") }
        // Kernels before 3.19 exposed namespace files on procfs; any other proc file is not one.
        let isProcNS = magic == procSuperMagic && path.hasSuffix("/ns/net")
        guard magic == nsfsMagic || isProcNS else {
            throw NetlinkError.invalid("netns open", "\(path) is not a network namespace (filesystem magic 0x\(String(magic, radix: 16)))")
        }
        // nsfs also holds mnt/pid/... namespaces; ENOTTY means a kernel too old to tell.
        let type = skein_ns_get_nstype(fd)
        if type >= 0 && type != skein_clone_newnet() {
            throw NetlinkError.invalid("netns open", "\(path) is a namespace but not a network namespace")
        }
    }
}

/// Runs `body` with a handle bound to `ns`: the calling thread enters the namespace (setns is per
/// thread), opens a socket there (a netlink socket stays bound to the namespace it was opened in)
/// and returns to its own namespace before this returns or throws. With nil, runs inline in the
/// caller's namespace. Entering on the calling thread, not a helper thread, saves every pod start
/// a thread, its stack and its malloc arena (peak RSS and ~0.1 ms each).
public func withNetNS<T>(_ ns: NetNS?, _ body: (NetlinkHandle) throws -> T) throws -> T {
    guard let ns = ns else { return try body(NetlinkHandle()) }
    let home = try NetNS.current()
    guard setns(ns.fd, skein_clone_newnet()) == 0 else { throw NetlinkError.posix("withNetNS", "setns \(ns.path)") }
    defer { returnHome(home) }
    return try body(NetlinkHandle())
}

/// Failing to return would leave every later host operation of this process in the pod's
/// namespace: that must never run, so the process stops with the reason.
private func returnHome(_ home: NetNS) {
    guard setns(home.fd, skein_clone_newnet()) != 0 else { return }
    let msg = "skein: cannot return to the host network namespace (setns: \(strerrorString(errno))); stopping\n"
    _ = msg.withCString { write(2, $0, strlen($0)) }
    abort()
}
