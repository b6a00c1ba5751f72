import Glibc

// liblmdb trusts the pages it reads: on some damaged pages it aborts on an assertion
// ("Assertion 'IS_LEAF(mp)' failed") or faults. Nothing is written then (the process dies inside
// a read or before its commit), so no wrong state reaches the file, but the caller gets no word
// of why. With the guard installed, such a death writes an answer prepared in advance (a signal
// handler may only write bytes) and exits with a chosen code: the tools say "damaged, run verify";
// the plugin can answer its CNI error.

public enum JournalFaultGuard {
    /// Installs handlers for SIGSEGV, SIGBUS and SIGABRT (liblmdb's faults and failed assertions)
    /// that write `stdout` to fd 1 and `stderr` to fd 2, then `_exit(exitCode)`. Swift's own traps
    /// (SIGILL, SIGTRAP) are left alone: they already say what failed. Install once, early.
    public static func install(stdout: [UInt8], stderr: [UInt8], exitCode: Int32) {
        faultStdout = copy(stdout)
        faultStderr = copy(stderr)
        faultExitCode = exitCode
        var action = sigaction()
        action.__sigaction_handler.sa_handler = faultHandler
        sigemptyset(&action.sa_mask)
        // A fault inside the handler then kills the process as it would have died anyway.
        action.sa_flags = Int32(truncatingIfNeeded: SA_RESETHAND)
        for sig in [SIGSEGV, SIGBUS, SIGABRT] { sigaction(sig, &action, nil) }
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer? {
        guard !bytes.isEmpty else { return nil }
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        p.copyBytes(from: bytes)
        return p
    }
}

// Set before the handler is installed and never freed: the handler reads them at any moment.
nonisolated(unsafe) private var faultStdout: UnsafeMutableRawBufferPointer?
nonisolated(unsafe) private var faultStderr: UnsafeMutableRawBufferPointer?
nonisolated(unsafe) private var faultExitCode: Int32 = 1

private let faultHandler: @convention(c) (Int32) -> Void = { _ in
    if let p = faultStdout { _ = write(1, p.baseAddress, p.count) }
    if let p = faultStderr { _ = write(2, p.baseAddress, p.count) }
    _exit(faultExitCode)
}
