import Foundation
import Testing

// Crash recovery for macvlan and host-device with the real binary: SKEIN_FAILPOINT=<name> makes
// skein SIGKILL itself at that step (Sources/SkeinEngine/Failpoints.swift); the runtime then DELs.
// After that DEL nothing may be left: no interface in the pod, no macvlan anywhere on the node, no
// attachment or allocation in the journal, the device home under its original name, MAC and MTU,
// and `skein-journal verify` clean. add-op-<i> and del-op-<i> are discovered: i counts up until
// the operation survives its failpoint (the plan has fewer ops).
//
// One node per test; each failpoint gets its own container ID and pod netns (and leaves the node
// as it found it, which the next failpoint relies on). Subnets 10.250.60–64.0/24.

struct CrashSubject: Sendable, CustomTestStringConvertible {
    let type: String
    var testDescription: String { type }

    static let macvlan = CrashSubject(type: "macvlan")
    static let hostDevice = CrashSubject(type: "host-device")

    static let killed: Int32 = 137
    static let deviceMAC = "02:25:00:3c:00:01"

    /// Sets up the node's NIC or device; returns the plugin object.
    func prepare(_ node: Node, subnet: Int) -> String {
        let ipam = "{\"type\":\"host-local\",\"subnet\":\"10.250.\(subnet).0/24\"}"
        if type == "macvlan" {
            let master = node.nic("m0")
            return "{\"type\":\"macvlan\",\"master\":\"\(master)\",\"ipam\":\(ipam)}"
        }
        let dev = node.nic("d0", peerAddress: "10.250.\(subnet).1/24", up: false, mtu: 1450, mac: Self.deviceMAC)
        return "{\"type\":\"host-device\",\"device\":\"\(dev)\",\"ipam\":\(ipam)}"
    }

    /// Nothing leaked after the DEL that followed a crash.
    func expectClean(_ node: Node, pod: String, _ fp: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let inPod = TypeIT.links(pod).filter { $0.name != "lo" }.map(\.name)
        #expect(inPod.isEmpty, "\(fp): links left in the pod: \(inPod)", sourceLocation: sourceLocation)
        let macvlans = TypeIT.links(node.host).filter { $0.kind == "macvlan" }.map(\.name)
        #expect(macvlans.isEmpty, "\(fp): macvlans left in the node: \(macvlans)", sourceLocation: sourceLocation)
        if type == "host-device" {
            HostDeviceTests.expectHome(node, .init(name: node.prefix + "d0", mac: Self.deviceMAC, mtu: 1450), pod: pod, fp,
                                       sourceLocation: sourceLocation)
        }
        TypeIT.expectNothingHeld(node, fp, sourceLocation: sourceLocation)
    }
}

