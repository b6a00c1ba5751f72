import Foundation
import Testing

// Lifecycle of real attachments, driven through the release `skein` binary as a runtime would:
// ADD/DEL/CHECK/GC/STATUS on bridges and namespaces that each test creates (Sandbox) and always
// removes. Every test uses its own subnet 10.251.N.0/24 (N listed at each test, unique across
// LifecycleTests.swift and CrashTests.swift) and its own bridge, so the suites run in parallel.
// Without root or without the binaries (SKEIN_BIN / SKEIN_JOURNAL_BIN) the suite is disabled.

// MARK: - Helpers shared by LifecycleTests and CrashTests

enum SkeinIT {
    /// The subnet prefix "10.251.N." of test N.
    static func net(_ n: Int) -> String { "10.251.\(n)." }

    /// The sandbox's skein config on 10.251.N.0/24.
    static func config(_ sb: Sandbox, _ n: Int, version: String = "1.0.0") -> String {
        skeinConfig(sb, version: version, subnet: "10.251.\(n).0/24")
    }

    /// The config with extra top-level keys (`"k":v,…` without braces) put first.
    static func withKeys(_ config: String, _ keys: String) -> String {
        guard let brace = config.firstIndex(of: "{") else { return config }
        return String(config[...brace]) + keys + "," + String(config[config.index(after: brace)...])
    }

    /// The CNI error code in an error JSON on stdout, or nil.
    static func code(_ r: ProcessResult) -> Int? { (r.json?["code"] as? NSNumber)?.intValue }

    /// The replayed allocations as (ip, holder) pairs.
    static func allocations(_ sb: Sandbox) -> [(ip: String, holder: String)] {
        let rows = journalState(sb)["allocations"] as? [[String: Any]] ?? []
        return rows.map { (($0["ip"] as? String) ?? "?", ($0["holder"] as? String) ?? "?") }
    }

    static func attachments(_ sb: Sandbox) -> [[String: Any]] {
        journalState(sb)["attachments"] as? [[String: Any]] ?? []
    }

    /// `skein-journal replay --json` succeeded (so empty lists mean empty, not unreadable).
    static func replayOK(_ sb: Sandbox) -> Bool {
        let r = run(Env.journalBin, ["replay", "--state-dir", sb.stateDir, "--json"])
        return r.status == 0 && ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]) != nil
    }

    static func nsName(_ netns: String) -> String { (netns as NSString).lastPathComponent }

    /// Whether a link exists in a namespace.
    static func hasLink(_ netns: String, _ name: String) -> Bool {
        run("/usr/sbin/ip", ["-n", nsName(netns), "link", "show", "dev", name]).status == 0
    }

    /// One ping from inside a namespace; a couple of attempts absorb a slow first ARP.
    static func ping(from netns: String, _ address: String) -> Bool {
        for _ in 0..<3 {
            if run("/usr/sbin/ip", ["netns", "exec", nsName(netns), "ping", "-c1", "-W1", address]).status == 0 { return true }
        }
        return false
    }

    /// The address (without prefix length) of ips[0] of a CNI result.
    static func firstIP(_ r: ProcessResult) -> String? {
        guard let ips = r.json?["ips"] as? [[String: Any]], let a = ips.first?["address"] as? String else { return nil }
        return a.split(separator: "/").first.map(String.init)
    }

    /// The journal's events as their JSON lines (`mdb_dump -p -s events`).
    static func events(_ sb: Sandbox) -> [String] {
        let r = run("/usr/bin/mdb_dump", ["-p", "-s", "events", sb.stateDir])
        return r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("{\"seq\":") }
    }

    static func expectVerify(_ sb: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) {
        let v = journalVerify(sb)
        #expect(v.status == 0, "skein-journal verify: \(v.stdout) \(v.stderr)", sourceLocation: sourceLocation)
    }

    /// Nothing held, nothing left: no bridge ports, no attachment or allocation in the journal, no
    /// eth0 in the container netns (when it still exists), and the journal verifies.
    static func expectClean(_ sb: Sandbox, netns: String?, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sb.bridgePorts() == [], "bridge ports left", sourceLocation: sourceLocation)
        #expect(replayOK(sb), "replay failed", sourceLocation: sourceLocation)
        let allocs = allocations(sb)
        #expect(allocs.isEmpty, "allocations left: \(allocs)", sourceLocation: sourceLocation)
        #expect(attachments(sb).isEmpty, "attachments left", sourceLocation: sourceLocation)
        if let netns {
            #expect(!hasLink(netns, "eth0"), "eth0 left in \(netns)", sourceLocation: sourceLocation)
        }
        expectVerify(sb, sourceLocation: sourceLocation)
    }
}

