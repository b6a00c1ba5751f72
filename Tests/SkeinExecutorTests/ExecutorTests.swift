// The executor against a real kernel, as root. Everything happens in two namespaces the test makes
// and always removes: one plays the host (the executor runs on a thread that entered it, so the
// bridge, its gateway address and the sysctl never touch the machine's own netns), one plays the
// pod's sandbox. Skipped when not root.

import Foundation
import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer
import Testing
@testable import SkeinExecutor

/// Bridge network in 10.<a>.<b>.0/24 (from the run tag, so parallel runs differ) and fd00:<a><b>::/64.
private struct BridgeFixture {
    let bridge: String
    let hostVeth: String
    let v4: (gw: String, pod: String, subnet: String)
    let spec: AttachmentSpec

    init(_ label: String) {
        let a = Int.random(in: 100...250), b = Int.random(in: 0...255)
        bridge = "\(runTag)br"
        hostVeth = "\(runTag)v\(label)"
        v4 = ("10.\(a).\(b).1", "10.\(a).\(b).2", "10.\(a).\(b).0/24")
        let gw6 = "fd00:\(a):\(b)::1", pod6 = "fd00:\(a):\(b)::2"
        let bridgeSpec = LinkSpec(name: bridge, namespace: .host, kind: .bridge, mtu: 1500, up: true,
                                  addresses: [IPNetwork("\(v4.gw)/24")!, IPNetwork("\(gw6)/64")!], shared: true)
        let hostSpec = LinkSpec(name: hostVeth, namespace: .host, kind: .veth(peer: "eth0"),
                                mac: MACAddress("02:5c:00:00:00:01"), mtu: 1500, master: bridge, up: true)
        let peerSpec = LinkSpec(
            name: "eth0", namespace: .container, kind: .vethPeer, mac: MACAddress("02:5c:00:00:00:02"), mtu: 1500,
            up: true, addresses: [IPNetwork("\(v4.pod)/24")!, IPNetwork("\(pod6)/64")!],
            routes: [RouteSpec(dst: IPNetwork("0.0.0.0/0")!, gateway: IPAddress(v4.gw)),
                     RouteSpec(dst: IPNetwork("::/0")!, gateway: IPAddress(gw6))])
        spec = AttachmentSpec(links: [bridgeSpec, hostSpec, peerSpec],
                              sysctls: [SysctlSpec(key: "net/ipv4/ip_forward", value: "1", namespace: .host)])
    }
}

private func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    var t0 = timespec(), t1 = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t0)
    try body()
    clock_gettime(CLOCK_MONOTONIC, &t1)
    return Double(t1.tv_sec - t0.tv_sec) * 1e3 + Double(t1.tv_nsec - t0.tv_nsec) / 1e6
}

@Suite(.serialized, .enabled(if: isRoot, "needs root for network namespaces"))
struct ExecutorTests {
    @Test func addIsIdempotentPingsAndTearsDown() throws {
        let f = BridgeFixture("a")
        try Sandbox.with("a") { box in
            // A new netns copies ip_forward from the machine's: make sure there is a sysctl to apply.
            try ip("netns", "exec", box.hostName, "sysctl", "-qw", "net.ipv4.ip_forward=0")
            let (plan, observeMs, applyMs) = try box.onHost { () -> ([PlanOp], Double, Double) in
                let ex = try Executor(containerNetNS: box.podPath)
                var seen = Observation()
                let observeMs = try milliseconds { seen = try ex.observe(f.spec) }
                let plan = try Planner.planAdd(desired: f.spec, observed: seen)
                return (plan, observeMs, try milliseconds { try ex.apply(plan) })
            }
            // Bridge: create, up, 2 addresses; veth: create, master, up; eth0: 2 addresses, up,
            // 2 routes; the sysctl.
            #expect(plan.count == 13, "\(plan)")
            print("executor: observe (nothing there yet) \(observeMs) ms; full ADD apply \(plan.count) ops in \(applyMs) ms")
            let forward = try ip("netns", "exec", box.hostName, "sysctl", "-n", "net.ipv4.ip_forward")
            #expect(forward.output == "1\n")

            let (again, drift, reapplied) = try box.onHost { () -> ([PlanOp], [String], [PlanOp]) in
                let ex = try Executor(containerNetNS: box.podPath)
                let seen = try ex.observe(f.spec)
                let again = try Planner.planAdd(desired: f.spec, observed: seen)
                try ex.apply(plan)  // the same plan once more: every op must tolerate "already"
                let reapplied = try Planner.planAdd(desired: f.spec, observed: try ex.observe(f.spec))
                return (again, Planner.drift(desired: f.spec, observed: seen), reapplied)
            }
            #expect(again == [])
            #expect(drift == [])
            #expect(reapplied == [])

            let ping = try ip("netns", "exec", box.podName, "ping", "-c1", "-W1", f.v4.gw)
            #expect(ping.status == 0, "\(ping.output)")
            let route = try ip("-n", box.podName, "route", "show", "default")
            #expect(route.output.contains("via \(f.v4.gw) dev eth0"), "\(route.output)")
            let master = try ip("-n", box.hostName, "link", "show", f.hostVeth)
            #expect(master.output.contains("master \(f.bridge)"), "\(master.output)")

            try tearDownTwice(f, box)
        }
    }

