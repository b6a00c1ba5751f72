import Foundation
import Testing

// The crash suite of issue 7: the real `skein` binary killed at EVERY failpoint of ADD and DEL
// (Sources/SkeinEngine/Failpoints.swift) for four subjects — a bridge attachment, a macvlan
// attachment, a chain whose tuning is exec'ed after the built-in bridge (add-exec-0, del-exec-0),
// and a chain whose exec'ed plugin fails so the ADD rolls back (add-rollback-exec-0,
// add-rollback-op-<i>) — each followed by what a runtime runs next: DEL (twice), or ADD again then
// DEL. The numbered failpoints (add-op-<i>, del-op-<i>, add-rollback-op-<i>) are discovered: i counts
// up until the operation survives its failpoint (the plan has fewer ops); the second follow-up then
// crashes at exactly the points the first one found.
//
// After the crash the invariants (Invariants.swift) must hold with in-flight rows allowed — every
// link that exists is named by the journal, which proves the request was durable before the kernel
// was touched; after the follow-up they must hold settled, every DEL exits 0, and the key is gone
// from the journal. Each subject runs in its own node namespace with one journal for all its
// failpoints (so the journal checks cover the whole history); each failpoint gets its own pod and
// container ID, and the bridge is deleted after each so every ADD runs the full plan, creating it.
//
// Beyond ADD and DEL, the same for the steps a crash leaves to others: the recovery a retried ADD
// runs (recovery-exec-0, recovery-op-<i>, recovery-before-outcome) and GC (gc-after-request,
// gc-exec-0, gc-op-<i>, gc-before-outcome) — every failpoint name Failpoints.swift lists.
//
// Subnets 10.248.N.0/24: N = 10 + 4 × subject + 2 × phase (ADD 0, DEL 1) + follow-up (DEL 0, ADD 1),
// i.e. 10…25; 26 for the conflicting interface, 27 for the checker's own test, 28 recovery, 29 GC.

enum CrashKind: Int, CaseIterable, Sendable, CustomTestStringConvertible {
    case bridge, macvlan, execChain, rollback

    var testDescription: String { ["bridge", "macvlan", "bridge → exec'ed tuning", "bridge → failing exec'ed plugin"][rawValue] }
}

enum CrashPhase: Int, CaseIterable, Sendable, CustomTestStringConvertible {
    case add, del
    var testDescription: String { self == .add ? "crash in ADD" : "crash in DEL" }
}

enum FollowUp: Int, CaseIterable, Sendable, CustomTestStringConvertible {
    /// DEL, then DEL again.
    case del
    /// ADD again (CHECK when it attached), then DEL.
    case addThenDel
    var testDescription: String { self == .del ? "then DEL" : "then ADD, DEL" }
}

/// One subject on its own node: its config, interface and environment.
final class CrashBench {
    static let killed: Int32 = 137
    let kind: CrashKind
    let node: Node
    let subnet: Int
    private(set) var config = ""
    private(set) var env: [String: String] = [:]
    private let scripts = ExecDelegateTests.ScriptDir()
    private var counter = 0

    init(_ kind: CrashKind, subnet: Int) {
        self.kind = kind
        self.subnet = subnet
        node = Node("cs")
        config = makeConfig()
    }

    func cleanup() {
        node.cleanup()
        scripts.cleanup()
    }

    var ifname: String { kind == .macvlan ? "net1" : "eth0" }
    var bridge: String { node.prefix + "br" }
    var gateway: String { "10.248.\(subnet).1" }
    /// Whether an ADD that is not killed succeeds (the rollback subject's always fails, code 7).
    var addSucceeds: Bool { kind != .rollback }

