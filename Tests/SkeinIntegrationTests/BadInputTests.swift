import Foundation
import Testing

// Malformed and hostile inputs: each must give the spec's error code (the reference skel's where the
// spec leaves it open) as one error JSON object on stdout with a non-zero exit, and change nothing:
// the replayed journal state is identical, no kernel object appears (bridge ports, links in the
// target netns, namespaces and links with the sandbox prefix), no directory is created from a
// relative path.
//
// Events: input rejected while parsing (environment, stdin, cniVersion, the skein config, the
// delegate's `type`) is never journaled. A request that reaches the reducer and is rejected there
// (an unsupported plugin/IPAM type or bridge key, bad host-local ranges, a requested IP outside the
// range, pool exhaustion) is journaled as addRequested + addFailed{released} in one transaction —
// ARCHITECTURE.md "The path of one ADD", step 3 — so exactly two events appear and the state does
// not change. Those cases say `journaled: true`.

// MARK: - A runner that can send arbitrary bytes

/// Like Support's `run`, but stdin is raw bytes (invalid UTF-8 must reach the plugin as is) and is
/// written from another thread, so a plugin that stops reading early (oversized stdin) neither
/// deadlocks the test nor kills it with SIGPIPE.
private func runRaw(_ path: String, env: [String: String], stdin: [UInt8]) -> ProcessResult {
    signal(SIGPIPE, SIG_IGN)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    var environment = env
    if environment["PATH"] == nil { environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" }
    p.environment = environment
    let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = errPipe
    do { try p.run() } catch { return ProcessResult(status: -1, stdout: "", stderr: "\(error)") }
    // The writer owns a duplicate of the pipe's write end, so the FileHandle can be closed here.
    let wfd = fcntl(inPipe.fileHandleForWriting.fileDescriptor, F_DUPFD_CLOEXEC, 0)
    try? inPipe.fileHandleForWriting.close()
    let bytes = stdin
    let writer = Thread {
        var off = 0
        bytes.withUnsafeBytes { buf in
            while off < buf.count {
                let n = write(wfd, buf.baseAddress! + off, buf.count - off)
                if n > 0 { off += n } else if errno != EINTR { break }
            }
        }
        close(wfd)
    }
    writer.start()
    // skein writes little to stderr: reading stdout to EOF first cannot deadlock on it.
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return ProcessResult(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

// MARK: - Observations

/// Everything a bad input must not change.
private struct World: Equatable {
    var state: String
    var events: Int
    var verifyOK: Bool
    var ports: [String]
    var badNetnsLinks: [String]
    var namespaces: [String]
    var prefixedLinks: [String]
}

private func eventCount(_ sb: Sandbox) -> (count: Int, ok: Bool) {
    let r = run(Env.journalBin, ["verify", "--state-dir", sb.stateDir, "--json"])
    let j = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
    return ((j?["events"] as? NSNumber)?.intValue ?? -1, (j?["ok"] as? Bool) ?? false)
}

/// The last `k` event types, read with mdb_dump (print format: key line, value line).
private func lastEventTypes(_ sb: Sandbox, _ k: Int) -> [String] {
    let r = run("/usr/bin/mdb_dump", ["-p", "-s", "events", sb.stateDir])
    let values = r.stdout.split(separator: "\n").filter { $0.hasPrefix(" {") }
    return values.suffix(k).compactMap { line in
        let j = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst().utf8))) as? [String: Any]
        return j?["type"] as? String
    }
}

private func canonicalJSON(_ v: Any) -> String {
    guard let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]) else { return "\(v)" }
    return String(decoding: d, as: UTF8.self)
}

private func linkNames(_ r: ProcessResult) -> [String] {
    r.stdout.split(separator: "\n").compactMap { line in
        let parts = line.split(separator: ":")
        guard parts.count > 1 else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init)
    }.sorted()
}

