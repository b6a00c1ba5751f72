import Foundation
import Glibc
import SkeinModel
import Testing

// Why a fake server: no Kubernetes API server can be installed on the machines these tests run on.
// Fixtures/fake_apiserver.py (Python 3 standard library only) speaks the API shapes SkeinKube uses
// — GET pod, GET NAD, PUT pods/status with resourceVersion checks, 404 Status objects, bearer tokens —
// over real TLS with certificates made at test time by the openssl CLI, and has knobs (control.json)
// for what a real server does only under duress: conflicts, 503s, hanging, token rotation.

/// A started fake API server in its own temp directory with its own CA. `stop()` kills it and
/// removes the directory; call it in a `defer` (deinit does it too, as a backstop).
final class FakeAPIServer {
    let dir: String
    let tls: Bool
    private(set) var port: UInt16 = 0
    private var pid: pid_t = 0

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/fake_apiserver.py"

    static let seed = """
        {"pods": [{"namespace": "default", "name": "web-0", "uid": "0b7c6a34-uid-web-0",
                   "annotations": {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"}},
                  {"namespace": "kube-system", "name": "bare", "uid": "uid-bare"}],
         "nads": [{"namespace": "default", "name": "macvlan-conf",
                   "config": "{\\"cniVersion\\":\\"0.3.1\\",\\"type\\":\\"macvlan\\",\\"master\\":\\"eth0\\"}"}]}
        """

    /// `san` is the server certificate's subjectAltName; empty for none (and then the subject's CN
    /// is "localhost", the old way of naming a server that verification must not accept).
    init(tls: Bool = true, control: String = "{}", san: String = "IP:127.0.0.1,DNS:localhost") throws {
        dir = try makeTempDir("skein-kube")
        self.tls = tls
        do {
            try write(Self.seed, to: dir + "/seed.json")
            try setControl(control)
            if tls { try makeCertificates(san: san) }
            try start()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    var url: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }
    var caPath: String { dir + "/ca.crt" }
    var wrongCAPath: String { dir + "/wrong-ca.crt" }
    var clientCertPath: String { dir + "/client.crt" }
    var clientKeyPath: String { dir + "/client.key" }

    /// Replaces the knobs atomically (the server reads the file on every request).
    func setControl(_ json: String) throws {
        try write(json, to: dir + "/control.json.tmp")
        guard rename(dir + "/control.json.tmp", dir + "/control.json") == 0 else { throw TestError("rename control.json") }
    }

    /// Every request the server has seen, in order.
    func requests() -> [JSON] {
        guard let text = try? String(contentsOfFile: dir + "/requests.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
    }

    func stop() {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func start() throws {
        var args = ["/usr/bin/python3", "-u", Self.script, "--dir", dir]
        if tls {
            args += ["--cert", dir + "/server.crt", "--key", dir + "/server.key", "--client-ca", caPath]
        } else {
            args.append("--plain")
        }
        let (child, out) = try spawn(args, stderrPath: dir + "/server.stderr")
        pid = child
        defer { close(out) }
        let line = try readLine(out, timeoutMs: 15_000)
        guard line.hasPrefix("PORT "), let p = UInt16(line.dropFirst(5)) else {
            let err = (try? String(contentsOfFile: dir + "/server.stderr", encoding: .utf8)) ?? ""
            throw TestError("fake API server did not start: \(line) \(err)")
        }
        port = p
    }

    /// A CA, a server certificate for `san`, a client certificate (CN system:node:test), and an
    /// unrelated CA for the wrong-CA test. EC P-256 keys: fast to make.
    private func makeCertificates(san: String) throws {
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "wrong-ca"] {
            try openssl(["req", "-x509"] + key + ["-keyout", "\(dir)/\(ca).key", "-out", "\(dir)/\(ca).crt",
                         "-days", "2", "-subj", "/CN=skein test \(ca)",
                         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        }
        let sanLine = san.isEmpty ? "" : "subjectAltName=\(san)\n"
        try issue("server", subject: san.isEmpty ? "/CN=localhost" : "/CN=kube-apiserver",
                  ext: sanLine + "extendedKeyUsage=serverAuth\n", key: key)
        try issue("client", subject: "/CN=system:node:test", ext: "extendedKeyUsage=clientAuth\n", key: key)
    }

    private func issue(_ name: String, subject: String, ext: String, key: [String]) throws {
        try write(ext, to: "\(dir)/\(name).ext")
        try openssl(["req"] + key + ["-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr", "-subj", subject])
        try openssl(["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", caPath, "-CAkey", "\(dir)/ca.key",
                     "-set_serial", String(UInt32.random(in: 1..<UInt32.max)), "-days", "2",
                     "-out", "\(dir)/\(name).crt", "-extfile", "\(dir)/\(name).ext"])
    }

    private func openssl(_ args: [String]) throws {
        let status = try runTool(["/usr/bin/openssl"] + args, outputPath: dir + "/openssl.log")
        guard status == 0 else {
            let log = (try? String(contentsOfFile: dir + "/openssl.log", encoding: .utf8)) ?? ""
            throw TestError("openssl \(args.prefix(2).joined(separator: " ")) failed: \(log)")
        }
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func makeTempDir(_ tag: String) throws -> String {
    var template = Array("/tmp/\(tag)-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw TestError("mkdtemp: \(errno)") }
    return String(cString: p)
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

/// posix_spawn (not Foundation.Process: the project spawns with posix_spawn everywhere), stdin from
/// /dev/null. stdout goes to a pipe whose read end is returned, or with `outputPath` to that file
/// along with stderr; otherwise stderr goes to `stderrPath`.
func spawn(_ argv: [String], stderrPath: String, outputPath: String? = nil) throws -> (pid_t, Int32) {
    var fds: [Int32] = [-1, -1]
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if let outputPath {
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    } else {
        guard pipe(&fds) == 0 else { throw TestError("pipe: \(errno)") }
        // Only the child's dup2'ed copy may survive exec: parallel tests spawn too.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    }
    var pid: pid_t = 0
    let cargs = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
    if fds[1] >= 0 { close(fds[1]) }
    guard rc == 0 else {
        if fds[0] >= 0 { close(fds[0]) }
        throw TestError("posix_spawn \(argv[0]): \(rc)")
    }
    return (pid, fds[0])
}

/// Runs a tool to completion, its stdout and stderr into `outputPath`; returns the exit status.
func runTool(_ argv: [String], outputPath: String) throws -> Int32 {
    let (pid, _) = try spawn(argv, stderrPath: outputPath, outputPath: outputPath)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
}

/// One line from `fd`, waiting at most `timeoutMs` in total.
func readLine(_ fd: Int32, timeoutMs: Int) throws -> String {
    var bytes: [UInt8] = []
    let end = Date().addingTimeInterval(Double(timeoutMs) / 1000)
    while !bytes.contains(0x0A) {
        let left = Int32(max(0, end.timeIntervalSinceNow * 1000))
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard left > 0, poll(&p, 1, left) > 0 else { throw TestError("timed out waiting for the server's port") }
        var c: UInt8 = 0
        guard read(fd, &c, 1) == 1 else { break }
        bytes.append(c)
    }
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
