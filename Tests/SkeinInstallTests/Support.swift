import Foundation
import Testing
@testable import SkeinInstall
import SkeinModel

// A node in a temporary directory: `host/` is the node's root as the DaemonSet mounts it,
// `image/usr/local/bin` the container image's binaries, `sa/` the pod's service-account files.

/// Unchecked: the log is behind a lock, everything else is set in init.
final class TempNode: @unchecked Sendable {
    let dir: String
    var host: String { dir + "/host" }
    var sourceDir: String { dir + "/image/usr/local/bin" }
    var confDir: String { host + "/etc/cni/net.d" }
    var binDir: String { host + "/opt/cni/bin" }
    let environment = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
    private(set) var logs: [String] = []
    private let lock = NSLock()

    init(_ tag: String) throws {
        dir = NSTemporaryDirectory() + "skein-install-\(tag)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        let fm = FileManager.default
        for d in [confDir, binDir, sourceDir, dir + "/sa"] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try setBinaries(version: "1")
        try write(dir + "/sa/token", "token-1")
        try write(dir + "/sa/ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// What the image ships: small scripts standing in for the real binaries.
    func setBinaries(version: String) throws {
        for name in InstallOptions.binaries {
            try write(sourceDir + "/" + name, "#!/bin/sh\necho \(name) \(version)\n", mode: 0o755)
        }
    }

    func options(_ edit: (inout InstallOptions) -> Void = { _ in }) -> InstallOptions {
        var o = InstallOptions()
        o.hostRoot = host
        o.sourceDir = sourceDir
        o.tokenFile = dir + "/sa/token"
        o.caFile = dir + "/sa/ca.crt"
        o.waitTimeoutS = 5
        edit(&o)
        return o
    }

    func installer(_ edit: (inout InstallOptions) -> Void = { _ in }) -> Installer {
        var i = Installer(options: options(edit), environment: environment) { [weak self] line in
            guard let self else { return }
            self.lock.lock(); self.logs.append(line); self.lock.unlock()
        }
        i.pollIntervalMs = 20
        i.logIntervalMs = 100
        return i
    }

    var logLines: [String] { lock.lock(); defer { lock.unlock() }; return logs }

    /// A flannel-like default network config.
    func addDefaultNetwork(_ name: String = "10-flannel.conflist", cniVersion: String = "0.3.1") throws {
        try write(confDir + "/" + name, """
        {"name":"cbr0","cniVersion":"\(cniVersion)","plugins":[
          {"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}},
          {"type":"portmap","capabilities":{"portMappings":true}},
          {"type":"bandwidth","capabilities":{"bandwidth":true,"ips":false}}]}
        """)
    }

    func write(_ path: String, _ text: String, mode: Int = 0o644) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
    }

    func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Every file under the host root with what a write or chmod would change.
    func snapshot() -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        let e = FileManager.default.enumerator(atPath: host)
        while let rel = e?.nextObject() as? String {
            var st = stat()
            guard lstat(host + "/" + rel, &st) == 0 else { continue }
            out[rel] = [Int(st.st_ino), Int(st.st_mode), st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                        st.st_ctim.tv_sec, st.st_ctim.tv_nsec]
        }
        return out
    }

    func mode(_ path: String) -> Int {
        var st = stat()
        return lstat(path, &st) == 0 ? Int(st.st_mode & 0o7777) : -1
    }
}

/// The repository root (this file is Tests/SkeinInstallTests/Support.swift).
let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

func contents(ofRepoFile path: String) throws -> String {
    try String(contentsOfFile: repoRoot + "/" + path, encoding: .utf8)
}

func actions(_ reports: [FileReport]) -> [String: FileReport.Action] {
    Dictionary(reports.map { ($0.path, $0.action) }, uniquingKeysWith: { a, _ in a })
}