    /// Version 1.0.0: the reference tuning in /usr/lib/cni (1.1.x) refuses 1.1.0 configs.
    private func makeConfig() -> String {
        let ipam = "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.248.\(subnet).0/24\"}"
        let bridgeDelegate = "{\"type\":\"bridge\",\"bridge\":\"\(bridge)\",\"isGateway\":true,\(ipam)}"
        switch kind {
        case .bridge:
            return node.config(delegate: bridgeDelegate, version: "1.0.0")
        case .macvlan:
            let master = node.nic("m0")
            return node.config(delegate: "{\"type\":\"macvlan\",\"master\":\"\(master)\",\"mode\":\"bridge\",\(ipam)}", version: "1.0.0")
        case .execChain:
            let tuning = "{\"type\":\"tuning\",\"mtu\":1400,\"promisc\":true}"
            return node.config(delegate: TypeIT.conflist(node.prefix, version: "1.0.0", [bridgeDelegate, tuning]),
                               version: "1.0.0", execTypes: ["tuning"])
        case .rollback:
            scripts.plugin("refuser", """
                if [ "$CNI_COMMAND" = ADD ]; then
                  echo '{"cniVersion":"1.0.0","code":7,"msg":"refused on purpose"}'; exit 1
                fi
                """)
            env = ["CNI_PATH": scripts.path + ":/usr/lib/cni"]
            return node.config(delegate: TypeIT.conflist(node.prefix, version: "1.0.0", [bridgeDelegate, "{\"type\":\"refuser\"}"]),
                               version: "1.0.0")
        }
    }

    /// A fresh pod and container ID for one failpoint.
    func newPod(_ fp: String) -> (container: String, pod: String) {
        counter += 1
        return ("cs\(counter)-\(fp)", node.pod("f\(counter)"))
    }

    func skein(_ command: String, _ container: String, _ pod: String, failpoint: String? = nil) -> ProcessResult {
        var e = env
        if let failpoint { e["SKEIN_FAILPOINT"] = failpoint }
        return node.skein(command, container: container, netns: pod, ifname: ifname, config: config, env: e)
    }

    /// GC with an empty valid set (every attachment of the network is stale), in the config at
    /// 1.1.0 (GC's version); the delegates keep theirs, which is what the exec'ed tuning is given.
    func gc(failpoint: String? = nil) -> ProcessResult {
        var gcConfig = config
        if let r = gcConfig.range(of: "{\"cniVersion\":\"1.0.0\",") { gcConfig.replaceSubrange(r, with: "{\"cniVersion\":\"1.1.0\",") }
        var e = env
        if let failpoint { e["SKEIN_FAILPOINT"] = failpoint }
        return node.skein("GC", container: "gc", netns: nil, ifname: ifname,
                          config: SkeinIT.withKeys(gcConfig, "\"cni.dev/valid-attachments\":[]"), env: e)
    }

    func scope(_ pod: String, foreign: Set<String> = []) -> InvariantScope {
        InvariantScope(node: node, pods: [pod], foreign: foreign)
    }

    /// The key is gone from the journal and nothing of it is left anywhere; the pod and (bridge
    /// subjects) the bridge are removed, so the next failpoint starts from a bare node.
    func expectGone(_ container: String, _ pod: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        Invariants.expect(scope(pod), what, sourceLocation: sourceLocation)
        let key = "\(container)/\(ifname)"
        let view = JournalView(stateDir: node.sb.stateDir)
        #expect(view?.attachment(key) == nil, "\(what): \(key) still in the journal (\(view?.attachment(key)?.status ?? ""))",
                sourceLocation: sourceLocation)
        #expect(view?.allocations.contains { $0.holder == key } == false, "\(what): \(key) still holds an address",
                sourceLocation: sourceLocation)
        #expect(TypeIT.links(pod).filter { $0.name != "lo" }.isEmpty, "\(what): links left in the pod", sourceLocation: sourceLocation)
        node.sb.deleteNetns(pod)
        if kind != .macvlan { ip("-n", node.host, "link", "del", bridge, check: false) }
    }
}

