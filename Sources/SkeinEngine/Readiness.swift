import Glibc
import SkeinJournal
import SkeinModel

// `readinessindicatorfile` (Multus): the file the default network's agent writes once it is ready
// (flannel's subnet.env, say). ADD waits for it, polling every 250 ms for at most
// `readinessTimeoutMs` (default 45 s, as Multus), and fails closed with code 11 so the runtime
// retries later rather than starting a pod without its cluster network; DEL looks once and goes on.
enum Readiness {
    static let pollMs = 250
    static let defaultTimeoutMs = 45_000

    /// `readinessTimeoutMs` (0 = look once).
    static func timeoutMs(_ raw: JSON) throws(CNIError) -> Int {
        guard let v = raw["readinessTimeoutMs"], !v.isNull else { return defaultTimeoutMs }
        guard let ms = v.int, ms >= 0, ms <= 3_600_000 else {
            throw CNIError.invalidConfig("readinessTimeoutMs must be an integer from 0 to 3600000", details: "got \(v)")
        }
        return ms
    }

    static func waitForFile(_ path: String, timeoutMs: Int) throws(CNIError) {
        let deadline = Clock.monotonicNs() + Int64(timeoutMs) * 1_000_000
        var logged = false
        while !LocalFiles.exists(path) {
            let leftMs = Int((deadline - Clock.monotonicNs()) / 1_000_000)
            guard leftMs > 0 else {
                throw CNIError.tryAgainLater("the default network is not ready: readinessindicatorfile \(path) does not exist",
                                             details: "waited \(timeoutMs) ms (readinessTimeoutMs)")
            }
            if !logged {
                Log.verbose("waiting up to \(timeoutMs) ms for readinessindicatorfile \(path)")
                logged = true
            }
            var ts = timespec(tv_sec: 0, tv_nsec: min(pollMs, leftMs) * 1_000_000)
            var left = timespec()
            while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
        }
    }

    /// DEL must never hang on a default network that went away: one look, logged when missing.
    static func checkOnce(_ path: String) {
        if !LocalFiles.exists(path) {
            Log.verbose("readinessindicatorfile \(path) does not exist; DEL goes on from the journal")
        }
    }
}
