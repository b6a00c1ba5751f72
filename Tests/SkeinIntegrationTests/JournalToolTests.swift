import Foundation
import Testing

// skein-journal's history commands on a journal made by the real binary: ADD/DEL of pods, an ADD
// that crashed after its request (SKEIN_FAILPOINT) and the DEL that recovered it, and a GC. Then
// explain, replay --at, audit export and audit verify — on a copy of the state directory, as on a
// node's state taken elsewhere — and tampering: an export whose raw bytes are edited, and a journal
// event rewritten with mdb_load, which both `verify` and the audit chain catch. Subnet 10.254.21.0/24.

@Suite(.enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN, SKEIN_JOURNAL_BIN)"))
struct JournalToolTests {
    static let n = 21

    static func podArgs(_ name: String) -> String {
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=team;K8S_POD_NAME=\(name);K8S_POD_UID=uid-\(name)"
    }

    func tool(_ args: [String]) -> ProcessResult { run(Env.journalBin, args) }

    /// Builds the journal; returns web's IP.
    func makeHistory(_ sb: Sandbox, config: String) -> String? {
        let nsWeb = sb.netns("web"), nsDb = sb.netns("db"), nsCrash = sb.netns("crash")
        let web = cni("ADD", sb, container: "jtweb", netns: nsWeb, config: config, args: Self.podArgs("web"))
        #expect(web.status == 0, "ADD web: \(web.stdout) \(web.stderr)")
        #expect(cni("ADD", sb, container: "jtdb", netns: nsDb, config: config, args: Self.podArgs("db")).status == 0)
        #expect(cni("DEL", sb, container: "jtweb", netns: nsWeb, config: config, args: Self.podArgs("web")).status == 0)
        let crash = cni("ADD", sb, container: "jtcrash", netns: nsCrash, config: config, args: Self.podArgs("crash"),
                        extraEnv: ["SKEIN_FAILPOINT": "add-after-request"])
        #expect(crash.status == 137, "crashed ADD: \(crash.status) \(crash.stderr)")
        #expect(cni("DEL", sb, container: "jtcrash", netns: nsCrash, config: config, args: Self.podArgs("crash")).status == 0)
        let gcConfig = SkeinIT.withKeys(config, "\"cni.dev/valid-attachments\":[]")
        let gc = cni("GC", sb, container: "jtdb", netns: nil, config: gcConfig)
        #expect(gc.status == 0, "GC: \(gc.stdout) \(gc.stderr)")
        SkeinIT.expectClean(sb, netns: nil)
        return SkeinIT.firstIP(web)
    }

    func explainJSON(_ dir: String, _ target: String) -> [[String: Any]] {
        let r = tool(["explain", target, "--state-dir", dir, "--json"])
        #expect(r.status == 0, "explain \(target): \(r.stderr)")
        return r.json?["events"] as? [[String: Any]] ?? []
    }

    @Test func explainExportAndVerifyARealHistory() throws {
        let sb = Sandbox("jt"); defer { sb.cleanup() }
        let config = skeinConfig(sb, version: "1.1.0", subnet: "10.254.\(Self.n).0/24")
        guard let webIP = makeHistory(sb, config: config) else { Issue.record("no IP for web"); return }
        // Work on a copy, as an operator would with another node's state directory.
        let copy = sb.dir + "/copy"
        #expect(run("/bin/cp", ["-a", sb.stateDir, copy]).status == 0)

        let table = tool(["explain", "team/web", "--state-dir", copy])
        #expect(table.status == 0, "\(table.stderr)")
        for words in ["ADD requested, allocated", "ADD applied", "DEL requested", "deleted, released", webIP, " ms"] {
            #expect(table.stdout.contains(words), "explain team/web lacks \"\(words)\":\n\(table.stdout)")
        }
        #expect(table.stderr.isEmpty, "progress must not be printed when stderr is not a terminal: \(table.stderr)")
        let web = explainJSON(copy, "team/web")
        #expect(web.map { $0["outcome"] as? String } == ["requested", "applied", "requested", "deleted"])
        #expect(explainJSON(copy, webIP).map { $0["containerID"] as? String } == Array(repeating: "jtweb", count: 4))
        #expect(explainJSON(copy, "uid-web").count == 4 && explainJSON(copy, "jtweb/eth0").count == 4)
        let crash = explainJSON(copy, "team/crash")
        #expect(crash.contains { $0["type"] as? String == "addFailed" && $0["cause"] as? String == "recovery" }, "\(crash)")
        #expect(crash.last?["outcome"] as? String == "deleted")
        let db = explainJSON(copy, "jtdb")
        #expect(db.contains { $0["type"] as? String == "gc" }, "\(db)")
        #expect(db.last?["outcome"] as? String == "deleted" && db.last?["cause"] as? String == "gc")
        #expect(tool(["explain", "nobody", "--state-dir", copy]).status == 1)
        #expect(tool(["explain", "--state-dir", copy]).status == 2)
        #expect(tool(["explain", "x", "--state-dir", sb.dir + "/none"]).status == 3)

        try replayAt(copy, appliedTime: web[1]["time"] as? String ?? "")
        try exportAndVerify(sb, copy)
        try tamperJournal(sb, copy)
    }

