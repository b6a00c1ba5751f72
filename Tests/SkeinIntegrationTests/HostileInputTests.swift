import Foundation
import SkeinModel
import Testing

// Hostile input (issue 7): every case of Hostile/catalogue.json (its "about" explains the format)
// against the real release binary, each in a node of its own (TypeSupport's Node via MetaNode, so
// a link skein wrongly made dies with the node's namespace). A case must give its spec code as
// exit status 1 with one CNI error object on stdout — never a signal — and change nothing: the
// replayed journal state and the links of the node and both pods are as before, the journal still
// verifies, the canary executable never ran, and no path the case names appeared. Events: none,
// unless the case says `refused` (exactly addRequested + addFailed: a refusal journaled by the
// reducer) or `rollback` (a meta ADD that attached and then undid). The runtime's DEL after the
// failure must then exit 0 or with an error object, and still leave the baseline pod untouched.
// Subnets 10.248.1–9.0/24, inside each case's own node namespace.

// MARK: - The catalogue

struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let code: Int
    /// none, refused or rollback.
    let journal: String
    let entry: JSONObject

    var testDescription: String { name }
    var command: String { entry["env"]?["CNI_COMMAND"]?.string ?? "ADD" }
}

enum HostileCatalogue {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Hostile/catalogue.json").path

    static let document: JSON? = FileManager.default.contents(atPath: path).flatMap { try? JSON.parse([UInt8]($0), limits: .stored) }

    static var world: JSONObject { document?["world"]?.object ?? JSONObject() }

    static let cases: [HostileCase] = (document?["cases"]?.array ?? []).compactMap { item in
        guard let o = item.object, let name = o["name"]?.string, let code = o["code"]?.int else { return nil }
        return HostileCase(name: name, code: code, journal: o["journal"]?.string ?? "none", entry: o)
    }
}

// MARK: - One case's world

/// The node, its files, the baseline pod and the empty pod the hostile request targets.
final class HostileWorld {
    let m: MetaNode
    let pod: String
    let basePod: String
    private(set) var vars: [String: String] = [:]

    init(_ c: HostileCase) {
        m = MetaNode("hz")
        pod = m.node.pod("x")
        basePod = m.node.pod("b")
        vars = ["PREFIX": m.prefix, "DIR": m.dir, "STATE": m.node.sb.stateDir, "NADDIR": m.nadDir, "CONFDIR": m.confDir,
                "CWD": FileManager.default.currentDirectoryPath, "NETNS": pod, "BASE_NETNS": basePod]
        let base = config(HostileCase(name: "baseline", code: 0, journal: "none", entry: JSONObject()))
        vars["CONFIG"] = base
        vars["CONFIG_BODY"] = String(base.dropLast())
        writeFiles(HostileCatalogue.world["files"]?.object)
        writeFiles(c.entry["files"]?.object)
        chmod(m.dir + "/canary", 0o755)
    }

    func cleanup() { m.cleanup() }

    func expand(_ s: String) -> String {
        guard s.contains("{{") else { return s }
        var out = s
        for (k, v) in vars { out = out.replacingOccurrences(of: "{{\(k)}}", with: v) }
        return out
    }

    /// Parts (see the catalogue's "about") as bytes.
    func bytes(_ parts: JSON) -> [UInt8] {
        if let s = parts.string { return Array(expand(s).utf8) }
        var out: [UInt8] = []
        for part in parts.array ?? [] {
            if let s = part.string {
                out += Array(expand(s).utf8)
            } else if let r = part["repeat"]?.string, let n = part["count"]?.int {
                out += Array(String(repeating: expand(r), count: n).utf8)
            } else if let hex = part["hex"]?.string {
                out += stride(from: 0, to: hex.count, by: 2).map { i in
                    UInt8(hex.dropFirst(i).prefix(2), radix: 16)!
                }
            } else if let n = part["keys"]?.int {
                out += Array((0..<n).map { ",\"k\($0)\":0" }.joined().utf8)
            } else if let pad = part["pad"]?.string, let to = part["to"]?.int, let suffix = part["suffix"]?.string {
                out += [UInt8](repeating: pad.utf8.first!, count: max(0, to - out.count - suffix.utf8.count)) + Array(suffix.utf8)
            }
        }
        return out
    }

    /// A config value: {"parts": […]} is a string made of parts; anything else is as written.
    func value(_ v: JSON) -> JSON {
        if let parts = v["parts"] { return .string(String(decoding: bytes(parts), as: UTF8.self)) }
        return v
    }