private func observe(_ sb: Sandbox, badNetns: String) -> World {
    let (events, ok) = eventCount(sb)
    let ns = (badNetns as NSString).lastPathComponent
    return World(
        state: canonicalJSON(journalState(sb)),
        events: events,
        verifyOK: ok,
        ports: sb.bridgePorts().sorted(),
        badNetnsLinks: linkNames(ip("-n", ns, "-o", "link", "show", check: false)),
        namespaces: ip("netns", "list", check: false).stdout.split(separator: "\n")
            .map { String($0.split(separator: " ").first ?? "") }.filter { $0.hasPrefix(sb.prefix) }.sorted(),
        prefixedLinks: linkNames(ip("-o", "link", "show", check: false)).filter { $0.hasPrefix(sb.prefix) })
}

/// Checks that stdout is exactly one CNI error object with the expected code, and — when the
/// config on stdin was valid — that the error speaks the config's cniVersion (spec "Error": "cniVersion:
/// the same value as provided by the configuration"; README: errors come back in the config's version).
private func expectError(_ r: ProcessResult, code: Int, msgContains: String?, configVersion: String? = nil, _ label: String) {
    #expect(r.status != 0, "\(label): exit status \(r.status), want non-zero; stdout \(r.stdout)")
    guard let obj = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] else {
        Issue.record("\(label): stdout is not one JSON object: \(r.stdout.prefix(500))")
        return
    }
    let extra = Set(obj.keys).subtracting(["cniVersion", "code", "msg", "details"])
    #expect(extra.isEmpty, "\(label): unexpected keys \(extra.sorted()) in \(r.stdout)")
    let got = (obj["code"] as? NSNumber)?.intValue
    #expect(got == code, "\(label): code \(got.map(String.init) ?? "-"), want \(code): \(r.stdout)")
    let msg = obj["msg"] as? String ?? ""
    #expect(!msg.isEmpty, "\(label): empty msg")
    if let configVersion {
        #expect(obj["cniVersion"] as? String == configVersion,
                "\(label): error cniVersion \(obj["cniVersion"] ?? "-"), the config says \(configVersion): \(r.stdout)")
    }
    if let msgContains {
        let text = msg + " " + (obj["details"] as? String ?? "")
        #expect(text.contains(msgContains), "\(label): msg/details do not name \(msgContains): \(r.stdout)")
    }
}

// MARK: - The table

/// What a case gets to build its input from.
struct BadInputContext: Sendable {
    let prefix: String
    let stateDir: String
    let bridge: String
    let n: Int
    let badNetns: String
    let container: String
    /// skein's config for this sandbox, exactly what the baseline ADD used.
    let config: String

    var env: [String: String] {
        ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": container, "CNI_NETNS": badNetns, "CNI_IFNAME": "eth0",
         "CNI_PATH": "/usr/lib/cni", "SKEIN_STATE_DIR": stateDir]
    }

    /// A config whose single delegate is `delegate` (a JSON object body) on this sandbox.
    func withDelegate(_ delegate: String) -> String {
        """
        {"cniVersion":"1.0.0","name":"\(prefix)","type":"skein","stateDir":"\(stateDir)","delegates":[\(delegate)]}
        """
    }

    func bridgeDelegate(extra: String = "", ipam: String? = nil) -> String {
        let ipamBody = ipam ?? "{\"type\":\"host-local\",\"subnet\":\"10.252.\(n).0/24\"}"
        return "{\"name\":\"\(prefix)-net\",\"type\":\"bridge\",\"bridge\":\"\(bridge)\"\(extra),\"ipam\":\(ipamBody)}"
    }
}

struct BadCase: Sendable, CustomTestStringConvertible {
    let name: String
    let code: Int
    var msgContains: String? = nil
    /// Rejected by the reducer, so journaled as addRequested + addFailed (see the header).
    var journaled = false
    let input: @Sendable (BadInputContext) -> (env: [String: String], stdin: [UInt8])

    var testDescription: String { name }