@Suite("Crash recovery: macvlan and host-device", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct TypeCrashTests {
    /// Subnets 60 (macvlan) and 61 (host-device): every ADD failpoint, then DEL, then DEL again.
    @Test(arguments: [(CrashSubject.macvlan, 60), (CrashSubject.hostDevice, 61)])
    func addCrashThenDel(_ s: CrashSubject, _ subnet: Int) {
        guard Env.canRunKernelTests else { return }
        let node = Node("ka"); defer { node.cleanup() }
        let config = node.config(delegate: s.prepare(node, subnet: subnet))

        /// Returns whether skein died at `fp`.
        func scenario(_ fp: String) -> Bool {
            let container = "crash-\(fp)", pod = node.pod(fp)
            let add = node.skein("ADD", container: container, netns: pod, config: config, env: ["SKEIN_FAILPOINT": fp])
            if add.status != CrashSubject.killed {
                #expect(fp.hasPrefix("add-op-"), "\(fp): ADD exited \(add.status): \(add.stdout) \(add.stderr)")
                #expect(add.status == 0, "\(fp): ADD past the plan's end: \(add.stdout) \(add.stderr)")
            }
            let del = node.skein("DEL", container: container, netns: pod, config: config)
            #expect(del.status == 0, "\(fp): DEL after the crash: \(del.stdout) \(del.stderr)")
            s.expectClean(node, pod: pod, fp)
            let again = node.skein("DEL", container: container, netns: pod, config: config)
            #expect(again.status == 0, "\(fp): second DEL: \(again.stdout) \(again.stderr)")
            if add.status == CrashSubject.killed && fp != "add-after-outcome" {
                let key = "\"key\":{\"containerID\":\"\(container)\",\"ifname\":\"net1\"}"
                let recovered = SkeinIT.events(node.sb).filter {
                    $0.contains("\"type\":\"addFailed\"") && $0.contains(key) && $0.contains("\"cause\":\"recovery\"")
                }
                #expect(recovered.count == 1, "\(fp): addFailed(recovery) events: \(recovered.count)")
            }
            return add.status == CrashSubject.killed
        }

        #expect(scenario("add-after-request"))
        var i = 0
        while i < 32, scenario("add-op-\(i)") { i += 1 }
        #expect(i >= 2, "\(s.type): only \(i) ADD ops fired a failpoint")
        #expect(scenario("add-before-outcome"))
        #expect(scenario("add-after-outcome"))
    }

    /// Subnets 62 (macvlan) and 63 (host-device): every DEL failpoint after a good ADD, then DEL.
    @Test(arguments: [(CrashSubject.macvlan, 62), (CrashSubject.hostDevice, 63)])
    func delCrashThenDel(_ s: CrashSubject, _ subnet: Int) {
        guard Env.canRunKernelTests else { return }
        let node = Node("kd"); defer { node.cleanup() }
        let config = node.config(delegate: s.prepare(node, subnet: subnet))

        func scenario(_ fp: String) -> Bool {
            let container = "crash-\(fp)", pod = node.pod(fp)
            let add = node.skein("ADD", container: container, netns: pod, config: config)
            #expect(add.status == 0, "\(fp): ADD: \(add.stdout) \(add.stderr)")
            let del = node.skein("DEL", container: container, netns: pod, config: config, env: ["SKEIN_FAILPOINT": fp])
            let died = del.status == CrashSubject.killed
            if died {
                #expect(SkeinIT.allocations(node.sb).count == 1, "\(fp): the crashed DEL released without an outcome")
                let again = node.skein("DEL", container: container, netns: pod, config: config)
                #expect(again.status == 0, "\(fp): DEL after the crash: \(again.stdout) \(again.stderr)")
            } else {
                #expect(fp.hasPrefix("del-op-"), "\(fp): DEL exited \(del.status): \(del.stdout) \(del.stderr)")
                #expect(del.status == 0, "\(fp): DEL past the plan's end: \(del.stdout) \(del.stderr)")
            }
            s.expectClean(node, pod: pod, fp)
            return died
        }

        #expect(scenario("del-after-request"))
        var i = 0
        while i < 16, scenario("del-op-\(i)") { i += 1 }
        #expect(i >= 1, "\(s.type): del-op-0 never fired")
        #expect(scenario("del-before-outcome"))
    }

    /// Subnet 64: host-device's DEL crashes after the device was moved home but the netns path is
    /// already gone (`ip netns del` while the runtime retries): the retried DEL still finishes.
    @Test func hostDeviceDelCrashThenNetnsGone() {
        guard Env.canRunKernelTests else { return }
        let node = Node("kn"); defer { node.cleanup() }
        let config = node.config(delegate: CrashSubject.hostDevice.prepare(node, subnet: 64))
        let pod = node.pod("p")
        #expect(node.skein("ADD", container: "kn", netns: pod, config: config).status == 0)
        let del = node.skein("DEL", container: "kn", netns: pod, config: config, env: ["SKEIN_FAILPOINT": "del-before-outcome"])
        #expect(del.status == CrashSubject.killed, "DEL exited \(del.status): \(del.stdout)")
        HostDeviceTests.expectHome(node, .init(name: node.prefix + "d0", mac: CrashSubject.deviceMAC, mtu: 1450), pod: pod,
                                   "the crashed DEL had moved it home")
        node.sb.deleteNetns(pod)
        let again = node.skein("DEL", container: "kn", netns: pod, config: config)
        #expect(again.status == 0, "DEL after crash and netns deletion: \(again.stdout) \(again.stderr)")
        HostDeviceTests.expectHome(node, .init(name: node.prefix + "d0", mac: CrashSubject.deviceMAC, mtu: 1450), pod: nil,
                                   "after the retried DEL")
        TypeIT.expectNothingHeld(node)
    }
}