    func replayAt(_ dir: String, appliedTime: String) throws {
        let at = tool(["replay", "--at", appliedTime, "--state-dir", dir, "--json"])
        #expect(at.status == 0, "\(at.stderr)")
        let holders = (at.json?["attachments"] as? [[String: Any]] ?? []).compactMap { ($0["key"] as? [String: Any])?["containerID"] as? String }
        #expect(holders == ["jtweb"], "state at \(appliedTime): \(at.stdout)")
        let before = tool(["replay", "--at", "0", "--state-dir", dir, "--json"])
        #expect((before.json?["attachments"] as? [Any])?.isEmpty == true)
        #expect(tool(["replay", "--at", "yesterday", "--state-dir", dir]).status == 2)
        #expect(tool(["replay", "--at", "0", "--to", "3", "--state-dir", dir]).status == 2)
    }

    func exportAndVerify(_ sb: Sandbox, _ dir: String) throws {
        let events = SkeinIT.events(sb).count
        let jsonl = sb.dir + "/audit.jsonl", csv = sb.dir + "/audit.csv"
        let ex = tool(["audit", "export", "--format", "jsonl", "--out", jsonl, "--state-dir", dir, "--node", "node-7"])
        #expect(ex.status == 0 && ex.stderr.isEmpty, "\(ex.stderr)")
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == events, "every event is an attachment or GC event: \(lines.count) of \(events)")
        #expect(lines.allSatisfy { $0.contains("\"node\":\"node-7\"") && $0.contains("\"raw\":\"") })
        let ok = tool(["audit", "verify", jsonl])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(tool(["audit", "export", "--format", "csv", "--pod", "web", "--out", csv, "--state-dir", dir]).status == 0)
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\r\n")
        #expect(rows.count == 5, "header + web's 4 records: \(rows.count)")
        #expect(tool(["audit", "verify", csv]).status == 0)
        #expect(tool(["audit", "export", "--state-dir", dir]).status == 2)
        #expect(tool(["audit", "verify", sb.dir + "/missing"]).status == 3)

        // The timeline: one self-contained page, the pod's lane and its attachment in it.
        let page = sb.dir + "/timeline.html"
        let tl = tool(["audit", "timeline", "--out", page, "--state-dir", dir])
        #expect(tl.status == 0, "\(tl.stdout) \(tl.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("web"), "the page has the pod's lane")
        let byIP = tool(["audit", "timeline", "--by-ip", "--out", page, "--state-dir", dir])
        #expect(byIP.status == 0, "\(byIP.stderr)")
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("10.254.21."))

        // Edit one byte of a raw event in the export: its hash no longer matches.
        var edited = lines
        let third = try #require(try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String: Any])
        var raw = try #require(Data(base64Encoded: third["raw"] as? String ?? ""))
        raw[raw.count / 2] ^= 0x01
        edited[2] = lines[2].replacingOccurrences(of: third["raw"] as! String, with: raw.base64EncodedString())
        let bad = sb.dir + "/bad.jsonl"
        try (edited.joined(separator: "\n") + "\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let caught = tool(["audit", "verify", bad])
        #expect(caught.status == 1 && caught.stdout.contains("line 3"), "\(caught.stdout) \(caught.stderr)")
    }

    /// Rewrites web's addRequested (seq 1) in the journal with mdb_load: the pod name changes.
    func tamperJournal(_ sb: Sandbox, _ dir: String) throws {
        let dump = run("/usr/bin/mdb_dump", ["-p", "-s", "events", dir])
        #expect(dump.status == 0, "\(dump.stderr)")
        let before = dump.stdout
        let after = before.replacingOccurrences(of: "\"name\":\"web\"", with: "\"name\":\"wab\"")
        #expect(after != before)
        let file = sb.dir + "/events.dump"
        try after.write(toFile: file, atomically: true, encoding: .utf8)
        let load = run("/usr/bin/mdb_load", ["-s", "events", "-f", file, dir])
        #expect(load.status == 0, "\(load.stderr)")
        let v = tool(["verify", "--state-dir", dir])
        #expect(v.status == 1 && v.stdout.contains("event 2"), "verify after tampering: \(v.stdout) \(v.stderr)")
        // An export made now carries the tampered record with its own (recomputed) hash: the next
        // record's prev still names the original, so audit verify breaks the chain there.
        let out = sb.dir + "/after.jsonl"
        #expect(tool(["audit", "export", "--format", "jsonl", "--out", out, "--state-dir", dir]).status == 0)
        let av = tool(["audit", "verify", out])
        #expect(av.status == 1 && av.stdout.contains("seq 2") && av.stdout.contains("chain"), "\(av.stdout) \(av.stderr)")
    }
}