    static func env(_ f: @escaping @Sendable (inout [String: String]) -> Void) -> @Sendable (BadInputContext) -> ([String: String], [UInt8]) {
        { c in
            var e = c.env
            f(&e)
            return (e, Array(c.config.utf8))
        }
    }

    static func config(_ f: @escaping @Sendable (BadInputContext) -> String) -> @Sendable (BadInputContext) -> ([String: String], [UInt8]) {
        { c in (c.env, Array(f(c).utf8)) }
    }

    static let all: [BadCase] = [
        // Environment: code 4 (skel's getCmdArgsFromEnv / ValidateContainerID / ValidateInterfaceName).
        // The reference skel prints its "about" text and exits 0 when CNI_COMMAND is unset; the spec
        // says 4 for a missing required variable, and a runtime must not mistake that for success.
        BadCase(name: "missing CNI_COMMAND", code: 4, msgContains: "CNI_COMMAND", input: env { $0["CNI_COMMAND"] = nil }),
        BadCase(name: "unknown CNI_COMMAND", code: 4, msgContains: "FROB", input: env { $0["CNI_COMMAND"] = "FROB" }),
        BadCase(name: "missing CNI_CONTAINERID for ADD", code: 4, msgContains: "CNI_CONTAINERID",
                input: env { $0["CNI_CONTAINERID"] = nil }),
        BadCase(name: "missing CNI_IFNAME", code: 4, msgContains: "CNI_IFNAME", input: env { $0["CNI_IFNAME"] = nil }),
        // 16 bytes: IFNAMSIZ includes the NUL; skel's ValidateInterfaceName says 4 "interface name is too long".
        BadCase(name: "CNI_IFNAME of 16 bytes", code: 4, msgContains: "too long",
                input: env { $0["CNI_IFNAME"] = "abcdefghijklmnop" }),
        BadCase(name: "CNI_IFNAME with /", code: 4, input: env { $0["CNI_IFNAME"] = "et/h0" }),
        // skel's ValidateContainerID: 4 "invalid characters in containerID".
        BadCase(name: "CNI_CONTAINERID ../etc", code: 4, msgContains: "containerID",
                input: env { $0["CNI_CONTAINERID"] = "../etc" }),
        // Not a network namespace. The reference bridge answers 999 (ErrInternal, "failed to open
        // netns"), which is not a spec code; the spec's code for an invalid environment variable is 4.
        BadCase(name: "CNI_NETNS is a regular file", code: 4, msgContains: "/etc/hostname",
                input: env { $0["CNI_NETNS"] = "/etc/hostname" }),
        BadCase(name: "CNI_NETNS is a directory", code: 4, msgContains: "/tmp", input: env { $0["CNI_NETNS"] = "/tmp" }),
        BadCase(name: "CNI_NETNS does not exist", code: 4, msgContains: "/nonexistent",
                input: env { $0["CNI_NETNS"] = "/nonexistent/skein-it/netns" }),
        BadCase(name: "SKEIN_STATE_DIR relative", code: 4, msgContains: "SKEIN_STATE_DIR",
                input: env { $0["SKEIN_STATE_DIR"] = "relative-skein-it/state" }),

        // Stdin: code 6 (skel's validateConfig: unmarshal fails).
        BadCase(name: "stdin not JSON", code: 6, input: config { _ in "this is { not json" }),
        // > 1 MiB: refused unread; a decode failure within skein's limits (README / CNIRequest).
        BadCase(name: "stdin over 1 MiB", code: 6, input: config { c in
            String(c.config.dropLast()) + ",\"pad\":\"" + String(repeating: "x", count: (1 << 20) + 16) + "\"}"
        }),
        BadCase(name: "JSON nested 10000 deep", code: 6, input: config { c in
            String(c.config.dropLast()) + ",\"deep\":" + String(repeating: "[", count: 10_000)
                + String(repeating: "]", count: 10_000) + "}"
        }),
        BadCase(name: "invalid UTF-8 in a string", code: 6, input: { c in
            var bytes = Array(c.config.utf8.dropLast())
            bytes += Array(",\"logLevel\":\"".utf8) + [0xFF, 0xFE, 0xC3] + Array("\"}".utf8)
            return (c.env, bytes)
        }),
        BadCase(name: "stdin is a JSON array", code: 6, input: config { c in "[\(c.config)]" }),

        // Version: code 1 (skel's VersionReconciler: "incompatible CNI versions").
        BadCase(name: "cniVersion 9.9.9", code: 1, msgContains: "9.9.9", input: config { c in
            c.config.replacingOccurrences(of: "\"cniVersion\":\"1.0.0\"", with: "\"cniVersion\":\"9.9.9\"")
        }),

        // Skein config: code 7.
        BadCase(name: "missing delegates", code: 7, msgContains: "delegates", input: config { c in
            "{\"cniVersion\":\"1.0.0\",\"name\":\"\(c.prefix)\",\"type\":\"skein\",\"stateDir\":\"\(c.stateDir)\"}"
        }),
        BadCase(name: "delegate type ../../bin/sh", code: 7, msgContains: "type", input: config { c in
            c.withDelegate("{\"name\":\"\(c.prefix)-net\",\"type\":\"../../bin/sh\"}")
        }),
        BadCase(name: "stateDir relative/path", code: 7, msgContains: "stateDir", input: config { c in
            c.config.replacingOccurrences(of: "\"stateDir\":\"\(c.stateDir)\"", with: "\"stateDir\":\"relative/path\"")
        }),
        BadCase(name: "stateDir /tmp/../etc", code: 7, msgContains: "stateDir", input: config { c in
            c.config.replacingOccurrences(of: "\"stateDir\":\"\(c.stateDir)\"", with: "\"stateDir\":\"/tmp/../etc\"")
        }),

        // A type that is neither built in nor in CNI_PATH: code 103, and nothing stays held (a plugin
        // that cannot be found never ran, so there is nothing for its DEL to undo).
        BadCase(name: "plugin type not in CNI_PATH", code: 103, msgContains: "no-such-plugin", journaled: true,
                input: config { c in c.withDelegate("{\"name\":\"\(c.prefix)-net\",\"type\":\"no-such-plugin\"}") }),
        // Keys the built-in does not implement: code 2 naming the key (spec: "unsupported field").
        BadCase(name: "ipMasq true", code: 2, msgContains: "ipMasq", journaled: true, input: config { c in
            c.withDelegate(c.bridgeDelegate(extra: ",\"ipMasq\":true"))
        }),
        BadCase(name: "vlan 100", code: 2, msgContains: "vlan", journaled: true, input: config { c in
            c.withDelegate(c.bridgeDelegate(extra: ",\"vlan\":100"))
        }),
        // host-local config and requested IPs: code 7.
        BadCase(name: "subnet /33", code: 7, journaled: true, input: config { c in
            c.withDelegate(c.bridgeDelegate(ipam: "{\"type\":\"host-local\",\"subnet\":\"10.252.\(c.n).0/33\"}"))
        }),
        BadCase(name: "rangeStart outside the subnet", code: 7, msgContains: "RangeStart", journaled: true, input: config { c in
            c.withDelegate(c.bridgeDelegate(
                ipam: "{\"type\":\"host-local\",\"subnet\":\"10.252.\(c.n).0/24\",\"rangeStart\":\"10.9.9.5\"}"))
        }),
        BadCase(name: "CNI_ARGS IP outside the range", code: 7, msgContains: "10.9.9.9", journaled: true,
                input: env { $0["CNI_ARGS"] = "IgnoreUnknown=1;IP=10.9.9.9" }),
    ]
}