/// Thread-safe result slots for concurrent process runs.
final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [ProcessResult?]
    init(_ n: Int) { slots = Array(repeating: nil, count: n) }
    subscript(i: Int) -> ProcessResult? {
        get { lock.lock(); defer { lock.unlock() }; return slots[i] }
        set { lock.lock(); slots[i] = newValue; lock.unlock() }
    }
    var all: [ProcessResult?] { lock.lock(); defer { lock.unlock() }; return slots }
}

/// Runs `body(i)` for i in 0..<n on n threads released at the same moment; waits for all.
func runAtOnce(_ n: Int, _ body: @escaping @Sendable (Int) -> ProcessResult) -> [ProcessResult?] {
    let slots = ResultSlots(n)
    let go = DispatchSemaphore(value: 0)
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        let t = Thread {
            go.wait()
            slots[i] = body(i)
            group.leave()
        }
        t.start()
    }
    for _ in 0..<n { go.signal() }
    group.wait()
    return slots.all
}

// MARK: - Tests

@Suite(.enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct LifecycleTests {
    /// Subnet 1.
    @Test func twoPodsOnOneBridgeGetDistinctAddressesAndPingEachOther() {
        guard Env.canRunKernelTests else { return }   // not root or no binaries: nothing to test
        let sb = Sandbox("lt"); defer { sb.cleanup() }
        let n = 1, p = SkeinIT.net(n)
        let config = SkeinIT.config(sb, n)
        let nsA = sb.netns("a"), nsB = sb.netns("b")

        let a = cni("ADD", sb, container: "podA", netns: nsA, config: config)
        #expect(a.status == 0, "ADD A: \(a.stdout) \(a.stderr)")
        let b = cni("ADD", sb, container: "podB", netns: nsB, config: config)
        #expect(b.status == 0, "ADD B: \(b.stdout) \(b.stderr)")

        expectReferenceShape(a, sb: sb, netns: nsA, address: "\(p)2/24", gateway: "\(p)1", version: "1.0.0")
        expectReferenceShape(b, sb: sb, netns: nsB, address: "\(p)3/24", gateway: "\(p)1", version: "1.0.0")
        #expect(addresses(netns: nsA) == ["\(p)2/24"])
        #expect(addresses(netns: nsB) == ["\(p)3/24"])
        #expect(sb.bridgePorts().count == 2)
        let allocs = SkeinIT.allocations(sb)
        #expect(allocs.map(\.ip) == ["\(p)2", "\(p)3"])
        #expect(allocs.map(\.holder) == ["podA/eth0", "podB/eth0"])

        #expect(SkeinIT.ping(from: nsA, "\(p)3"), "A cannot ping B")
        #expect(SkeinIT.ping(from: nsB, "\(p)2"), "B cannot ping A")
        #expect(SkeinIT.ping(from: nsA, "\(p)1"), "A cannot ping the gateway")
        SkeinIT.expectVerify(sb)

        #expect(cni("DEL", sb, container: "podA", netns: nsA, config: config).status == 0)
        #expect(cni("DEL", sb, container: "podB", netns: nsB, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: nsA)
        #expect(!SkeinIT.hasLink(nsB, "eth0"))
    }

    /// Subnet 2: host-local round robin hands out .2, .3, .4, .5, .6 across DEL/ADD cycles.
    @Test func addDelCyclesReleaseAndRoundRobin() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("lc"); defer { sb.cleanup() }
        let n = 2, p = SkeinIT.net(n)
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        for cycle in 0..<5 {
            let want = "\(p)\(2 + cycle)"
            let add = cni("ADD", sb, container: "cyc", netns: ns, config: config)
            #expect(add.status == 0, "cycle \(cycle) ADD: \(add.stdout)")
            #expect(SkeinIT.firstIP(add) == want, "cycle \(cycle): \(add.stdout)")
            #expect(addresses(netns: ns) == ["\(want)/24"])
            #expect(SkeinIT.allocations(sb).map(\.ip) == [want])
            #expect(sb.bridgePorts().count == 1)
            let del = cni("DEL", sb, container: "cyc", netns: ns, config: config)
            #expect(del.status == 0, "cycle \(cycle) DEL: \(del.stdout)")
            #expect(del.stdout.isEmpty)
            #expect(SkeinIT.replayOK(sb))
            #expect(SkeinIT.allocations(sb).isEmpty, "cycle \(cycle): address not released")
            #expect(!SkeinIT.hasLink(ns, "eth0"))
        }
        SkeinIT.expectClean(sb, netns: ns)
    }

    /// Subnet 3.
    @Test func delIsIdempotent() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("ld"); defer { sb.cleanup() }
        let n = 3
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p"), ns2 = sb.netns("q")

        #expect(cni("ADD", sb, container: "twice", netns: ns, config: config).status == 0)
        let d1 = cni("DEL", sb, container: "twice", netns: ns, config: config)
        let d2 = cni("DEL", sb, container: "twice", netns: ns, config: config)
        #expect(d1.status == 0, "first DEL: \(d1.stdout)")
        #expect(d2.status == 0, "second DEL: \(d2.stdout)")
        #expect(d2.stdout.isEmpty)

        let never = cni("DEL", sb, container: "never-added", netns: ns, config: config)
        #expect(never.status == 0, "DEL of unknown container: \(never.stdout)")

        let neverNoNetns = cni("DEL", sb, container: "never-added-2", netns: "", config: config)
        #expect(neverNoNetns.status == 0, "DEL with empty CNI_NETNS: \(neverNoNetns.stdout)")

        // An attached container deleted with an empty CNI_NETNS: the journal knows where it lives.
        let add = cni("ADD", sb, container: "nonetns", netns: ns2, config: config)
        #expect(add.status == 0)
        #expect(SkeinIT.allocations(sb).count == 1)
        let d3 = cni("DEL", sb, container: "nonetns", netns: "", config: config)
        #expect(d3.status == 0, "DEL with empty CNI_NETNS: \(d3.stdout)")
        SkeinIT.expectClean(sb, netns: ns)
        #expect(!SkeinIT.hasLink(ns2, "eth0"))
    }

    /// Subnet 4.
    @Test func delAfterNetnsDeleted() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("lg"); defer { sb.cleanup() }
        let n = 4
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        let add = cni("ADD", sb, container: "gone", netns: ns, config: config)
        #expect(add.status == 0)
        #expect(sb.bridgePorts().count == 1)
        sb.deleteNetns(ns)
        #expect(!FileManager.default.fileExists(atPath: ns))
        let del = cni("DEL", sb, container: "gone", netns: ns, config: config)
        #expect(del.status == 0, "DEL after netns deletion: \(del.stdout)")
        SkeinIT.expectClean(sb, netns: nil)
        // And again, still 0.
        #expect(cni("DEL", sb, container: "gone", netns: ns, config: config).status == 0)
        SkeinIT.expectVerify(sb)
    }

    /// Subnet 17: the netns path is deleted while the namespace lives on (held by an fd, like a
    /// lingering process): the host veth still exists and DEL must find it by its derived name.
    @Test func delAfterNetnsPathDeletedWhileNamespaceHeld() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("lh"); defer { sb.cleanup() }
        let n = 17
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        #expect(cni("ADD", sb, container: "held", netns: ns, config: config).status == 0)
        let hold = open(ns, O_RDONLY | O_CLOEXEC)
        #expect(hold >= 0)
        defer { if hold >= 0 { close(hold) } }
        sb.deleteNetns(ns)
        #expect(sb.bridgePorts().count == 1)
        let del = cni("DEL", sb, container: "held", netns: ns, config: config)
        #expect(del.status == 0, "DEL: \(del.stdout) \(del.stderr)")
        SkeinIT.expectClean(sb, netns: nil)
    }

    /// Subnet 5.
    @Test func checkPassesThenDetectsRemovedAddress() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("lk"); defer { sb.cleanup() }
        let n = 5, p = SkeinIT.net(n)
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        let add = cni("ADD", sb, container: "chk", netns: ns, config: config)
        #expect(add.status == 0)
        #expect(SkeinIT.firstIP(add) == "\(p)2")
        let prev = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let checkConfig = SkeinIT.withKeys(config, "\"prevResult\":\(prev)")

        let ok = cni("CHECK", sb, container: "chk", netns: ns, config: checkConfig)
        #expect(ok.status == 0, "CHECK after ADD: \(ok.stdout)")
        #expect(ok.stdout.isEmpty)
        let okNoPrev = cni("CHECK", sb, container: "chk", netns: ns, config: config)
        #expect(okNoPrev.status == 0, "CHECK without prevResult: \(okNoPrev.stdout)")

        ip("-n", SkeinIT.nsName(ns), "addr", "del", "\(p)2/24", "dev", "eth0")
        let bad = cni("CHECK", sb, container: "chk", netns: ns, config: checkConfig)
        #expect(bad.status != 0)
        #expect(SkeinIT.code(bad) == 100, "CHECK drift: \(bad.stdout)")
        let text = ((bad.json?["msg"] as? String) ?? "") + " " + ((bad.json?["details"] as? String) ?? "")
        #expect(text.contains("\(p)2"), "error does not name the address: \(bad.stdout)")

        #expect(cni("DEL", sb, container: "chk", netns: ns, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: ns)
    }

    /// Subnet 6.
    @Test func checkWithVersion031IsIncompatible() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("lv"); defer { sb.cleanup() }
        let n = 6
        let ns = sb.netns("p")
        let config = SkeinIT.config(sb, n, version: "0.3.1")
        let add = cni("ADD", sb, container: "old", netns: ns, config: config)
        #expect(add.status == 0, "ADD 0.3.1: \(add.stdout)")
        let check = cni("CHECK", sb, container: "old", netns: ns, config: config)
        #expect(check.status != 0)
        #expect(SkeinIT.code(check) == 1, "CHECK 0.3.1: \(check.stdout)")
        #expect(check.json?["cniVersion"] as? String == "0.3.1")
        #expect(cni("DEL", sb, container: "old", netns: ns, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: ns)
    }

    /// Subnets 7 and 8.
    @Test(arguments: [("cni.dev/valid-attachments", 7), ("cni.dev/attachments", 8)])
    func gcReleasesAttachmentsOutsideTheValidSet(key: String, n: Int) {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("gc"); defer { sb.cleanup() }
        let p = SkeinIT.net(n)
        let config = SkeinIT.config(sb, n, version: "1.1.0")
        let nsA = sb.netns("a"), nsB = sb.netns("b")
        #expect(cni("ADD", sb, container: "gcA", netns: nsA, config: config).status == 0)
        #expect(cni("ADD", sb, container: "gcB", netns: nsB, config: config).status == 0)
        #expect(sb.bridgePorts().count == 2)
        let portsBefore = Set(sb.bridgePorts())

        let gcConfig = SkeinIT.withKeys(config, "\"\(key)\":[{\"containerID\":\"gcA\",\"ifname\":\"eth0\"}]")
        let gc = cni("GC", sb, container: "gcA", netns: nil, config: gcConfig)
        #expect(gc.status == 0, "GC: \(gc.stdout) \(gc.stderr)")

        let portsAfter = sb.bridgePorts()
        #expect(portsAfter.count == 1, "ports after GC: \(portsAfter)")
        #expect(Set(portsAfter).isSubset(of: portsBefore))
        #expect(!SkeinIT.hasLink(nsB, "eth0"), "B's eth0 survived GC")
        let allocs = SkeinIT.allocations(sb)
        #expect(allocs.map(\.ip) == ["\(p)2"])
        #expect(allocs.map(\.holder) == ["gcA/eth0"])
        #expect(SkeinIT.attachments(sb).count == 1)

        // A is untouched.
        #expect(addresses(netns: nsA) == ["\(p)2/24"])
        #expect(SkeinIT.ping(from: nsA, "\(p)1"), "A lost connectivity after GC")
        let check = cni("CHECK", sb, container: "gcA", netns: nsA, config: config)
        #expect(check.status == 0, "CHECK A after GC: \(check.stdout)")
        SkeinIT.expectVerify(sb)

        // The runtime still DELs B later: 0, and A's DEL cleans up the rest.
        #expect(cni("DEL", sb, container: "gcB", netns: nsB, config: config).status == 0)
        #expect(cni("DEL", sb, container: "gcA", netns: nsA, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: nsA)
    }

    /// Subnet 9.
    @Test func secondAddOfSameAttachmentIsRefused() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("l2"); defer { sb.cleanup() }
        let n = 9, p = SkeinIT.net(n)
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        let first = cni("ADD", sb, container: "dup", netns: ns, config: config)
        #expect(first.status == 0)
        #expect(SkeinIT.firstIP(first) == "\(p)2")
        let second = cni("ADD", sb, container: "dup", netns: ns, config: config)
        #expect(second.status != 0)
        #expect(SkeinIT.code(second) == 7, "second ADD: \(second.stdout)")

        #expect(addresses(netns: ns) == ["\(p)2/24"])
        #expect(sb.bridgePorts().count == 1)
        #expect(SkeinIT.allocations(sb).map(\.ip) == ["\(p)2"])
        #expect(SkeinIT.ping(from: ns, "\(p)1"), "first attachment broken by the second ADD")
        #expect(cni("CHECK", sb, container: "dup", netns: ns, config: config).status == 0)
        SkeinIT.expectVerify(sb)
        #expect(cni("DEL", sb, container: "dup", netns: ns, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: ns)
    }

    /// Subnet 10 (no addresses are handed out).
    @Test func statusReportsJournalWritability() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("ls"); defer { sb.cleanup() }
        let n = 10
        let config = SkeinIT.config(sb, n, version: "1.1.0")
        let ok = cni("STATUS", sb, container: "x", netns: nil, config: config)
        #expect(ok.status == 0, "STATUS: \(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.isEmpty)
        SkeinIT.expectVerify(sb)

        let roDir = "/proc/skein-it-\(sb.prefix)/state"
        let roConfig = config.replacingOccurrences(of: "\"stateDir\":\"\(sb.stateDir)\"", with: "\"stateDir\":\"\(roDir)\"")
        #expect(roConfig != config)
        let bad = cni("STATUS", sb, container: "x", netns: nil, config: roConfig)
        #expect(bad.status != 0)
        #expect(SkeinIT.code(bad) == 50, "STATUS on a read-only stateDir: \(bad.stdout)")
        #expect(!FileManager.default.fileExists(atPath: roDir))
    }

    /// Subnets 11…15.
    @Test(arguments: [("0.3.0", 11), ("0.3.1", 12), ("0.4.0", 13), ("1.0.0", 14), ("1.1.0", 15)])
    func resultComesBackInTheConfigVersion(version: String, n: Int) {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("rv"); defer { sb.cleanup() }
        let p = SkeinIT.net(n)
        let config = SkeinIT.config(sb, n, version: version)
        let ns = sb.netns("p")
        let add = cni("ADD", sb, container: "ver", netns: ns, config: config)
        #expect(add.status == 0, "ADD \(version): \(add.stdout)")
        #expect(add.json?["cniVersion"] as? String == version, "\(add.stdout)")
        expectReferenceShape(add, sb: sb, netns: ns, address: "\(p)2/24", gateway: "\(p)1", version: version)
        let ips = add.json?["ips"] as? [[String: Any]] ?? []
        #expect(ips.count == 1)
        if version.hasPrefix("0.") {
            #expect(ips.first?["version"] as? String == "4", "\(version): \(add.stdout)")
        } else {
            #expect(ips.first?["version"] == nil, "\(version): \(add.stdout)")
        }
        #expect(addresses(netns: ns) == ["\(p)2/24"])
        #expect(cni("DEL", sb, container: "ver", netns: ns, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: ns)
    }

    /// Subnet 16.
    @Test func concurrentAddsAndDels() {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("cc"); defer { sb.cleanup() }
        let n = 16, p = SkeinIT.net(n), count = 8
        let config = SkeinIT.config(sb, n)
        let namespaces = (0..<count).map { sb.netns("p\($0)") }
        nonisolated(unsafe) let shared = sb

        let adds = runAtOnce(count) { i in cni("ADD", shared, container: "conc\(i)", netns: namespaces[i], config: config) }
        for (i, r) in adds.enumerated() {
            #expect(r?.status == 0, "ADD \(i): \(r?.stdout ?? "") \(r?.stderr ?? "")")
        }
        let ips = adds.compactMap { $0.flatMap(SkeinIT.firstIP) }
        #expect(ips.count == count)
        #expect(Set(ips).count == count, "duplicate addresses: \(ips)")
        #expect(Set(ips) == Set((2..<(2 + count)).map { "\(p)\($0)" }))
        for (i, ns) in namespaces.enumerated() where i < ips.count {
            #expect(addresses(netns: ns) == ["\(ips[i])/24"])
        }
        #expect(sb.bridgePorts().count == count)
        #expect(SkeinIT.allocations(sb).count == count)
        SkeinIT.expectVerify(sb)
        #expect(SkeinIT.ping(from: namespaces[0], ips.last ?? "\(p)9"))

        let dels = runAtOnce(count) { i in cni("DEL", shared, container: "conc\(i)", netns: namespaces[i], config: config) }
        for (i, r) in dels.enumerated() {
            #expect(r?.status == 0, "DEL \(i): \(r?.stdout ?? "") \(r?.stderr ?? "")")
        }
        SkeinIT.expectClean(sb, netns: namespaces[0])
        for ns in namespaces { #expect(!SkeinIT.hasLink(ns, "eth0")) }
    }

    // MARK: helpers

    /// The reference bridge plugin's result: bridge, host veth, eth0 with sandbox; ips[0] on eth0.
    func expectReferenceShape(_ r: ProcessResult, sb: Sandbox, netns: String, address: String, gateway: String,
                              version: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let json = r.json else {
            Issue.record("not JSON: \(r.stdout)", sourceLocation: sourceLocation); return
        }
        #expect(json["cniVersion"] as? String == version, sourceLocation: sourceLocation)
        let ifs = json["interfaces"] as? [[String: Any]] ?? []
        #expect(ifs.count == 3, "interfaces: \(r.stdout)", sourceLocation: sourceLocation)
        guard ifs.count == 3 else { return }
        #expect(ifs[0]["name"] as? String == sb.bridge, sourceLocation: sourceLocation)
        #expect(ifs[0]["sandbox"] == nil, sourceLocation: sourceLocation)
        let hostVeth = ifs[1]["name"] as? String ?? ""
        #expect(hostVeth.hasPrefix("veth"), "host veth \(hostVeth)", sourceLocation: sourceLocation)
        #expect(ifs[1]["sandbox"] == nil, sourceLocation: sourceLocation)
        #expect(sb.bridgePorts().contains(hostVeth), "\(hostVeth) is not a port of \(sb.bridge)", sourceLocation: sourceLocation)
        #expect(ifs[2]["name"] as? String == "eth0", sourceLocation: sourceLocation)
        #expect(ifs[2]["sandbox"] as? String == netns, sourceLocation: sourceLocation)
        for i in ifs {
            let mac = i["mac"] as? String ?? ""
            #expect(mac.count == 17, "mac \(mac)", sourceLocation: sourceLocation)
        }
        let ips = json["ips"] as? [[String: Any]] ?? []
        #expect(ips.count == 1, sourceLocation: sourceLocation)
        #expect((ips.first?["interface"] as? NSNumber)?.intValue == 2, sourceLocation: sourceLocation)
        #expect(ips.first?["address"] as? String == address, sourceLocation: sourceLocation)
        #expect(ips.first?["gateway"] as? String == gateway, sourceLocation: sourceLocation)
    }
}