    private func tearDownTwice(_ f: BridgeFixture, _ box: Sandbox) throws {
        let (plan, ms, after, second, bridgeMAC) = try box.onHost {
            () -> ([PlanOp], Double, Observation, [PlanOp], MACAddress?) in
            let ex = try Executor(containerNetNS: box.podPath)
            let plan = Planner.planTeardown(desired: f.spec, observed: try ex.observeHostEnds(f.spec))
            let ms = try milliseconds { try ex.apply(plan) }
            let after = try ex.observe(f.spec)
            return (plan, ms, after, Planner.planTeardown(desired: f.spec, observed: after), try ex.bridgeMAC(f.bridge))
        }
        print("executor: teardown apply \(plan.count) ops in \(ms) ms")
        #expect(plan == [.linkDelete(.host, f.hostVeth)], "teardown deletes the host end: it takes the container end with it")
        #expect(after.links.map(\.name) == [f.bridge], "the bridge stays, both veth ends are gone")
        #expect(second == [])
        #expect(bridgeMAC != nil)
    }

    @Test func teardownAfterTheSandboxIsDeletedRemovesTheHostEnd() throws {
        let f = BridgeFixture("d")
        try Sandbox.with("d") { box in
            // Hold the sandbox open, as a runtime's pause process would: without a holder the
            // kernel destroys the netns and the pair with it.
            let holder = try NetNS.open(path: box.podPath)
            try box.onHost {
                let ex = try Executor(containerNetNS: box.podPath)
                try ex.apply(try Planner.planAdd(desired: f.spec, observed: try ex.observe(f.spec)))
            }
            #expect(try ip("netns", "del", box.podName).status == 0)
            let (exists, plan, left) = try box.onHost { () -> (Bool, [PlanOp], Observation) in
                let ex = try Executor(containerNetNS: box.podPath)
                let plan = Planner.planTeardown(desired: f.spec, observed: try ex.observe(f.spec))
                try ex.apply(plan)
                return (ex.containerNamespaceExists, plan, try ex.observe(f.spec))
            }
            withExtendedLifetime(holder) {}
            #expect(!exists)
            #expect(plan == [.linkDelete(.host, f.hostVeth)])
            #expect(left.links.map(\.name) == [f.bridge])
        }
    }

    @Test func resumingAfterACrashFinishesTheJob() throws {
        let f = BridgeFixture("r")
        try Sandbox.with("r") { box in
            let (stoppedAt, cut, rest, full, finalPlan) = try box.onHost {
                () -> (String, Int, [PlanOp], [PlanOp], [PlanOp]) in
                let ex = try Executor(containerNetNS: box.podPath)
                let full = try Planner.planAdd(desired: f.spec, observed: try ex.observe(f.spec))
                // Stop after the veth pair exists (a crash there), then retry from observation.
                let cut = full.firstIndex { if case .createVethPair = $0 { return true } else { return false } }! + 1
                var seen: [String] = []
                try ex.apply(Array(full[..<cut])) { seen.append($0) }
                let retry = try Executor(containerNetNS: box.podPath)
                let rest = try Planner.planAdd(desired: f.spec, observed: try retry.observe(f.spec))
                try retry.apply(rest)
                let finalPlan = try Planner.planAdd(desired: f.spec, observed: try retry.observe(f.spec))
                return (seen.last ?? "", cut, rest, Array(full[cut...]), finalPlan)
            }
            #expect(stoppedAt == "after-op-\(cut - 1)")
            #expect(rest == full)
            #expect(finalPlan == [])
        }
    }