    /// The world's config with the case's delegate, top-level keys and pod annotations.
    func config(_ c: HostileCase) -> String {
        var o = HostileCatalogue.world["config"]?.object ?? JSONObject()
        if let d = c.entry["delegate"] { o["delegates"] = .array([d]) }
        for (k, v) in c.entry["config"]?.object?.pairs ?? [] { o[k] = value(v) }
        if let annotations = c.entry["annotations"]?.object {
            let values = annotations.pairs.map { ($0.key, value($0.value)) }
            o["capabilities"] = .obj([("podAnnotations", .bool(true))])
            o["runtimeConfig"] = .obj([("podAnnotations", .obj(values))])
        }
        return expand(JSON.object(o).serialized())
    }

    func stdin(_ c: HostileCase) -> [UInt8] {
        if let parts = c.entry["stdin"] { return bytes(parts) }
        return Array(config(c).utf8)
    }

    /// The hostile request's environment: an ADD of container `hostile` in pod default/hostile.
    func env(_ c: HostileCase) -> [String: String] {
        var args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=hostile"
        if let networks = c.entry["networks"] { args += ";SKEIN_NETWORKS=" + String(decoding: bytes(value(networks)), as: UTF8.self) }
        var env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "hostile", "CNI_NETNS": pod, "CNI_IFNAME": "eth0",
                   "CNI_PATH": "/usr/lib/cni", "CNI_ARGS": args]
        for (k, v) in c.entry["env"]?.object?.pairs ?? [] {
            env[k] = v.isNull ? nil : String(decoding: bytes(v), as: UTF8.self)
        }
        return env
    }

    private func writeFiles(_ files: JSONObject?) {
        for (name, content) in files?.pairs ?? [] {
            let path = m.dir + "/" + name
            try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if content["fifo"]?.bool == true {
                mkfifo(path, 0o644)
            } else if let target = content["symlink"]?.string {
                symlink(expand(target), path)
            } else {
                _ = FileManager.default.createFile(atPath: path, contents: Data(bytes(content)))
            }
        }
    }

    /// skein in the node, with raw stdin.
    func skein(env: [String: String], stdin: [UInt8]) -> ProcessResult {
        hostileRun(["/usr/sbin/ip", "netns", "exec", m.node.host, Env.skeinBin], env: env, stdin: stdin)
    }

    var canaryRan: Bool { FileManager.default.fileExists(atPath: m.dir + "/canary-ran") }
}

