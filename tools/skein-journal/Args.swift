import Glibc
import SkeinJournal

// Command-line parsing shared by every command: words first (the command and its positional
// arguments), options anywhere. Each command names the options it accepts; anything else is a
// usage error (exit 2), so a typo never silently changes what is shown.

struct Args {
    var words: [String] = []
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var help = false

    static let valueOptions: Set<String> = ["--state-dir", "--to", "--at", "--format", "--since", "--until",
                                            "--namespace", "--pod", "--network", "--ip", "--out", "--node",
                                            "--to-seq"]
    static let flagOptions: Set<String> = ["--json", "--by-ip", "--dry-run", "--from-start"]

    init(_ args: [String]) {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "-h" || a == "--help" {
                help = true
            } else if Args.valueOptions.contains(a) {
                guard i + 1 < args.count else { fail("\(a) needs a value", code: 2) }
                values[a] = args[i + 1]
                i += 1
            } else if Args.flagOptions.contains(a) {
                flags.insert(a)
            } else if a.hasPrefix("-") && a.count > 1 {
                fail("unknown option \"\(a)\" (see skein-journal --help)", code: 2)
            } else {
                words.append(a)
            }
            i += 1
        }
    }

    var json: Bool { flags.contains("--json") }

    /// Rejects options the command does not take; prints the command's help for --help.
    func accept(_ allowed: Set<String>, positional: ClosedRange<Int>, help text: String) {
        if help { print(text); exit(0) }
        for k in values.keys where !allowed.contains(k) { fail("\(k) is not an option of this command\n\n\(text)", code: 2) }
        for k in flags where !allowed.contains(k) { fail("\(k) is not an option of this command\n\n\(text)", code: 2) }
        guard positional.contains(words.count) else { fail("wrong number of arguments\n\n\(text)", code: 2) }
    }

    var stateDir: String {
        if let d = values["--state-dir"] { return d }
        if let env = getenv("SKEIN_STATE_DIR"), env.pointee != 0 { return String(cString: env) }
        return Journal.defaultStateDir
    }

    var node: String { values["--node"] ?? History.hostName() }

    /// A TIME option: RFC 3339 or Unix seconds.
    func time(_ option: String) -> Int64? {
        guard let text = values[option] else { return nil }
        guard let t = Timestamp.parse(text) else {
            fail("\(option): \"\(text)\" is neither RFC 3339 (2026-11-29T14:03:00Z) nor Unix seconds", code: 2)
        }
        return t
    }
}

func fail(_ message: String, code: Int32) -> Never {
    fputs("skein-journal: \(message)\n", stderr)
    exit(code)
}

func openJournal(_ args: Args) -> Journal {
    do { return try Journal(stateDir: args.stateDir, readOnly: true) } catch { fail("\(error)", code: 3) }
}

/// Progress on stderr, only when it is a terminal: a pipe or a log file gets nothing.
struct Progress {
    let verb: String
    let enabled = isatty(2) == 1

    var callback: ((UInt64) -> Void)? {
        guard enabled else { return nil }
        let verb = self.verb
        return { seq in fputs("\r\(verb): event \(seq)…", stderr) }
    }

    /// Clears the progress line.
    func done() {
        if enabled { fputs("\r\u{1B}[K", stderr) }
    }
}

/// Buffered output to stdout or a file (stdio's buffer: the export never holds more than a record).
final class Output {
    let file: UnsafeMutablePointer<FILE>
    let owned: Bool

    init(path: String?) {
        guard let path, path != "-" else { file = stdout; owned = false; return }
        guard let f = fopen(path, "w") else { fail("cannot write \(path): \(String(cString: strerror(errno)))", code: 3) }
        file = f
        owned = true
    }

    func write(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard n == bytes.count else { throw OutputError(message: String(cString: strerror(errno))) }
    }

    func close() throws {
        let bad = fflush(file) != 0 || (owned && fclose(file) != 0)
        if bad { throw OutputError(message: String(cString: strerror(errno))) }
    }
}

struct OutputError: Error, CustomStringConvertible {
    let message: String
    var description: String { "write failed: \(message)" }
}