    /// Ten ADD/DEL cycles on one bridge: each ADD plans the same full veth setup (nothing left
    /// behind by the DEL before it) and leaves nothing to do; medians are printed for the record.
    @Test func repeatedAddDelCyclesLeaveNothingBehind() throws {
        let f = BridgeFixture("n")
        try Sandbox.with("n") { box in
            let runs = try box.onHost { () -> [(add: Double, del: Double, addOps: Int, leftover: [PlanOp])] in
                var out: [(add: Double, del: Double, addOps: Int, leftover: [PlanOp])] = []
                for _ in 0..<10 {
                    let ex = try Executor(containerNetNS: box.podPath)
                    var plan: [PlanOp] = []
                    let add = try milliseconds {
                        plan = try Planner.planAdd(desired: f.spec, observed: try ex.observe(f.spec))
                        try ex.apply(plan)
                    }
                    let leftover = try Planner.planAdd(desired: f.spec, observed: try ex.observe(f.spec))
                    let del = try milliseconds {
                        try ex.apply(Planner.planTeardown(desired: f.spec, observed: try ex.observe(f.spec)))
                    }
                    out.append((add, del, plan.count, leftover))
                }
                return out
            }
            #expect(runs.dropFirst().allSatisfy { $0.addOps == 8 }, "veth + eth0 ops only: \(runs.map(\.addOps))")
            #expect(runs.allSatisfy { $0.leftover.isEmpty })
            let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
            print("executor: observe+plan+apply ADD median \(median(runs.map(\.add))) ms,"
                + " DEL median \(median(runs.map(\.del))) ms over \(runs.count) cycles")
        }
    }

    @Test func sandboxPathThatIsNotANetnsIsRejectedAndAMissingOneIsNot() throws {
        do {
            _ = try Executor(containerNetNS: "/proc/self/status")
            Issue.record("a regular file was accepted as a netns")
        } catch let e as ExecutorError {
            #expect(e.errno == EINVAL, "\(e)")
        }
        let missing = try Executor(containerNetNS: "/run/netns/\(runTag)-missing")
        #expect(!missing.containerNamespaceExists)
    }

    /// tuning's MTU is the container end's alone: the pair is created with the host end's MTU
    /// and the peer set afterwards, so the host end and the bridge keep theirs. A pair asked for
    /// with two MTUs is refused before anything is created.
    @Test func aTunedPeerMTUStaysInTheContainer() throws {
        var spec = BridgeFixture("m").spec
        spec.links[2].mtu = 1300
        try Sandbox.with("m") { box in
            let (plan, seen, refused) = try box.onHost { () -> ([PlanOp], Observation, ExecutorError?) in
                let ex = try Executor(containerNetNS: box.podPath)
                let refused = #expect(throws: ExecutorError.self) {
                    try ex.apply([.createVethPair(host: spec.links[1], peer: spec.links[2])])
                }
                let plan = try Planner.planAdd(desired: spec, observed: try ex.observe(spec))
                try ex.apply(plan)
                return (plan, try ex.observe(spec), refused)
            }
            #expect(refused?.errno == EINVAL)
            #expect(plan.contains(.setMTU(.container, "eth0", 1300)), "\(plan)")
            #expect(seen.link(named: spec.links[0].name, in: .host)?.mtu == 1500)
            #expect(seen.link(named: spec.links[1].name, in: .host)?.mtu == 1500)
            #expect(seen.link(named: "eth0", in: .container)?.mtu == 1300)
            #expect(Planner.drift(desired: spec, observed: seen) == [])
        }
    }

    @Test func hairpinIsAppliedOnTheBridgePort() throws {
        var spec = BridgeFixture("h").spec
        spec.links[1].hairpin = true
        try Sandbox.with("h") { box in
            try box.onHost {
                let ex = try Executor(containerNetNS: box.podPath)
                try ex.apply(try Planner.planAdd(desired: spec, observed: try ex.observe(spec)))
            }
            let port = try ip("-n", box.hostName, "-d", "link", "show", spec.links[1].name)
            #expect(port.output.contains("hairpin on"), "\(port.output)")
        }
    }
}
