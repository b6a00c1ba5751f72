import Glibc
import SkeinEngine
import SkeinInstall

// Arguments mean an operator's command (install, install-status, uninstall): a CNI runtime never
// passes any, so this is the CNI path's only cost.
if CommandLine.argc > 1 { exit(InstallCLI.main(Array(CommandLine.arguments.dropFirst()))) }

// The CNI binary. Synchronous main on purpose: in a static binary an async main that suspends
// costs tens of milliseconds on exit (swift-platform-notes). Only the CNI result or error goes to
// stdout; diagnostics go to stderr.

/// Stdin is read up to one byte past the limit, so an oversized config is refused without reading it all.
let maxStdin = 1 << 20

func readStdin(limit: Int) -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while out.count <= limit {
        let n = read(0, &chunk, chunk.count)
        if n > 0 {
            out.append(contentsOf: chunk[0..<n])
        } else if n == 0 || errno != EINTR {
            break
        }
    }
    return out
}

func environment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") {
            env[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        p += 1
    }
    return env
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n > 0 { off += n } else if errno != EINTR { return }
    }
}

let env = environment()
let command = env["CNI_COMMAND"] ?? ""
// VERSION needs no stdin, and some callers give it none: never block on a terminal.
let input: [UInt8] = (command == "VERSION" && isatty(0) != 0) ? [] : readStdin(limit: maxStdin)
let output = Engine.run(env: env, stdin: input)
writeAll(1, output.stdout)
exit(output.exitCode)
