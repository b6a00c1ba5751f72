import Foundation
import Glibc
import Testing

// The fake Kubernetes API server of SkeinKubeTests (Fixtures/fake_apiserver.py, Python 3 standard
// library only), started for the meta-plugin's API tests with a seed of their own. Why a fake: no
// Kubernetes API server can be installed on the machines these tests run on. It speaks the shapes
// skein uses — GET pod, GET NAD, PUT pods/status with resourceVersion checks, 404 Status objects,
// bearer tokens — over real TLS with a CA made at test time by the openssl CLI, and has knobs
// (control.json: token, conflicts, unavailable, hang) for what a real server does under duress.
// This launcher is a copy of SkeinKubeTests/FakeAPIServer.swift's, with a caller-given seed.

final class FakeKubeAPI {
    let dir: String
    /// The network namespace it listens in (its 127.0.0.1): the node's, where skein runs.
    let netns: String
    private(set) var port: UInt16 = 0
    private var pid: pid_t = 0

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().path + "/SkeinKubeTests/Fixtures/fake_apiserver.py"

    /// `seed`: {"pods": [{namespace, name, uid, annotations}], "nads": [{namespace, name, config}]}.
    init(seed: [String: Any], netns: String, control: String = "{}") throws {
        self.netns = netns
        dir = NSTemporaryDirectory() + "skein-kube-it-\(getpid())-\(UInt32.random(in: 0..<0xFFFFFF))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            try Data(JSONSerialization.data(withJSONObject: seed)).write(to: URL(fileURLWithPath: dir + "/seed.json"))
            try setControl(control)
            try makeCertificates()
            try start()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    var url: String { "https://127.0.0.1:\(port)" }
    var caPath: String { dir + "/ca.crt" }
    var tokenPath: String { dir + "/token" }

    /// A kubeconfig for this server: its CA, and the bearer token read from `tokenPath` each time.
    func kubeconfig() throws -> String {
        let path = dir + "/kubeconfig"
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: \(url)
                certificate-authority: \(caPath)
            users:
            - name: skein
              user:
                tokenFile: \(tokenPath)
            contexts:
            - name: fake
              context:
                cluster: fake
                user: skein
            current-context: fake
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Replaces the knobs atomically (the server reads the file on every request).
    func setControl(_ json: String) throws {
        try json.write(toFile: dir + "/control.json.tmp", atomically: false, encoding: .utf8)
        guard rename(dir + "/control.json.tmp", dir + "/control.json") == 0 else { throw FakeKubeError("rename control.json") }
    }

    func setToken(_ token: String) throws {
        try (token + "\n").write(toFile: tokenPath, atomically: true, encoding: .utf8)
    }

    /// Every request the server has seen, in order: method, path, auth, status.
    func requests() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: dir + "/requests.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { TypeIT.object(String($0)) }
    }

    /// The pod as the server holds it now (read with curl, as an operator would).
    func pod(_ namespace: String, _ name: String, token: String) -> [String: Any]? {
        let r = run("/usr/sbin/ip", ["netns", "exec", netns, "/usr/bin/curl", "-s", "--cacert", caPath,
                                     "-H", "Authorization: Bearer \(token)", "\(url)/api/v1/namespaces/\(namespace)/pods/\(name)"])
        return TypeIT.object(r.stdout)
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

    /// Kills the server but keeps its directory (an API server that went away).
    func kill9() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    private func start() throws {
        let p = Process()
        // `ip netns exec` execs python in place: the pid is the server's.
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", netns, "/usr/bin/python3", "-u", Self.script, "--dir", dir, "--cert", dir + "/server.crt", "--key", dir + "/server.key"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        pid = p.processIdentifier
        let line = try Self.readLine(out.fileHandleForReading.fileDescriptor, timeoutMs: 15_000)
        guard line.hasPrefix("PORT "), let n = UInt16(line.dropFirst(5)) else {
            throw FakeKubeError("fake API server did not start: \(line)")
        }
        port = n
    }

    /// A CA and a server certificate for 127.0.0.1 (EC P-256: fast to make).
    private func makeCertificates() throws {
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + key + ["-keyout", "\(dir)/ca.key", "-out", caPath, "-days", "2",
                     "-subj", "/CN=skein meta test ca", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir + "/server.ext", atomically: false, encoding: .utf8)
        try openssl(["req"] + key + ["-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=kube-apiserver"])
        try openssl(["x509", "-req", "-in", "\(dir)/server.csr", "-CA", caPath, "-CAkey", "\(dir)/ca.key",
                     "-set_serial", String(UInt32.random(in: 1..<UInt32.max)), "-days", "2",
                     "-out", "\(dir)/server.crt", "-extfile", "\(dir)/server.ext"])
    }

    private func openssl(_ args: [String]) throws {
        let r = run("/usr/bin/openssl", args)
        guard r.status == 0 else { throw FakeKubeError("openssl \(args.prefix(2).joined(separator: " ")) failed: \(r.stderr)") }
    }

    /// One line from `fd`, waiting at most `timeoutMs` in total.
    static func readLine(_ fd: Int32, timeoutMs: Int) throws -> String {
        var bytes: [UInt8] = []
        let end = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while !bytes.contains(0x0A) {
            let left = Int32(max(0, end.timeIntervalSinceNow * 1000))
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&p, 1, left) > 0 else { throw FakeKubeError("timed out waiting for the server's port") }
            var c: UInt8 = 0
            guard Glibc.read(fd, &c, 1) == 1 else { break }
            bytes.append(c)
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct FakeKubeError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
