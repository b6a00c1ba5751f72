import Foundation
import Testing

// Shared support for the root integration tests: they exec the real release binaries
// (SKEIN_BIN / SKEIN_JOURNAL_BIN, set by tools/test.sh) and the reference plugins in /usr/lib/cni,
// in network namespaces and on bridges that each test creates and always removes.

enum Env {
    static var isRoot: Bool { geteuid() == 0 }

    static var skeinBin: String {
        ProcessInfo.processInfo.environment["SKEIN_BIN"] ?? FileManager.default.currentDirectoryPath + "/.build/release/skein"
    }

    static var journalBin: String {
        ProcessInfo.processInfo.environment["SKEIN_JOURNAL_BIN"]
            ?? (skeinBin as NSString).deletingLastPathComponent + "/skein-journal"
    }

    static var haveBinaries: Bool {
        FileManager.default.isExecutableFile(atPath: skeinBin) && FileManager.default.isExecutableFile(atPath: journalBin)
    }

    static var haveReference: Bool { FileManager.default.isExecutableFile(atPath: "/usr/lib/cni/bridge") }

    /// Root, the binaries built, and the tools the tests drive.
    static var canRunKernelTests: Bool { isRoot && haveBinaries }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
    }
}

/// Runs a program with exactly the given environment and stdin; returns its exit status and output.
/// A killed process reports 128 + signal, as a shell would.
@discardableResult
func run(_ path: String, _ args: [String] = [], env: [String: String] = [:], stdin: String = "") -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var environment = env
    if environment["PATH"] == nil { environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" }
    p.environment = environment
    let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = errPipe
    do { try p.run() } catch { return ProcessResult(status: -1, stdout: "", stderr: "\(error)") }
    inPipe.fileHandleForWriting.write(Data(stdin.utf8))
    try? inPipe.fileHandleForWriting.close()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return ProcessResult(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

/// `ip …`, failing the test on error unless `check` is false.
@discardableResult
func ip(_ args: String..., check: Bool = true) -> ProcessResult {
    let r = run("/usr/sbin/ip", args)
    if check && r.status != 0 { Issue.record("ip \(args.joined(separator: " ")) failed: \(r.stderr)") }
    return r
}

/// A test's own world: a unique prefix, a temp state dir, and every namespace and link it made,
/// removed by `cleanup()` (call it in a `defer`).
final class Sandbox {
    let prefix: String
    let dir: String
    private(set) var namespaces: [String] = []
    private(set) var hostLinks: [String] = []

    init(_ tag: String) {
        // ≤ 6 chars of prefix keeps derived names ("<prefix>br", "<prefix>p1") within IFNAMSIZ.
        let rnd = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        prefix = "s" + String(tag.prefix(2)) + rnd
        dir = NSTemporaryDirectory() + "skein-it-\(prefix)-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    var stateDir: String { dir + "/state" }
    var bridge: String { prefix + "br" }

    func netns(_ name: String) -> String {
        let ns = "\(prefix)-\(name)"
        ip("netns", "add", ns)
        namespaces.append(ns)
        return "/var/run/netns/\(ns)"
    }

    func deleteNetns(_ path: String) {
        let ns = (path as NSString).lastPathComponent
        ip("netns", "del", ns, check: false)
    }

    func ownLink(_ name: String) { hostLinks.append(name) }

    func cleanup() {
        for ns in namespaces { ip("netns", "del", ns, check: false) }
        for l in hostLinks + [bridge] { ip("link", "del", l, check: false) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Host veth links that are ports of this sandbox's bridge (what a leak looks like).
    func bridgePorts() -> [String] {
        let r = ip("-o", "link", "show", "master", bridge, check: false)
        return r.stdout.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: ":")
            guard parts.count > 1 else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init)
        }
    }
}

/// A skein config with one bridge + host-local delegate on the sandbox's bridge.
func skeinConfig(_ sb: Sandbox, version: String = "1.0.0", subnet: String = "10.251.0.0/24",
                 extraDelegate: String = "", ipamExtra: String = "") -> String {
    """
    {"cniVersion":"\(version)","name":"\(sb.prefix)","type":"skein","stateDir":"\(sb.stateDir)",
     "delegates":[{"cniVersion":"\(version)","name":"\(sb.prefix)-net","type":"bridge","bridge":"\(sb.bridge)",
       "isGateway":true\(extraDelegate),"ipam":{"type":"host-local","subnet":"\(subnet)"\(ipamExtra)}}]}
    """
}

/// Runs skein with the CNI environment for one attachment.
@discardableResult
func cni(_ command: String, _ sb: Sandbox, container: String, netns: String?, ifname: String = "eth0",
         config: String, args: String? = nil, extraEnv: [String: String] = [:]) -> ProcessResult {
    var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": ifname, "CNI_PATH": "/usr/lib/cni"]
    if let netns { env["CNI_NETNS"] = netns }
    if let args { env["CNI_ARGS"] = args }
    for (k, v) in extraEnv { env[k] = v }
    return run(Env.skeinBin, env: env, stdin: config)
}

/// `skein-journal verify` on the sandbox's journal.
func journalVerify(_ sb: Sandbox) -> ProcessResult {
    run(Env.journalBin, ["verify", "--state-dir", sb.stateDir])
}

/// The journal's replayed state as JSON (`skein-journal replay --json`).
func journalState(_ sb: Sandbox) -> [String: Any] {
    let r = run(Env.journalBin, ["replay", "--state-dir", sb.stateDir, "--json"])
    return ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]) ?? [:]
}

/// IPv4 addresses (CIDR) on `ifname` inside a namespace.
func addresses(netns: String, ifname: String = "eth0") -> [String] {
    let ns = (netns as NSString).lastPathComponent
    let r = ip("-n", ns, "-4", "-o", "addr", "show", "dev", ifname, check: false)
    return r.stdout.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ")
        guard let i = f.firstIndex(of: "inet"), i + 1 < f.count else { return nil }
        return String(f[i + 1])
    }
}
