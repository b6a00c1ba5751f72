import Foundation
import Testing

// Crash recovery with the real binary: SKEIN_FAILPOINT=<name> makes skein SIGKILL itself at that
// step (ARCHITECTURE.md, "Recovery after a crash at each step"), `run` reports 128 + 9 = 137. After
// every crash the next DEL (or retried ADD) must leave nothing behind: no host veth on the bridge,
// no attachment or allocation in the journal, no eth0 in the container, a journal that verifies.
//
// Each failpoint gets a fresh Sandbox (own bridge, netns and state dir), one after another within
// a test, so "fresh bridge ADD" means the whole plan runs. Subnets 10.251.30–36.0/24.

@Suite(.enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct CrashTests {
    static let killed: Int32 = 137

    /// The crashed ADD's outcome, as recovery journaled it: exactly one addFailed(recovery) for the
    /// key, and `applied` addApplied events for it (0 after a DEL; 1, the retry's, after a retried ADD).
    func expectRecoveredAddFailed(_ sb: Sandbox, container: String, _ failpoint: String, applied: Int = 0,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let events = SkeinIT.events(sb)
        #expect(!events.isEmpty, "\(failpoint): no events read from the journal", sourceLocation: sourceLocation)
        let key = "\"key\":{\"containerID\":\"\(container)\",\"ifname\":\"eth0\"}"
        let recovered = events.filter { $0.contains("\"type\":\"addFailed\"") && $0.contains(key) && $0.contains("\"cause\":\"recovery\"") }
        #expect(recovered.count == 1, "\(failpoint): addFailed(recovery) events: \(recovered)", sourceLocation: sourceLocation)
        let appliedEvents = events.filter { $0.contains("\"type\":\"addApplied\"") && $0.contains(key) }
        #expect(appliedEvents.count == applied, "\(failpoint): addApplied events: \(appliedEvents.count), want \(applied)",
                sourceLocation: sourceLocation)
    }

    /// Runs one ADD with `failpoint` in a fresh sandbox on subnet n; returns the ADD's result, and
    /// hands the still-live sandbox to `after`.
    func crashAdd(_ failpoint: String, n: Int, tag: String, after: (Sandbox, String, String, ProcessResult) -> Void) {
        let sb = Sandbox(tag); defer { sb.cleanup() }
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        let add = cni("ADD", sb, container: "crash", netns: ns, config: config, extraEnv: ["SKEIN_FAILPOINT": failpoint])
        after(sb, ns, config, add)
    }

    /// The ADD failpoints of a fresh bridge ADD; add-op-i are discovered by `probe`, which returns
    /// whether the ADD with that failpoint died.
    func addFailpoints(_ probe: (String) -> Bool) -> [String] {
        var names = ["add-after-request"]
        var i = 0
        while i < 64, probe("add-op-\(i)") {
            names.append("add-op-\(i)")
            i += 1
        }
        #expect(i >= 5, "a fresh bridge ADD should have at least 5 kernel ops, add-op-\(i) did not fire")
        return names + ["add-before-outcome", "add-after-outcome"]
    }

    /// Only an add-op-i past the end of the plan may survive its failpoint: that ends discovery.
    /// The ADD must then have succeeded, and a DEL cleans it up.
    func survived(_ fp: String, _ add: ProcessResult, _ sb: Sandbox, _ ns: String, _ config: String) {
        #expect(fp.hasPrefix("add-op-"), "\(fp): ADD exited \(add.status): \(add.stdout) \(add.stderr)")
        #expect(add.status == 0, "\(fp): \(add.stdout)")
        #expect(cni("DEL", sb, container: "crash", netns: ns, config: config).status == 0)
        SkeinIT.expectClean(sb, netns: ns)
    }

    /// Subnet 30: every ADD failpoint, then DEL.
    @Test func addCrashThenDelCleansUp() {
        guard Env.canRunKernelTests else { return }   // not root or no binaries
        let n = 30
        var tried: [String] = []

        func scenario(_ fp: String) -> Bool {
            var died = false
            crashAdd(fp, n: n, tag: "ca") { sb, ns, config, add in
                if add.status != Self.killed {
                    survived(fp, add, sb, ns, config)
                    return
                }
                died = true
                tried.append(fp)
                let del = cni("DEL", sb, container: "crash", netns: ns, config: config)
                #expect(del.status == 0, "\(fp): DEL after crash: \(del.stdout) \(del.stderr)")
                SkeinIT.expectClean(sb, netns: ns)
                if fp != "add-after-outcome" {
                    expectRecoveredAddFailed(sb, container: "crash", fp)
                }
                // A second DEL is still fine.
                #expect(cni("DEL", sb, container: "crash", netns: ns, config: config).status == 0, "\(fp): second DEL")
                SkeinIT.expectVerify(sb)
            }
            return died
        }

        #expect(scenario("add-after-request"))
        let names = addFailpoints { scenario($0) }
        #expect(scenario("add-before-outcome"))
        #expect(scenario("add-after-outcome"))
        #expect(tried == names, "crashed at \(tried), expected \(names)")
    }

    /// Subnet 31: every ADD failpoint, then the runtime retries the ADD instead of DEL.
    @Test func addCrashThenRetriedAddWorks() {
        guard Env.canRunKernelTests else { return }
        let n = 31, p = SkeinIT.net(n)
        var tried: [String] = []

        func scenario(_ fp: String) -> Bool {
            var died = false
            crashAdd(fp, n: n, tag: "cr") { sb, ns, config, add in
                if add.status != Self.killed {
                    survived(fp, add, sb, ns, config)
                    return
                }
                died = true
                tried.append(fp)
                let retry = cni("ADD", sb, container: "crash", netns: ns, config: config)
                if fp == "add-after-outcome" {
                    // The journal says active: for skein this ADD is a second ADD without DEL, which
                    // the spec forbids; it is refused (7) and the first attachment must keep working.
                    #expect(retry.status != 0)
                    #expect(SkeinIT.code(retry) == 7, "\(fp): retried ADD: \(retry.stdout) \(retry.stderr)")
                    #expect(addresses(netns: ns) == ["\(p)2/24"], "\(fp): eth0 addresses")
                    #expect(SkeinIT.allocations(sb).map(\.ip) == ["\(p)2"], "\(fp): the refused ADD released the live attachment")
                } else {
                    #expect(retry.status == 0, "\(fp): retried ADD: \(retry.stdout) \(retry.stderr)")
                    if let ip = SkeinIT.firstIP(retry) {
                        #expect(ip.hasPrefix(p), "\(fp): \(ip)")
                        #expect(addresses(netns: ns) == ["\(ip)/24"], "\(fp): eth0 addresses")
                        #expect(SkeinIT.allocations(sb).map(\.ip) == [ip], "\(fp): allocations")
                    } else {
                        Issue.record("\(fp): retried ADD gave no address: \(retry.stdout)")
                    }
                    expectRecoveredAddFailed(sb, container: "crash", fp, applied: 1)
                }
                #expect(sb.bridgePorts().count == 1, "\(fp): ports \(sb.bridgePorts())")
                #expect(SkeinIT.attachments(sb).count == 1, "\(fp): attachments")
                #expect(SkeinIT.ping(from: ns, "\(p)1"), "\(fp): eth0 cannot reach the gateway after the retried ADD")
                #expect(cni("CHECK", sb, container: "crash", netns: ns, config: config).status == 0, "\(fp): CHECK")
                SkeinIT.expectVerify(sb)
                let del = cni("DEL", sb, container: "crash", netns: ns, config: config)
                #expect(del.status == 0, "\(fp): DEL: \(del.stdout)")
                SkeinIT.expectClean(sb, netns: ns)
            }
            return died
        }

        #expect(scenario("add-after-request"))
        let names = addFailpoints { scenario($0) }
        #expect(scenario("add-before-outcome"))
        #expect(scenario("add-after-outcome"))
        #expect(tried == names, "crashed at \(tried), expected \(names)")
    }

    /// Subnet 32: every DEL failpoint after a good ADD, then DEL again.
    @Test func delCrashThenDelCleansUp() {
        guard Env.canRunKernelTests else { return }
        let n = 32
        var tried: [String] = []

        func scenario(_ fp: String) -> Bool {
            let sb = Sandbox("cd"); defer { sb.cleanup() }
            let config = SkeinIT.config(sb, n)
            let ns = sb.netns("p")
            let add = cni("ADD", sb, container: "crash", netns: ns, config: config)
            #expect(add.status == 0, "\(fp): ADD: \(add.stdout)")
            #expect(SkeinIT.firstIP(add) == "\(SkeinIT.net(n))2")
            let del = cni("DEL", sb, container: "crash", netns: ns, config: config, extraEnv: ["SKEIN_FAILPOINT": fp])
            if del.status != Self.killed {
                #expect(fp.hasPrefix("del-op-"), "\(fp): DEL exited \(del.status): \(del.stdout) \(del.stderr)")
                #expect(del.status == 0)
                SkeinIT.expectClean(sb, netns: ns)
                return false
            }
            tried.append(fp)
            // Killed mid-DEL: the journal still holds the attachment (deleting).
            #expect(SkeinIT.allocations(sb).count == 1, "\(fp): the crashed DEL released without an outcome")
            let again = cni("DEL", sb, container: "crash", netns: ns, config: config)
            #expect(again.status == 0, "\(fp): DEL after crash: \(again.stdout) \(again.stderr)")
            SkeinIT.expectClean(sb, netns: ns)
            let events = SkeinIT.events(sb)
            #expect(events.filter { $0.contains("\"type\":\"delApplied\"") }.count == 1, "\(fp): delApplied count")
            return true
        }

        var names = ["del-after-request"]
        #expect(scenario("del-after-request"))
        var i = 0
        while i < 16, scenario("del-op-\(i)") {
            names.append("del-op-\(i)")
            i += 1
        }
        #expect(i >= 1, "del-op-0 never fired")
        #expect(scenario("del-before-outcome"))
        names.append("del-before-outcome")
        #expect(tried == names)
    }

    /// Subnets 33–35: the netns path is gone (`ip netns del`) but the namespace is still alive (the
    /// test holds an fd to it, as a lingering process would), so the host veth still exists and only
    /// its derived name finds it. DEL crashes at the failpoint; the next DEL removes the host veth.
    @Test(arguments: [("del-after-request", 33), ("del-op-0", 34), ("del-before-outcome", 35)])
    func delCrashWithNetnsGone(failpoint: String, n: Int) {
        guard Env.canRunKernelTests else { return }
        let sb = Sandbox("cg"); defer { sb.cleanup() }
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        let add = cni("ADD", sb, container: "crash", netns: ns, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout)")
        #expect(sb.bridgePorts().count == 1)
        let hold = open(ns, O_RDONLY | O_CLOEXEC)
        #expect(hold >= 0)
        defer { if hold >= 0 { close(hold) } }
        sb.deleteNetns(ns)
        #expect(!FileManager.default.fileExists(atPath: ns))
        #expect(sb.bridgePorts().count == 1, "the host veth should outlive the netns path while the netns is held")
        let del = cni("DEL", sb, container: "crash", netns: ns, config: config, extraEnv: ["SKEIN_FAILPOINT": failpoint])
        #expect(del.status == Self.killed, "\(failpoint): DEL exited \(del.status): \(del.stdout) \(del.stderr)")
        let again = cni("DEL", sb, container: "crash", netns: ns, config: config)
        #expect(again.status == 0, "DEL after crash: \(again.stdout) \(again.stderr)")
        SkeinIT.expectClean(sb, netns: nil)
    }

    /// Subnet 36: the same with the namespace really gone (nothing holds it): del-after-request.
    @Test func delCrashAfterRequestWithNetnsDestroyed() {
        guard Env.canRunKernelTests else { return }
        let n = 36
        let sb = Sandbox("cx"); defer { sb.cleanup() }
        let config = SkeinIT.config(sb, n)
        let ns = sb.netns("p")
        #expect(cni("ADD", sb, container: "crash", netns: ns, config: config).status == 0)
        sb.deleteNetns(ns)
        let del = cni("DEL", sb, container: "crash", netns: ns, config: config, extraEnv: ["SKEIN_FAILPOINT": "del-after-request"])
        #expect(del.status == Self.killed, "DEL exited \(del.status): \(del.stdout)")
        #expect(SkeinIT.allocations(sb).count == 1)
        let again = cni("DEL", sb, container: "crash", netns: ns, config: config)
        #expect(again.status == 0, "DEL after crash: \(again.stdout) \(again.stderr)")
        SkeinIT.expectClean(sb, netns: nil)
    }
}
