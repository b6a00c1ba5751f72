import Glibc
import SkeinJournal
import SkeinModel

// Running one plugin binary: posix_spawn (vfork-fast, no Foundation), stdin written and stdout/stderr
// read through one poll loop so that neither side can block the other, everything bounded by a
// deadline after which the child gets SIGKILL. Our own descriptors (journal, netlink, netns) are
// all opened close-on-exec, so the child inherits exactly stdin, stdout and stderr.

/// How a child ended and what it wrote.
struct ChildResult {
    enum Exit: Equatable {
        case status(Int32)
        case signal(Int32)
    }

    var exit: Exit
    var stdout: [UInt8]
    /// At most `ChildLimits.maxStderr` bytes; `stderrTruncated` says whether more was dropped.
    var stderr: [UInt8]
    var stderrTruncated: Bool
}

struct ChildLimits {
    var timeoutMs: Int
    /// A result or error document; the same bound as our own stdin.
    var maxStdout = 1 << 20
    /// Diagnostics only: the head is kept for the log, the rest drained and dropped.
    var maxStderr = 64 << 10
}

enum ChildProcess {
    /// Runs `path` with exactly `env`, feeding `stdin`. `what` names the child in errors
    /// ("ptp ADD"). Fails (code 103) when it cannot be started, outlives its deadline, or writes
    /// more than the stdout limit; a non-zero exit is not an error here, the caller reads it.
    static func run(_ path: String, env: [String], stdin: [UInt8], limits: ChildLimits,
                    what: String) throws(CNIError) -> ChildResult {
        // A plugin that exits without reading its stdin must cost us EPIPE, not our life.
        signal(SIGPIPE, SIG_IGN)
        let deadline = Clock.monotonicNs() + Int64(limits.timeoutMs) * 1_000_000
        var pipes = try Pipes(what)
        let pid = try spawn(path, env: env, pipes: &pipes, what: what)
        var pump = Pump(stdinFD: pipes.stdin[1], stdoutFD: pipes.stdout[0], stderrFD: pipes.stderr[0],
                        input: stdin, limits: limits)
        defer { pump.closeAll() }
        let failure: CNIError?
        switch pump.run(deadline: deadline) {
        case .finished: failure = nil
        case .timedOut: failure = timeout(what, limits)
        case .stdoutTooLarge:
            failure = CNIError(code: SkeinCode.delegate, msg: "\(what) wrote more than \(limits.maxStdout) bytes on stdout; killed")
        case .failed(let e):
            failure = CNIError(code: SkeinCode.delegate, msg: "\(what): reading its output failed: \(errnoText(e))")
        }
        if let failure {
            kill(pid, SIGKILL)
            _ = reap(pid, deadline: nil)
            throw failure
        }
        guard let exit = reap(pid, deadline: deadline) else {
            kill(pid, SIGKILL)
            _ = reap(pid, deadline: nil)
            throw timeout(what, limits)
        }
        return ChildResult(exit: exit, stdout: pump.stdout, stderr: pump.stderr, stderrTruncated: pump.stderrTruncated)
    }

    static func timeout(_ what: String, _ limits: ChildLimits) -> CNIError {
        CNIError(code: SkeinCode.delegate, msg: "\(what) did not finish within \(limits.timeoutMs) ms; killed (SIGKILL)",
                 details: "raise execTimeoutMs in the skein config if the plugin is merely slow")
    }

    /// The child's ends are dup'ed onto 0, 1, 2 (dup2 clears close-on-exec there); every other
    /// descriptor of ours is close-on-exec. Signals: an empty mask, and SIGPIPE (ignored here)
    /// back to its default, as a shell would hand them over.
    static func spawn(_ path: String, env: [String], pipes: inout Pipes, what: String) throws(CNIError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipes.stdin[0], 0)
        posix_spawn_file_actions_adddup2(&actions, pipes.stdout[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipes.stderr[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        // ETXTBSY: the binary is open for writing somewhere — being installed right now, or a
        // descriptor inherited by a child forked meanwhile. Both pass within milliseconds.
        for _ in 0..<5 where rc == ETXTBSY {
            var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&ts, nil)
            rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        }
        pipes.closeChildEnds()
        guard rc == 0 else {
            pipes.closeParentEnds()
            throw CNIError(code: SkeinCode.delegate, msg: "cannot start \(what) (\(path)): \(errnoText(rc))")
        }
        return pid
    }

    /// Waits for the child; nil when `deadline` passed first. Plugins exit right after closing
    /// their output, so this mostly returns on the first try; the back-off keeps a straggler cheap.
    static func reap(_ pid: pid_t, deadline: Int64?) -> ChildResult.Exit? {
        var status: Int32 = 0
        var pauseNs = 200_000
        while true {
            let r = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .status(127) }
            if r == 0 {
                guard let deadline, Clock.monotonicNs() < deadline else { return nil }
                var ts = timespec(tv_sec: 0, tv_nsec: pauseNs)
                nanosleep(&ts, nil)
                pauseNs = min(pauseNs * 2, 20_000_000)
            }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (function-like macros).
        let sig = status & 0x7f
        return sig == 0 ? .status((status >> 8) & 0xff) : .signal(sig)
    }
}

func errnoText(_ e: Int32) -> String {
    String(cString: strerror(e)) + " (errno \(e))"
}

/// The three pipes, close-on-exec on our side.
struct Pipes {
    var stdin: [Int32] = [-1, -1]
    var stdout: [Int32] = [-1, -1]
    var stderr: [Int32] = [-1, -1]

