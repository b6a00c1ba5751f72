import Glibc

/// A point on the monotonic clock by which something must be done. Wall-clock jumps (NTP at boot)
/// must neither expire nor extend a request.
public struct Deadline: Sendable, Comparable {
    let nanoseconds: UInt64

    public static func now() -> Deadline {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Deadline(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    public static func after(ms: Int) -> Deadline {
        // Clamped to about 35 years: "no limit" callers pass Int.max.
        Deadline(nanoseconds: now().nanoseconds &+ UInt64(min(max(0, ms), 1 << 40)) * 1_000_000)
    }

    /// Milliseconds left, rounded up so that a poll never spins with 0 while time remains; 0 once expired.
    public var remainingMs: Int {
        let now = Deadline.now().nanoseconds
        guard nanoseconds > now else { return 0 }
        return Int((nanoseconds - now + 999_999) / 1_000_000)
    }

    public var isExpired: Bool { Deadline.now().nanoseconds >= nanoseconds }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.nanoseconds < b.nanoseconds }
}

/// Sleeps `ms` milliseconds but never past `deadline`.
func backoff(ms: Int, before deadline: Deadline) {
    var ts = timespec(tv_sec: 0, tv_nsec: 0)
    let total = min(ms, deadline.remainingMs)
    guard total > 0 else { return }
    ts.tv_sec = total / 1000
    ts.tv_nsec = (total % 1000) * 1_000_000
    var rest = timespec()
    while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
}

/// Waits until `fd` is ready for `events` or the deadline passes.
func waitReady(_ fd: Int32, _ events: Int16, deadline: Deadline, what: @autoclosure () -> String) throws(KubeError) {
    while true {
        let ms = deadline.remainingMs
        guard ms > 0 else { throw KubeError(.timeout, "\(what()): timed out") }
        var p = pollfd(fd: fd, events: events, revents: 0)
        let n = poll(&p, 1, Int32(min(ms, Int(Int32.max))))
        if n > 0 { return }
        if n < 0 && errno != EINTR { throw KubeError(.unreachable, "\(what()): poll: \(errnoText(errno))") }
    }
}

func errnoText(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return String(cString: s)
}

/// Reads a whole (small) file: credentials, certificates, kubeconfigs. Refuses files above `limit`.
func readFile(_ path: String, limit: Int = 4 << 20) throws(KubeError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw KubeError(.config, "cannot open \(path): \(errnoText(errno))") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { return out }
        if n < 0 {
            if errno == EINTR { continue }
            throw KubeError(.config, "cannot read \(path): \(errnoText(errno))")
        }
        out.append(contentsOf: chunk[0..<n])
        guard out.count <= limit else { throw KubeError(.config, "\(path) is larger than \(limit) bytes") }
    }
}