@Suite("Crash suite: every failpoint, then what the runtime runs next",
       .enabled(if: Env.canRunKernelTests && Env.haveReference, "needs root, the release binaries (SKEIN_BIN) and /usr/lib/cni"))
struct CrashSuiteTests {
    static let cases: [(CrashKind, CrashPhase, FollowUp)] = CrashKind.allCases.flatMap { k in
        CrashPhase.allCases.flatMap { p in FollowUp.allCases.map { (k, p, $0) } }
    }.filter { $0.0 != .rollback || $0.1 == .add }   // a rolled-back ADD leaves nothing for DEL to crash in

    @Test(arguments: cases)
    func crashThenFollowUp(_ kind: CrashKind, _ phase: CrashPhase, _ followUp: FollowUp) {
        guard Env.canRunKernelTests else { return }
        let bench = CrashBench(kind, subnet: 10 + 4 * kind.rawValue + 2 * phase.rawValue + followUp.rawValue)
        defer { bench.cleanup() }
        let crash: (String) -> Bool = phase == .add
            ? { crashAdd(bench, $0, followUp) }
            : { crashDel(bench, $0, followUp) }
        let tried = Self.sweep(Self.failpoints(kind, phase), crash)
        print("crash suite \(kind.testDescription), \(phase.testDescription) \(followUp.testDescription): \(tried.count) failpoints: \(tried.joined(separator: " "))")
        Invariants.expect(InvariantScope(node: bench.node, pods: []), "\(kind): at the end")
        TypeIT.expectNothingHeld(bench.node, "\(kind): at the end")
    }

    /// The failpoints of a subject in the order they are reached; "<family>-<i>*" entries stand for
    /// a numbered family to discover, with the least count a plan of this subject has.
    static func failpoints(_ kind: CrashKind, _ phase: CrashPhase) -> [(name: String, family: Int?)] {
        switch phase {
        case .add:
            var out: [(String, Int?)] = [("add-after-request", nil), ("add-op", kind == .macvlan ? 2 : 5)]
            switch kind {
            case .bridge, .macvlan: break
            case .execChain: out.append(("add-exec-0", nil))
            case .rollback: return out + [("add-rollback-exec-0", nil), ("add-rollback-op", 1)]
            }
            return out + [("add-before-outcome", nil), ("add-after-outcome", nil)]
        case .del:
            let exec: [(String, Int?)] = kind == .execChain ? [("del-exec-0", nil)] : []
            return [("del-after-request", nil)] + exec + [("del-op", 1), ("del-before-outcome", nil)]
        }
    }

    /// Crashes at every point (a family: at <family>-0, -1, … until one survives); returns the
    /// points where skein died. A fixed point must kill; a family must reach its least count.
    static func sweep(_ points: [(name: String, family: Int?)], _ crash: (String) -> Bool) -> [String] {
        var died: [String] = []
        for p in points {
            guard let least = p.family else {
                #expect(crash(p.name), "\(p.name) did not fire")
                died.append(p.name)
                continue
            }
            var i = 0
            while i < 64, crash("\(p.name)-\(i)") {
                died.append("\(p.name)-\(i)")
                i += 1
            }
            #expect(i >= least, "\(p.name): only \(i) operations fired a failpoint (want ≥ \(least))")
        }
        return died
    }

    /// ADD killed at `fp`, then the follow-up; returns whether it died there.
    func crashAdd(_ b: CrashBench, _ fp: String, _ followUp: FollowUp) -> Bool {
        let (container, pod) = b.newPod(fp)
        let add = b.skein("ADD", container, pod, failpoint: fp)
        let died = add.status == CrashBench.killed
        if !died {
            // Only a numbered op past the plan's end may survive: the ADD then ran to its end.
            #expect(fp.contains("-op-"), "\(fp): ADD exited \(add.status): \(add.stdout) \(add.stderr)")
            expectPlainAdd(b, add, fp)
        }
        Invariants.expect(b.scope(pod), allowInFlight: true, "\(fp): right after the ADD")
        followUpAfter(b, container, pod, fp, followUp, wasActive: fp == "add-after-outcome" || (!died && b.addSucceeds))
        return died
    }