// MARK: - Suite

@Suite("Bad input: the right code, and nothing changes", .enabled(if: Env.canRunKernelTests))
struct BadInputTests {
    /// Subnet index per case: 10.252.(60 + i).0/24.
    static let indexed: [(Int, BadCase)] = Array(BadCase.all.enumerated()).map { ($0.offset + 60, $0.element) }

    @Test("rejected with the spec's code, nothing changed", arguments: BadCase.all)
    func badInput(_ bad: BadCase) throws {
        let n = Self.indexed.first { $0.1.name == bad.name }!.0
        let sb = Sandbox("bi")
        defer { sb.cleanup() }
        let cwd = FileManager.default.currentDirectoryPath
        // A baseline attachment, so the journal and the state are not empty.
        let baseNS = sb.netns("base")
        let badNS = sb.netns("bad")
        let config = skeinConfig(sb, subnet: "10.252.\(n).0/24")
        let base = cni("ADD", sb, container: "base-\(sb.prefix)", netns: baseNS, config: config)
        try #require(base.status == 0, "baseline ADD failed: \(base.stdout) \(base.stderr)")

        let ctx = BadInputContext(prefix: sb.prefix, stateDir: sb.stateDir, bridge: sb.bridge, n: n, badNetns: badNS,
                                  container: "bad-\(sb.prefix)", config: config)
        let before = observe(sb, badNetns: badNS)
        #expect(before.events > 0 && before.verifyOK)
        #expect(before.badNetnsLinks == ["lo"])

        let (env, stdin) = bad.input(ctx)
        let r = runRaw(Env.skeinBin, env: env, stdin: stdin)
        // Only the environment is bad when stdin is the baseline's (valid, 1.0.0) config.
        let validConfig = stdin == Array(config.utf8)
        expectError(r, code: bad.code, msgContains: bad.msgContains, configVersion: validConfig ? "1.0.0" : nil, bad.name)

        let after = observe(sb, badNetns: badNS)
        #expect(after.state == before.state, "\(bad.name): journal state changed:\n before \(before.state)\n after  \(after.state)")
        let newEvents = bad.journaled ? 2 : 0
        #expect(after.events == before.events + newEvents,
                "\(bad.name): \(after.events - before.events) new events, want \(newEvents)")
        if bad.journaled && after.events == before.events + 2 {
            #expect(lastEventTypes(sb, 2) == ["addRequested", "addFailed"], "\(bad.name): last events \(lastEventTypes(sb, 2))")
        }
        #expect(after.verifyOK, "\(bad.name): skein-journal verify fails after the bad input")
        #expect(after.ports == before.ports, "\(bad.name): bridge ports \(before.ports) → \(after.ports)")
        #expect(after.badNetnsLinks == ["lo"], "\(bad.name): links in the target netns: \(after.badNetnsLinks)")
        #expect(after.namespaces == before.namespaces, "\(bad.name): namespaces \(before.namespaces) → \(after.namespaces)")
        #expect(after.prefixedLinks == before.prefixedLinks, "\(bad.name): links \(before.prefixedLinks) → \(after.prefixedLinks)")
        for rel in ["relative", "relative-skein-it"] {
            #expect(!FileManager.default.fileExists(atPath: cwd + "/" + rel), "\(bad.name): created \(cwd)/\(rel)")
        }