/// Runs a program with raw stdin written from another thread: a plugin that stops reading early
/// (oversized stdin) neither deadlocks the test nor kills it with SIGPIPE. 128 + signal if killed.
func hostileRun(_ argv: [String], env: [String: String], stdin: [UInt8]) -> ProcessResult {
    signal(SIGPIPE, SIG_IGN)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0])
    p.arguments = Array(argv.dropFirst())
    p.environment = env.merging(["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]) { mine, _ in mine }
    let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
    (p.standardInput, p.standardOutput, p.standardError) = (inPipe, outPipe, errPipe)
    do { try p.run() } catch { return ProcessResult(status: -1, stdout: "", stderr: "\(error)") }
    let wfd = fcntl(inPipe.fileHandleForWriting.fileDescriptor, F_DUPFD_CLOEXEC, 0)
    try? inPipe.fileHandleForWriting.close()
    let writer = Thread {
        stdin.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(wfd, buf.baseAddress! + off, buf.count - off)
                if n > 0 { off += n } else if errno != EINTR { break }
            }
        }
        close(wfd)
    }
    writer.start()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return ProcessResult(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

// MARK: - Observations

/// Everything a hostile request must leave as it was.
struct HostileSnapshot: Equatable {
    var state: String
    var events: Int
    var verifyOK: Bool
    var nodeLinks: [String]
    /// "dev address/len" of every link in the node, and its routes.
    var nodeAddresses: [String]
    var nodeRoutes: [String]
    var podLinks: [String]
    var basePodLinks: [String]
    var basePodAddresses: [String]

    init(_ w: HostileWorld) {
        let sb = w.m.node.sb
        state = TypeIT.canonical(journalState(sb))
        let v = run(Env.journalBin, ["verify", "--state-dir", sb.stateDir, "--json"])
        let j = TypeIT.object(v.stdout)
        events = (j?["events"] as? NSNumber)?.intValue ?? -1
        verifyOK = (j?["ok"] as? Bool) ?? false
        nodeLinks = TypeIT.links(w.m.node.host).map(\.name).sorted()
        nodeAddresses = Self.addresses(w.m.node.host)
        nodeRoutes = (TypeIT.routes(w.m.node.host) + TypeIT.routes(w.m.node.host, v6: true)).filter { !$0.contains("\"fe80::/64\"") }
        podLinks = TypeIT.links(w.pod).map(\.name).sorted()
        basePodLinks = TypeIT.links(w.basePod).map(\.name).sorted()
        basePodAddresses = Self.addresses(w.basePod)
    }

    /// IPv6 link-local addresses (and their fe80::/64 routes) are left out: the kernel adds them on
    /// its own, a moment after a link comes up, and skein never sets them.
    static func addresses(_ ns: String) -> [String] {
        TypeIT.array(run("/usr/sbin/ip", ["-n", SkeinIT.nsName(ns), "-j", "addr", "show"]).stdout).flatMap { link in
            ((link["addr_info"] as? [[String: Any]]) ?? []).filter { ($0["scope"] as? String) != "link" }.map { a in
                "\(link["ifname"] ?? "?") \(a["local"] ?? "?")/\((a["prefixlen"] as? NSNumber)?.intValue ?? -1)"
            }
        }.sorted()
    }

    /// The attachments (key and status) and allocations of a replayed state, for messages.
    static func summary(_ state: String) -> String {
        let o = TypeIT.object(state) ?? [:]
        let atts = (o["attachments"] as? [[String: Any]] ?? []).map { a -> String in
            let k = a["key"] as? [String: Any] ?? [:]
            return "\(k["containerID"] ?? "?")/\(k["ifname"] ?? "?") \(a["status"] ?? "?")"
        }
        let allocs = (o["allocations"] as? [[String: Any]] ?? []).map { "\($0["ip"] ?? "?") → \($0["holder"] ?? "?")" }
        return "attachments \(atts), allocations \(allocs)"
    }
}

/// The types of the journal's events after the first `skip`.
func eventTypes(_ sb: Sandbox, after skip: Int) -> [String] {
    SkeinIT.events(sb).dropFirst(max(0, skip)).compactMap { TypeIT.object($0)?["type"] as? String }
}

/// Exit 1 (not a signal) and exactly one CNI error object with the expected code.
func expectCNIError(_ r: ProcessResult, code: Int?, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 1, "\(label): exit status \(r.status), want 1: \(r.stdout.prefix(400)) \(r.stderr.suffix(400))",
            sourceLocation: sourceLocation)
    guard let obj = TypeIT.object(r.stdout) else {
        Issue.record("\(label): stdout is not one JSON object: \(r.stdout.prefix(400))", sourceLocation: sourceLocation)
        return
    }
    let extra = Set(obj.keys).subtracting(["cniVersion", "code", "msg", "details"])
    #expect(extra.isEmpty && !((obj["msg"] as? String) ?? "").isEmpty, "\(label): not a CNI error: \(r.stdout.prefix(400))",
            sourceLocation: sourceLocation)
    if let code {
        #expect((obj["code"] as? NSNumber)?.intValue == code, "\(label): want code \(code): \(r.stdout.prefix(600))",
                sourceLocation: sourceLocation)
    }
}

// MARK: - Suite

@Suite("Hostile input: the spec's code, no crash, no state change")
struct HostileInputTests {
    static let coveredTopics = ["type", "CNI_IFNAME", "CNI_CONTAINERID", "CNI_NETNS", "stateDir", "deep", "MiB", "UTF-8",
                                "subnet", "range", "networks (comma form)", "networks (JSON form)", "NAD", "namespaceIsolation",
                                "sysctl", "bridge mtu"]