    /// A good ADD, DEL killed at `fp`, then the follow-up; returns whether it died there.
    func crashDel(_ b: CrashBench, _ fp: String, _ followUp: FollowUp) -> Bool {
        let (container, pod) = b.newPod(fp)
        let add = b.skein("ADD", container, pod)
        #expect(add.status == 0, "\(fp): ADD: \(add.stdout) \(add.stderr)")
        let del = b.skein("DEL", container, pod, failpoint: fp)
        let died = del.status == CrashBench.killed
        if died {
            let row = JournalView(stateDir: b.node.sb.stateDir)?.attachment("\(container)/\(b.ifname)")
            #expect(row?.status == "deleting", "\(fp): the crashed DEL left \(row?.status ?? "no row"), want deleting")
            Invariants.expect(b.scope(pod), allowInFlight: true, "\(fp): right after the DEL")
        } else {
            #expect(fp.contains("-op-"), "\(fp): DEL exited \(del.status): \(del.stdout) \(del.stderr)")
            #expect(del.status == 0, "\(fp): DEL past the plan's end: \(del.stdout) \(del.stderr)")
        }
        followUpAfter(b, container, pod, fp, followUp, wasActive: false)
        return died
    }

    /// An ADD that was not killed: 0, or the rollback subject's refusal with nothing held.
    func expectPlainAdd(_ b: CrashBench, _ add: ProcessResult, _ fp: String) {
        if b.addSucceeds {
            #expect(add.status == 0, "\(fp): \(add.stdout) \(add.stderr)")
        } else {
            #expect(SkeinIT.code(add) == 7 && TypeIT.errorText(add).contains("refused on purpose"),
                    "\(fp): the failing chain's ADD: \(add.status) \(add.stdout) \(add.stderr)")
        }
    }

    /// What the runtime runs next. `wasActive`: the journal holds the attachment as active (the
    /// crash came after the outcome, or nothing crashed), so a retried ADD is a second ADD (7).
    func followUpAfter(_ b: CrashBench, _ container: String, _ pod: String, _ fp: String, _ followUp: FollowUp, wasActive: Bool) {
        if followUp == .addThenDel {
            let retry = b.skein("ADD", container, pod)
            if wasActive {
                #expect(SkeinIT.code(retry) == 7, "\(fp): ADD of an active attachment: \(retry.status) \(retry.stdout)")
            } else {
                expectPlainAdd(b, retry, "\(fp): retried ADD")
            }
            if b.addSucceeds { expectAttached(b, container, pod, fp) }
            Invariants.expect(b.scope(pod), "\(fp): after the retried ADD")
        }
        for round in 1...2 {
            let del = b.skein("DEL", container, pod)
            #expect(del.status == 0, "\(fp): DEL \(round) after the crash: \(del.stdout) \(del.stderr)")
        }
        b.expectGone(container, pod, "\(fp) \(followUp.testDescription)")
    }

    /// The attachment works: journaled active, CHECK 0, and (bridge subjects) the pod reaches its gateway.
    func expectAttached(_ b: CrashBench, _ container: String, _ pod: String, _ fp: String) {
        let row = JournalView(stateDir: b.node.sb.stateDir)?.attachment("\(container)/\(b.ifname)")
        #expect(row?.status == "active", "\(fp): after the retried ADD the row is \(row?.status ?? "missing")")
        let check = b.skein("CHECK", container, pod)
        #expect(check.status == 0, "\(fp): CHECK: \(check.stdout) \(check.stderr)")
        if b.kind != .macvlan {
            #expect(TypeIT.ping(pod, b.gateway), "\(fp): the pod cannot reach its gateway \(b.gateway)")
        }
    }

    /// Subnet 28: the retried ADD's recovery — tearing down what an ADD killed at add-before-outcome
    /// left (the exec'ed tuning's DEL, then the veth) — is itself killed at every step; then the
    /// runtime ADDs again (CHECK, ping) and DELs.
    @Test func crashInRecoveryThenAddAgain() {
        guard Env.canRunKernelTests else { return }
        let b = CrashBench(.execChain, subnet: 28); defer { b.cleanup() }
        let points: [(name: String, family: Int?)] = [("recovery-exec-0", nil), ("recovery-op", 1), ("recovery-before-outcome", nil)]
        let tried = Self.sweep(points) { fp in
            let (container, pod) = b.newPod(fp)
            let first = b.skein("ADD", container, pod, failpoint: "add-before-outcome")
            #expect(first.status == CrashBench.killed, "add-before-outcome did not fire: \(first.stdout)")
            let add = b.skein("ADD", container, pod, failpoint: fp)
            let died = add.status == CrashBench.killed
            if !died {
                #expect(fp.contains("-op-") && add.status == 0, "\(fp): retried ADD exited \(add.status): \(add.stdout) \(add.stderr)")
            }
            Invariants.expect(b.scope(pod), allowInFlight: true, "\(fp): right after the retried ADD")
            followUpAfter(b, container, pod, fp, .addThenDel, wasActive: !died)
            return died
        }
        print("crash suite recovery (bridge → exec'ed tuning): \(tried.count) failpoints: \(tried.joined(separator: " "))")
        TypeIT.expectNothingHeld(b.node, "recovery: at the end")
    }

    /// Subnet 29: GC (empty valid set) is killed at every step of releasing a chain's attachment;
    /// the next GC finishes it (the journal no longer holds it), and the runtime's DEL exits 0.
    @Test func crashInGCThenGCAgain() {
        guard Env.canRunKernelTests else { return }
        let b = CrashBench(.execChain, subnet: 29); defer { b.cleanup() }
        let points: [(name: String, family: Int?)] = [("gc-after-request", nil), ("gc-exec-0", nil), ("gc-op", 1),
                                                      ("gc-before-outcome", nil)]
        let tried = Self.sweep(points) { fp in
            let (container, pod) = b.newPod(fp)
            let add = b.skein("ADD", container, pod)
            #expect(add.status == 0, "\(fp): ADD: \(add.stdout) \(add.stderr)")
            let gc = b.gc(failpoint: fp)
            let died = gc.status == CrashBench.killed
            if !died { #expect(fp.contains("-op-") && gc.status == 0, "\(fp): GC exited \(gc.status): \(gc.stdout) \(gc.stderr)") }
            Invariants.expect(b.scope(pod), allowInFlight: true, "\(fp): right after the GC")
            let again = b.gc()
            #expect(again.status == 0, "\(fp): GC after the crash: \(again.stdout) \(again.stderr)")
            let key = "\(container)/\(b.ifname)"
            #expect(JournalView(stateDir: b.node.sb.stateDir)?.attachment(key) == nil, "\(fp): GC left \(key) held")
            followUpAfter(b, container, pod, fp, .del, wasActive: false)
            return died
        }
        print("crash suite GC (bridge → exec'ed tuning): \(tried.count) failpoints: \(tried.joined(separator: " "))")
        TypeIT.expectNothingHeld(b.node, "GC: at the end")
    }

    /// Subnet 27: the checker sees what it claims to see. A crashed ADD is a violation when
    /// settled and none in flight; a stray host veth, a pod link nobody holds and an address
    /// configured in two pods are each reported; once they are gone, nothing is.
    @Test func invariantsReportLeaks() {
        guard Env.canRunKernelTests else { return }
        let node = Node("ci"); defer { node.cleanup() }
        let config = node.config(delegate: "{\"type\":\"bridge\",\"bridge\":\"\(node.prefix)br\",\"isGateway\":true,"
                                 + "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.248.27.0/24\"}}")
        let a = node.pod("a"), b = node.pod("b"), c = node.pod("c")
        let scope = InvariantScope(node: node, pods: [a, b, c])
        let addA = node.skein("ADD", container: "a", netns: a, ifname: "eth0", config: config)
        #expect(addA.status == 0, "ADD a: \(addA.stdout)")
        #expect(node.skein("ADD", container: "b", netns: b, ifname: "eth0", config: config,
                           env: ["SKEIN_FAILPOINT": "add-op-4"]).status == CrashBench.killed)
        let settled = Invariants.violations(scope)
        #expect(settled.contains { $0.contains("held by b/eth0 (adding)") }, "\(settled)")
        #expect(settled.contains { $0.hasPrefix("leaked host link veth") }, "\(settled)")
        #expect(Invariants.violations(scope, allowInFlight: true).isEmpty)
        #expect(node.skein("DEL", container: "b", netns: b, ifname: "eth0", config: config).status == 0)

        let ipA = SkeinIT.firstIP(addA) ?? "10.248.27.2", cName = SkeinIT.nsName(c)
        ip("-n", node.host, "link", "add", "vethfeed0000001", "type", "veth", "peer", "name", "vethfeed0000002")
        ip("-n", cName, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        ip("-n", cName, "addr", "add", ipA + "/24", "dev", "eth0")
        let found = Invariants.violations(scope)
        for want in ["leaked host link vethfeed0000001", "leaked host link vethfeed0000002", "leaked pod link \(cName)/eth0",
                     "address \(ipA) on \(cName)/eth0 is held by no attachment", "address \(ipA) is configured in two pods"] {
            #expect(found.contains { $0.hasPrefix(want) }, "missing \"\(want)\" in \(found)")
        }
        ip("-n", node.host, "link", "del", "vethfeed0000001")
        ip("-n", cName, "link", "del", "eth0")
        #expect(Invariants.violations(scope).isEmpty, "\(Invariants.violations(scope))")
        #expect(node.skein("DEL", container: "a", netns: a, ifname: "eth0", config: config).status == 0)
        #expect(Invariants.violations(scope).isEmpty)
    }

    /// Subnet 26: the ADD fails on a conflicting interface the test put into the pod. That is
    /// refused before any kernel change, so there is nothing to roll back: add-rollback-op-0 must
    /// not fire, nothing is held, the foreign eth0 is left alone, and DEL exits 0.
    @Test func conflictingInterfaceRollsBackNothing() {
        guard Env.canRunKernelTests else { return }
        let node = Node("cf"); defer { node.cleanup() }
        let pod = node.pod("p"), name = SkeinIT.nsName(pod)
        // A veth pair, not a dummy: kernels without the dummy module exist (this CI's is one).
        ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        let config = node.config(delegate: "{\"type\":\"bridge\",\"bridge\":\"\(node.prefix)br\",\"isGateway\":true,"
                                 + "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.248.26.0/24\"}}", version: "1.0.0")
        let add = node.skein("ADD", container: "cf", netns: pod, ifname: "eth0", config: config,
                             env: ["SKEIN_FAILPOINT": "add-rollback-op-0,add-rollback-op-1"])
        #expect(add.status == 1 && SkeinIT.code(add) == 100, "ADD on a conflicting eth0: \(add.status) \(add.stdout) \(add.stderr)")
        let scope = InvariantScope(node: node, pods: [pod], foreign: [name + "/eth0", name + "/eth0p"])
        Invariants.expect(scope, "after the refused ADD")
        TypeIT.expectNothingHeld(node, "after the refused ADD")
        let del = node.skein("DEL", container: "cf", netns: pod, ifname: "eth0", config: config)
        #expect(del.status == 0, "DEL: \(del.stdout) \(del.stderr)")
        #expect(TypeIT.link(pod, "eth0")?.kind == "veth", "the foreign eth0 was touched")
        Invariants.expect(scope, "after DEL")
    }
}
