import Glibc
import SkeinJournal
import SkeinModel

// Multus-style logging: `logLevel` (panic < error < verbose < debug; panic, the default, logs
// nothing but the unrecoverable), `logToStderr` (default true) and `logFile` (appended to). A line is
// "<RFC 3339 time> [<level>] <message>", written with one write(2) so that the lines of concurrent
// invocations never interleave in the file. Stdout is never touched: it carries only the CNI result.
enum Log {
    nonisolated(unsafe) static var level: SkeinConfig.LogLevel = .panic
    nonisolated(unsafe) static var toStderr = true
    nonisolated(unsafe) static var fileFD: Int32 = -1

    /// From the config of this invocation; a log file that cannot be opened is said once on stderr
    /// and the invocation goes on (logging must never fail a pod).
    static func configure(_ config: SkeinConfig) {
        level = config.logLevel
        toStderr = config.logToStderr
        guard let path = config.logFile, level != .panic else { return }
        fileFD = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fileFD < 0 {
            let text = "skein: cannot open logFile \(path): \(String(cString: strerror(errno)))\n"
            emit(2, Array(text.utf8))
        }
    }

    static func error(_ message: @autoclosure () -> String) { log(.error, message) }
    static func verbose(_ message: @autoclosure () -> String) { log(.verbose, message) }
    static func debug(_ message: @autoclosure () -> String) { log(.debug, message) }

    static func enabled(_ at: SkeinConfig.LogLevel) -> Bool { rank(at) <= rank(level) }

    static func rank(_ l: SkeinConfig.LogLevel) -> Int {
        switch l {
        case .panic: return 0
        case .error: return 1
        case .verbose: return 2
        case .debug: return 3
        }
    }

    static func log(_ at: SkeinConfig.LogLevel, _ message: () -> String) {
        guard at != .panic, enabled(at), toStderr || fileFD >= 0 else { return }
        let line = Array("\(Timestamp.rfc3339(Clock.realtimeNs())) [\(at.rawValue)] \(message())\n".utf8)
        if toStderr { emit(2, line) }
        if fileFD >= 0 { emit(fileFD, line) }
    }

    static func emit(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { off += n } else if errno != EINTR { return }
        }
    }
}
