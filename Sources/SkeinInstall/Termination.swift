import Glibc

// Waiting that a pod's termination can end. SIGTERM and SIGINT are blocked and only ever taken by
// `pause` (sigtimedwait): no handler runs at an arbitrary point, and the signals are not ignored
// either, which is what their default action amounts to for PID 1 in a container.

public enum Termination {
    static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        return set
    }

    /// Call before any thread starts, so every thread inherits the mask.
    public static func block() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Sleeps up to `ms` milliseconds; the signal number if SIGTERM or SIGINT ended it early. (Where
    /// they are not blocked, as in tests, this is a plain sleep.)
    static func pause(ms: Int) -> Int32? {
        var set = signalSet()
        var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
        let sig = sigtimedwait(&set, nil, &ts)
        return sig > 0 ? sig : nil
    }

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