    /// pipe2 is not exported to Swift (a _GNU_SOURCE name): pipe, then FD_CLOEXEC. No other
    /// thread of ours forks meanwhile, so the gap between the two cannot leak a descriptor.
    init(_ what: String) throws(CNIError) {
        guard pipe(&stdin) == 0, pipe(&stdout) == 0, pipe(&stderr) == 0 else {
            let e = errno
            closeChildEnds()
            closeParentEnds()
            throw CNIError(code: SkeinCode.delegate, msg: "cannot create pipes for \(what): \(errnoText(e))")
        }
        for fd in stdin + stdout + stderr { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    mutating func closeChildEnds() {
        for fd in [stdin[0], stdout[1], stderr[1]] where fd >= 0 { close(fd) }
        stdin[0] = -1; stdout[1] = -1; stderr[1] = -1
    }

    mutating func closeParentEnds() {
        for fd in [stdin[1], stdout[0], stderr[0]] where fd >= 0 { close(fd) }
        stdin[1] = -1; stdout[0] = -1; stderr[0] = -1
    }
}

/// Moves bytes between us and the child until it closes stdout and stderr (or a limit hits).
struct Pump {
    enum End: Equatable {
        case finished
        case timedOut
        case stdoutTooLarge
        case failed(Int32)
    }

    var stdinFD: Int32
    var stdoutFD: Int32
    var stderrFD: Int32
    let input: [UInt8]
    let limits: ChildLimits
    var written = 0
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var stderrTruncated = false

    init(stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32, input: [UInt8], limits: ChildLimits) {
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
        self.input = input
        self.limits = limits
        for fd in [stdinFD, stdoutFD, stderrFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if input.isEmpty { closeFD(&self.stdinFD) }
    }

    mutating func run(deadline: Int64) -> End {
        while stdoutFD >= 0 || stderrFD >= 0 {
            let remainingNs = deadline - Clock.monotonicNs()
            guard remainingNs > 0 else { return .timedOut }
            var fds = [pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0),
                       pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)]
            // A negative fd is skipped by poll(2): closed streams simply drop out.
            let n = poll(&fds, nfds_t(fds.count), Int32(min((remainingNs + 999_999) / 1_000_000, 60_000)))
            if n < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if fds[0].revents != 0, let e = feed() { return e }
            if fds[1].revents != 0, let e = drainStdout() { return e }
            if fds[2].revents != 0, let e = drainStderr() { return e }
        }
        return .finished
    }

    /// Writes what the pipe takes now. EPIPE means the child will not read (more): not our error.
    mutating func feed() -> End? {
        let n = input.withUnsafeBytes { buf in
            write(stdinFD, buf.baseAddress! + written, min(input.count - written, 1 << 16))
        }
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return nil }
            if errno == EPIPE { closeFD(&stdinFD); return nil }
            return .failed(errno)
        }
        written += n
        if written == input.count { closeFD(&stdinFD) }
        return nil
    }

    /// Past its limit, stdout is an error: a result that large is not one.
    mutating func drainStdout() -> End? {
        switch Pump.readChunk(stdoutFD) {
        case .again: return nil
        case .eof: closeFD(&stdoutFD); return nil
        case .failed(let e): return .failed(e)
        case .bytes(let b):
            guard stdout.count + b.count <= limits.maxStdout else { return .stdoutTooLarge }
            stdout += b
            return nil
        }
    }

    /// Past its limit, stderr is drained and dropped: it is only for the log.
    mutating func drainStderr() -> End? {
        switch Pump.readChunk(stderrFD) {
        case .again: return nil
        case .eof: closeFD(&stderrFD); return nil
        case .failed(let e): return .failed(e)
        case .bytes(let b):
            let room = max(0, limits.maxStderr - stderr.count)
            if b.count > room { stderrTruncated = true }
            stderr += b.prefix(room)
            return nil
        }
    }

    enum Chunk {
        case bytes(ArraySlice<UInt8>)
        case eof
        case again
        case failed(Int32)
    }

    static func readChunk(_ fd: Int32) -> Chunk {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        let n = read(fd, &buf, buf.count)
        if n < 0 { return errno == EAGAIN || errno == EINTR ? .again : .failed(errno) }
        return n == 0 ? .eof : .bytes(buf[0..<n])
    }

    mutating func closeAll() {
        closeFD(&stdinFD)
        closeFD(&stdoutFD)
        closeFD(&stderrFD)
    }
}

private func closeFD(_ fd: inout Int32) {
    if fd >= 0 { close(fd) }
    fd = -1
}