    @Test func catalogueIsWellFormed() {
        let cases = HostileCatalogue.cases
        #expect(cases.count >= 150, "catalogue \(HostileCatalogue.path) has \(cases.count) cases")
        #expect(cases.count == HostileCatalogue.document?["cases"]?.array?.count, "an entry lacks name or code")
        #expect(Set(cases.map(\.name)).count == cases.count, "case names repeat")
        for c in cases {
            #expect(["none", "refused", "rollback"].contains(c.journal), "\(c.name): journal \(c.journal)")
            #expect([1, 2, 3, 4, 5, 6, 7, 11, 100, 101].contains(c.code), "\(c.name): code \(c.code) is not one skein uses")
        }
        for topic in Self.coveredTopics { #expect(cases.contains { $0.name.contains(topic) }, "no case about \(topic)") }
    }

    @Test("refused as the spec says, nothing changed", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries"),
          arguments: HostileCatalogue.cases)
    func hostile(_ c: HostileCase) throws {
        let w = HostileWorld(c)
        defer { w.cleanup() }
        let sb = w.m.node.sb
        try baselineAdd(w)
        let before = HostileSnapshot(w)
        try #require(before.verifyOK && before.events > 0 && before.podLinks == ["lo"], "\(c.name): baseline journal or pods")

        let env = w.env(c), stdin = w.stdin(c)
        let r = w.skein(env: env, stdin: stdin)
        expectCNIError(r, code: c.code, c.name)

        let after = HostileSnapshot(w)
        expectUnchanged(c, before, after, w)
        expectEvents(c, before.events, after.events, sb)

        // The runtime DELs after a failed ADD: that must not crash or touch the baseline either.
        if c.command == "ADD" && c.entry["del_expect"]?.string != "skip" {
            var delEnv = env
            delEnv["CNI_COMMAND"] = "DEL"
            let del = w.skein(env: delEnv, stdin: stdin)
            if del.status != 0 { expectCNIError(del, code: nil, "\(c.name): the DEL after it") }
            let afterDel = HostileSnapshot(w)
            #expect(afterDel.state == before.state,
                    "\(c.name): the DEL after it changed the state: \(HostileSnapshot.summary(before.state)) → \(HostileSnapshot.summary(afterDel.state))")
            #expect(afterDel.basePodLinks == before.basePodLinks && afterDel.verifyOK, "\(c.name): the DEL after it hurt the baseline")
        }
        let baseDel = w.m.skein("DEL", container: "base", netns: w.basePod, config: w.vars["CONFIG"]!, args: Self.baselineArgs)
        #expect(baseDel.status == 0, "\(c.name): baseline DEL: \(baseDel.stdout) \(baseDel.stderr)")
        TypeIT.expectNothingHeld(w.m.node, c.name)
    }

    static let baselineArgs = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=base;SKEIN_NETWORKS=good-net"

    /// The baseline pod: eth0 on the world's bridge network and net1 on good-net, so the journal
    /// and the kernel hold something a hostile request could damage.
    func baselineAdd(_ w: HostileWorld) throws {
        let add = w.m.skein("ADD", container: "base", netns: w.basePod, config: w.vars["CONFIG"]!, args: Self.baselineArgs)
        try #require(add.status == 0, "baseline ADD failed: \(add.stdout) \(add.stderr)")
        try #require(TypeIT.links(w.basePod).map(\.name).sorted() == ["eth0", "lo", "net1"], "baseline pod links")
    }

    func expectUnchanged(_ c: HostileCase, _ before: HostileSnapshot, _ after: HostileSnapshot, _ w: HostileWorld) {
        #expect(after.state == before.state,
                "\(c.name): journal state changed: \(HostileSnapshot.summary(before.state)) → \(HostileSnapshot.summary(after.state))")
        #expect(after.verifyOK, "\(c.name): skein-journal verify fails afterwards")
        #expect(after.nodeLinks == before.nodeLinks, "\(c.name): node links \(before.nodeLinks) → \(after.nodeLinks)")
        #expect(after.nodeAddresses == before.nodeAddresses, "\(c.name): node addresses \(before.nodeAddresses) → \(after.nodeAddresses)")
        #expect(after.nodeRoutes == before.nodeRoutes, "\(c.name): node routes \(before.nodeRoutes) → \(after.nodeRoutes)")
        #expect(after.basePodAddresses == before.basePodAddresses, "\(c.name): baseline pod addresses changed")
        #expect(after.podLinks == ["lo"], "\(c.name): links in the target pod: \(after.podLinks)")
        #expect(after.basePodLinks == before.basePodLinks, "\(c.name): baseline pod links \(before.basePodLinks) → \(after.basePodLinks)")
        #expect(!w.canaryRan, "\(c.name): the canary executable ran")
        for path in c.entry["absent"]?.array ?? [] {
            let p = w.expand(path.string ?? "")
            #expect(!FileManager.default.fileExists(atPath: p), "\(c.name): created \(p)")
        }
    }

    func expectEvents(_ c: HostileCase, _ before: Int, _ after: Int, _ sb: Sandbox) {
        let added = eventTypes(sb, after: before)
        #expect(added.count == after - before, "\(c.name): event count \(before) → \(after), read \(added)")
        switch c.journal {
        case "refused":
            #expect(added == ["addRequested", "addFailed"], "\(c.name): new events \(added), want addRequested + addFailed")
        case "rollback":
            let allowed: Set = ["addRequested", "addApplied", "addFailed", "delRequested", "delApplied"]
            #expect(added.contains("addFailed") && Set(added).isSubset(of: allowed), "\(c.name): new events \(added)")
        default:
            #expect(added.isEmpty, "\(c.name): new events \(added), want none")
        }
    }
}
