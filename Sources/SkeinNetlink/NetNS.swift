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

/// Runs `body` with a handle bound to `ns`. With a namespace, a dedicated pthread enters
/// it (setns is per thread) and opens its own socket there, so the calling thread never
/// changes namespace. With nil, runs inline in the caller's namespace.
public func withNetNS<T>(_ ns: NetNS?, _ body: (NetlinkHandle) throws -> T) throws -> T {
    guard let ns = ns else { return try body(NetlinkHandle()) }
    return try withoutActuallyEscaping(body) { escapable in
        let job = NetNSJob(fd: ns.fd, body: escapable)
        try job.runOnThread()
        // The thread has been joined, so `job.result` is set and no longer shared.
        return try job.result!.get()
    }
}

/// Type-erased so the non-generic C thread entry can call it.
class ThreadJob {
    func run() {}

    func runOnThread() throws {
        let arg = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, arg)
        guard rc == 0 else {
            Unmanaged<ThreadJob>.fromOpaque(arg).release()
            throw NetlinkError(op: "withNetNS", errno: rc, message: "pthread_create: \(strerrorString(rc))")
        }
        pthread_join(tid, nil)
    }
}

final class NetNSJob<T>: ThreadJob {
    let fd: Int32
    let body: (NetlinkHandle) throws -> T
    var result: Result<T, Error>?

    init(fd: Int32, body: @escaping (NetlinkHandle) throws -> T) {
        self.fd = fd
        self.body = body
    }

    override func run() {
        result = Result {
            guard setns(fd, skein_clone_newnet()) == 0 else {
                throw NetlinkError.posix("withNetNS", "setns")
            }
            let handle = try NetlinkHandle()
            return try body(handle)
        }
    }
}