        // The runtime always follows an ADD with a DEL, even a failed one: it must succeed and hold nothing.
        if env["CNI_COMMAND"] == "ADD" && bad.journaled {
            var delEnv = env
            delEnv["CNI_COMMAND"] = "DEL"
            let del = runRaw(Env.skeinBin, env: delEnv, stdin: stdin)
            #expect(del.status == 0, "\(bad.name): DEL after the failed ADD: \(del.stdout) \(del.stderr)")
        }
        let baseDel = cni("DEL", sb, container: "base-\(sb.prefix)", netns: baseNS, config: config)
        #expect(baseDel.status == 0, "baseline DEL failed: \(baseDel.stdout)")
        #expect(sb.bridgePorts().isEmpty)
        #expect(journalVerify(sb).status == 0)
    }

    @Test("pool exhaustion: the second pod of a /30 gets 101 and holds nothing")
    func poolExhaustion() throws {
        let sb = Sandbox("px")
        defer { sb.cleanup() }
        let n = 90
        let ns1 = sb.netns("p1"), ns2 = sb.netns("p2")
        // A /30 has one allocatable address after the gateway: .2.
        let config = skeinConfig(sb, subnet: "10.252.\(n).0/30")
        let first = cni("ADD", sb, container: "one-\(sb.prefix)", netns: ns1, config: config)
        try #require(first.status == 0, "first ADD failed: \(first.stdout)")
        #expect(addresses(netns: ns1) == ["10.252.\(n).2/30"])

        let before = observe(sb, badNetns: ns2)
        let second = cni("ADD", sb, container: "two-\(sb.prefix)", netns: ns2, config: config)
        expectError(second, code: 101, msgContains: nil, configVersion: "1.0.0", "exhausted pool")
        let after = observe(sb, badNetns: ns2)
        #expect(after.state == before.state, "state changed:\n before \(before.state)\n after  \(after.state)")
        #expect(after.events == before.events + 2, "\(after.events - before.events) new events, want 2 (addRequested + addFailed)")
        #expect(lastEventTypes(sb, 2) == ["addRequested", "addFailed"])
        #expect(after.verifyOK)
        #expect(after.ports == before.ports && after.ports.count == 1, "ports \(before.ports) → \(after.ports)")
        #expect(after.badNetnsLinks == ["lo"], "second netns has \(after.badNetnsLinks)")
        let allocations = journalState(sb)["allocations"] as? [Any] ?? []
        #expect(allocations.count == 1, "allocations: \(allocations)")

        // The runtime's DEL after the failed ADD succeeds; once the first pod is gone, .2 is free again.
        #expect(cni("DEL", sb, container: "two-\(sb.prefix)", netns: ns2, config: config).status == 0)
        #expect(cni("DEL", sb, container: "one-\(sb.prefix)", netns: ns1, config: config).status == 0)
        let retry = cni("ADD", sb, container: "two-\(sb.prefix)", netns: ns2, config: config)
        #expect(retry.status == 0, "ADD after release failed: \(retry.stdout)")
        #expect(addresses(netns: ns2) == ["10.252.\(n).2/30"])
        #expect(cni("DEL", sb, container: "two-\(sb.prefix)", netns: ns2, config: config).status == 0)
        #expect(sb.bridgePorts().isEmpty)
        #expect(journalVerify(sb).status == 0)
    }

    @Test("VERSION with no stdin lists 0.3.0 … 1.1.0 and touches nothing")
    func versionWithoutStdin() throws {
        let sb = Sandbox("vr")
        defer { sb.cleanup() }
        let r = runRaw(Env.skeinBin, env: ["CNI_COMMAND": "VERSION", "SKEIN_STATE_DIR": sb.stateDir], stdin: [])
        #expect(r.status == 0, "VERSION exit \(r.status): \(r.stdout) \(r.stderr)")
        let obj = try #require((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any],
                               "VERSION stdout is not one JSON object: \(r.stdout)")
        #expect(Set(obj.keys) == ["cniVersion", "supportedVersions"], "keys \(obj.keys.sorted())")
        let versions = obj["supportedVersions"] as? [String] ?? []
        for v in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            #expect(versions.contains(v), "supportedVersions \(versions) lacks \(v)")
        }
        #expect(obj["cniVersion"] as? String == "1.1.0")
        #expect(!FileManager.default.fileExists(atPath: sb.stateDir), "VERSION created the state dir")

        // With a config on stdin the spec says the asked-for version is echoed.
        let asked = runRaw(Env.skeinBin, env: ["CNI_COMMAND": "VERSION"], stdin: Array("{\"cniVersion\":\"0.4.0\"}".utf8))
        #expect(asked.status == 0)
        let askedObj = (try? JSONSerialization.jsonObject(with: Data(asked.stdout.utf8))) as? [String: Any]
        #expect(askedObj?["cniVersion"] as? String == "0.4.0", "VERSION with 0.4.0 on stdin: \(asked.stdout)")
    }
}
