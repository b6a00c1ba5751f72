import Foundation
import Testing

// ipvlan and vlan through the release skein binary, on a node namespace (TypeSupport.swift) whose
// NIC is the master. Whether this kernel can make the link is probed first (KernelSupport, in a
// scratch namespace): where it cannot, the test checks the error a user sees and that nothing is
// held afterwards; where it can, the other test of the pair runs a real ADD/CHECK/DEL instead. Each
// pair's disabled half says why in its trait. Subnets 10.250.50–51.0/24.

struct KernelLinkCase: Sendable, CustomTestStringConvertible {
    let type: String
    let n: Int
    /// Plugin keys after `type` and `master`, no leading comma.
    let keys: String
    let kind: String

    var testDescription: String { type }
    var supported: Bool { type == "ipvlan" ? KernelSupport.ipvlan : KernelSupport.vlan }

    static let ipvlan = KernelLinkCase(type: "ipvlan", n: 50, keys: "\"mode\":\"l2\"", kind: "ipvlan")
    static let vlan = KernelLinkCase(type: "vlan", n: 51, keys: "\"vlanId\":42", kind: "vlan")

    func plugin(master: String) -> String {
        """
        {"type":"\(type)","master":"\(master)",\(keys),"ipam":{"type":"host-local","subnet":"10.250.\(n).0/24"}}
        """
    }
}

@Suite("ipvlan and vlan on this kernel", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct UnsupportedKernelTests {
    @Test("ipvlan: ADD fails with a clear error and holds nothing",
          .enabled(if: Env.isRoot && !KernelSupport.ipvlan, "this kernel has ipvlan: ipvlanAddDel runs a real ADD/DEL instead"))
    func ipvlanMissing() { expectRefused(.ipvlan) }

    @Test("vlan: ADD fails with a clear error and holds nothing",
          .enabled(if: Env.isRoot && !KernelSupport.vlan, "this kernel has 802.1q: vlanAddDel runs a real ADD/DEL instead"))
    func vlanMissing() { expectRefused(.vlan) }

    @Test("ipvlan: ADD, CHECK, DEL",
          .enabled(if: Env.isRoot && KernelSupport.ipvlan, "this kernel lacks ipvlan: ipvlanMissing checks the error instead"))
    func ipvlanAddDel() { expectWorks(.ipvlan) }

    @Test("vlan: ADD, CHECK, DEL",
          .enabled(if: Env.isRoot && KernelSupport.vlan, "this kernel lacks 802.1q: vlanMissing checks the error instead"))
    func vlanAddDel() { expectWorks(.vlan) }

    /// The user's view: exit 1, a CNI error whose msg names the type and says the kernel lacks it.
    /// Nothing is held: no attachment or allocation, every addRequested for the key answered by an
    /// addFailed with released:true, a retry fails the same way (not "already attached"), and a
    /// macvlan ADD on the same network still gets the pool's next address.
    func expectRefused(_ c: KernelLinkCase) {
        guard Env.canRunKernelTests else { return }
        let node = Node(String(c.type.prefix(2))); defer { node.cleanup() }
        let master = node.nic("m0")
        let config = node.config(delegate: c.plugin(master: master))
        let pod = node.pod("p")
        for attempt in 1...2 {
            let add = node.skein("ADD", container: "nok", netns: pod, config: config)
            #expect(add.status == 1, "\(c.type) ADD \(attempt): exit \(add.status): \(add.stdout) \(add.stderr)")
            let code = SkeinIT.code(add)
            #expect(code != nil && code != 7, "\(c.type) ADD \(attempt): want a kernel error, not \(code.map(String.init) ?? "none"): \(add.stdout)")
            let msg = ((add.json?["msg"] as? String) ?? "").lowercased()
            #expect(msg.contains(c.type), "msg does not name \(c.type): \(add.stdout)")
            #expect(msg.contains("kernel") && (msg.contains("module") || msg.contains("support")),
                    "msg does not say the kernel lacks \(c.type): \(add.stdout)")
            #expect(TypeIT.links(pod).filter { $0.name != "lo" }.isEmpty, "links left in the pod")
            TypeIT.expectNothingHeld(node, "\(c.type) ADD \(attempt)")
        }
        let events = SkeinIT.events(node.sb)
        let requests = events.filter { $0.contains("\"type\":\"addRequested\"") }
        let released = events.filter { $0.contains("\"type\":\"addFailed\"") && $0.contains("\"released\":true") }
        #expect(released.count == requests.count, "addRequested \(requests.count), addFailed released \(released.count)")
        // A request that got as far as a decision may have moved host-local's cursor (round robin),
        // never held an address: the next ADD gets the address after the last one decided.
        let decided = requests.filter { $0.contains("\"decision\"") }.count
        let macvlan = node.config(delegate: MacvlanTests.plugin(master: master, n: c.n))   // same network name
        let ok = node.skein("ADD", container: "mv", netns: pod, config: macvlan)
        #expect(ok.status == 0, "macvlan ADD on the same network: \(ok.stdout) \(ok.stderr)")
        #expect(SkeinIT.firstIP(ok) == "10.250.\(c.n).\(2 + decided)", "\(decided) decided requests: \(ok.stdout)")
        #expect(SkeinIT.allocations(node.sb).count == 1)
        #expect(node.skein("DEL", container: "mv", netns: pod, config: macvlan).status == 0)
        #expect(node.skein("DEL", container: "nok", netns: pod, config: config).status == 0, "DEL after the failed ADD")
        TypeIT.expectNothingHeld(node)
    }

    /// On a kernel that has the module: the link in the pod, CHECK, DEL twice, nothing held.
    func expectWorks(_ c: KernelLinkCase) {
        guard Env.canRunKernelTests else { return }
        let node = Node(String(c.type.prefix(2))); defer { node.cleanup() }
        let master = node.nic("m0")
        let config = node.config(delegate: c.plugin(master: master))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "ok", netns: pod, config: config)
        #expect(add.status == 0, "\(c.type) ADD: \(add.stdout) \(add.stderr)")
        #expect(TypeIT.link(pod, "net1")?.kind == c.kind)
        #expect(TypeIT.addresses(pod, "net1") == ["10.250.\(c.n).2/24"])
        let check = node.skein("CHECK", container: "ok", netns: pod, config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        for _ in 1...2 { #expect(node.skein("DEL", container: "ok", netns: pod, config: config).status == 0) }
        #expect(!SkeinIT.hasLink(pod, "net1"))
        TypeIT.expectNothingHeld(node)
    }
}
