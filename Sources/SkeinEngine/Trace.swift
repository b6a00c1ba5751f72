import Glibc
import SkeinJournal

// SKEIN_TRACE=1 prints how long each phase of the operation took, to stderr: the first thing to
// look at when a node's pod starts are slow. Off, it costs one branch per mark.
final class Trace {
    nonisolated(unsafe) static var enabled = false
    nonisolated(unsafe) static var marks: [(String, Int64)] = []
    // Marks come from the main thread only: a parallel DEL's teardown threads would race on `marks`.
    nonisolated(unsafe) static var owner = pthread_self()

    static func start(_ env: [String: String]) {
        enabled = env["SKEIN_TRACE"].map { !$0.isEmpty && $0 != "0" } ?? false
        if enabled { marks = [("start", Clock.monotonicNs())]; owner = pthread_self() }
    }

    static func mark(_ label: String) {
        if enabled && pthread_equal(owner, pthread_self()) != 0 { marks.append((label, Clock.monotonicNs())) }
    }

    static func flush() {
        guard enabled, let first = marks.first else { return }
        var prev = first.1
        var line = "skein trace:"
        for (label, t) in marks.dropFirst() {
            line += " \(label)=\(Double((t - prev) / 1000) / 1000)ms"
            prev = t
        }
        line += " total=\(Double((prev - first.1) / 1000) / 1000)ms\n"
        fputs(line, stderr)
    }
}
