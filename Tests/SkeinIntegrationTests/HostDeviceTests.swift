import Foundation
import Testing

// host-device through the release skein binary. The "physical" device is a NIC of a node namespace
// (TypeSupport.swift): a veth end whose peer sits, addressed, in the wire namespace, so the device
// is reachable from there once it is in the pod. Subnets 10.250.10–14.0/24.

@Suite("host-device", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct HostDeviceTests {
    static let deviceMAC = "02:25:00:0a:00:01"
    static let deviceMTU = 1450

    /// The device as the node had it, before any ADD.
    struct Origin {
        let name: String
        let mac: String
        let mtu: Int
    }

    static func device(_ node: Node, n: Int) -> Origin {
        let name = node.nic("d0", peerAddress: "10.250.\(n).1/24", up: false, mtu: deviceMTU, mac: deviceMAC)
        return Origin(name: name, mac: deviceMAC, mtu: deviceMTU)
    }

    static func plugin(_ selector: String, n: Int) -> String {
        """
        {"type":"host-device",\(selector),"ipam":{"type":"host-local","subnet":"10.250.\(n).0/24"}}
        """
    }

    /// The device is back in the node under its original name, MAC and MTU, and gone from the pod.
    static func expectHome(_ node: Node, _ o: Origin, pod: String?, _ what: String = "",
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let home = TypeIT.link(node.host, o.name)
        #expect(home != nil, "\(what): \(o.name) is not back in the node: \(TypeIT.links(node.host).map(\.name))",
                sourceLocation: sourceLocation)
        #expect(home?.mac == o.mac, "\(what): MAC \(home?.mac ?? "-"), was \(o.mac)", sourceLocation: sourceLocation)
        #expect(home?.mtu == o.mtu, "\(what): MTU \(home?.mtu ?? -1), was \(o.mtu)", sourceLocation: sourceLocation)
        if let pod {
            let left = TypeIT.links(pod).filter { $0.name != "lo" }.map(\.name)
            #expect(left.isEmpty, "\(what): links left in the pod: \(left)", sourceLocation: sourceLocation)
        }
    }

    /// Subnet 10: ADD moves the device in as net1 with its address; CHECK; reachable from its peer;
    /// DEL brings it home under its original name; a second DEL changes nothing.
    @Test func addCheckReachDelTwice() {
        guard Env.canRunKernelTests else { return }
        let node = Node("hd"); defer { node.cleanup() }
        let dev = Self.device(node, n: 10)
        let config = node.config(delegate: Self.plugin("\"device\":\"\(dev.name)\"", n: 10))
        let pod = node.pod("p")

        let add = node.skein("ADD", container: "hdev", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        guard add.status == 0 else { return }
        #expect(TypeIT.interfaces(add).map(\.name) == ["net1"], "\(add.stdout)")
        #expect(TypeIT.interfaces(add).first?.sandbox == pod)
        #expect((add.json?["interfaces"] as? [[String: Any]])?.first?["mac"] as? String == dev.mac)
        #expect(TypeIT.ips(add).map(\.address) == ["10.250.10.2/24"])
        #expect(TypeIT.ips(add).first?.interface == 0)

        #expect(TypeIT.link(node.host, dev.name) == nil, "\(dev.name) is still in the node")
        let inPod = TypeIT.link(pod, "net1")
        #expect(inPod?.mac == dev.mac, "net1 is not the device: \(String(describing: inPod))")
        #expect(inPod?.mtu == dev.mtu)
        #expect(inPod?.up == true, "net1 is not UP")
        #expect(TypeIT.addresses(pod, "net1") == ["10.250.10.2/24"])

        let check = node.skein("CHECK", container: "hdev", netns: pod, config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(TypeIT.ping(node.wire, "10.250.10.2"), "the device's peer cannot reach it in the pod")
        #expect(TypeIT.ping(pod, "10.250.10.1"), "the pod cannot reach the device's peer")
        SkeinIT.expectVerify(node.sb)

        let d1 = node.skein("DEL", container: "hdev", netns: pod, config: config)
        #expect(d1.status == 0, "DEL: \(d1.stdout) \(d1.stderr)")
        Self.expectHome(node, dev, pod: pod, "after DEL")
        #expect(TypeIT.addresses(node.host, dev.name).isEmpty, "the pod's address came home with the device")
        let d2 = node.skein("DEL", container: "hdev", netns: pod, config: config)
        #expect(d2.status == 0, "second DEL: \(d2.stdout) \(d2.stderr)")
        Self.expectHome(node, dev, pod: pod, "after the second DEL")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 11: DEL after the pod's netns is gone. A veth is destroyed with its namespace (a real
    /// NIC would fall back to the root namespace), so all DEL can do is release: twice, exit 0.
    @Test func delAfterNetnsDeleted() {
        guard Env.canRunKernelTests else { return }
        let node = Node("hg"); defer { node.cleanup() }
        let dev = Self.device(node, n: 11)
        let config = node.config(delegate: Self.plugin("\"device\":\"\(dev.name)\"", n: 11))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "gone", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        node.sb.deleteNetns(pod)
        let d1 = node.skein("DEL", container: "gone", netns: pod, config: config)
        #expect(d1.status == 0, "DEL after netns deletion: \(d1.stdout) \(d1.stderr)")
        let d2 = node.skein("DEL", container: "gone", netns: pod, config: config)
        #expect(d2.status == 0, "second DEL: \(d2.stdout) \(d2.stderr)")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 12: selected by `hwaddr` (written in upper case, as NIC inventories print it),
    /// attached as eth1 and brought home. (`kernelpath` names a bus device's sysfs directory, which
    /// a veth does not have.)
    @Test func selectedByHardwareAddress() {
        guard Env.canRunKernelTests else { return }
        let node = Node("hs"); defer { node.cleanup() }
        let dev = Self.device(node, n: 12)
        let config = node.config(delegate: Self.plugin("\"hwaddr\":\"\(dev.mac.uppercased())\"", n: 12))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "sel", netns: pod, ifname: "eth1", config: config)
        #expect(add.status == 0, "ADD by hwaddr: \(add.stdout) \(add.stderr)")
        #expect(TypeIT.link(pod, "eth1")?.mac == dev.mac, "eth1 is not the device")
        #expect(TypeIT.addresses(pod, "eth1") == ["10.250.12.2/24"])
        #expect(node.skein("DEL", container: "sel", netns: pod, ifname: "eth1", config: config).status == 0)
        Self.expectHome(node, dev, pod: pod, "by hwaddr")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 13: host-device → tuning (mac, mtu): the pod sees the tuned values, DEL restores the
    /// device's own MAC and MTU under its original name. (tuning's promisc on a host-device is
    /// compared with the reference in TypeDifferentialTests.)
    @Test func tuningChangesAreUndoneWhenTheDeviceGoesHome() {
        guard Env.canRunKernelTests else { return }
        let node = Node("ht"); defer { node.cleanup() }
        let dev = Self.device(node, n: 13)
        let chain = TypeIT.conflist(node.prefix + "-hd", [
            Self.plugin("\"device\":\"\(dev.name)\"", n: 13),
            #"{"type":"tuning","mac":"02:25:00:0d:00:99","mtu":1300}"#,
        ])
        let config = node.config(delegate: chain)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "tuned", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let l = TypeIT.link(pod, "net1")
        #expect(l?.mac == "02:25:00:0d:00:99", "net1 MAC \(l?.mac ?? "-")")
        #expect(l?.mtu == 1300, "net1 MTU \(l?.mtu ?? -1)")
        #expect((add.json?["interfaces"] as? [[String: Any]])?.first?["mac"] as? String == "02:25:00:0d:00:99")
        let check = node.skein("CHECK", container: "tuned", netns: pod, config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(node.skein("DEL", container: "tuned", netns: pod, config: config).status == 0)
        Self.expectHome(node, dev, pod: pod, "after DEL of the tuned device")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 14: something in the pod changed the device's MAC after ADD (an exec'ed plugin, an
    /// operator). The device is still the one ADD moved in (same ifindex, under CNI_IFNAME), and
    /// the reference's DEL brings it home regardless; skein's must too, not report success while the
    /// device stays behind in the pod.
    @Test func delBringsTheDeviceHomeAfterItsMACChangedInThePod() {
        guard Env.canRunKernelTests else { return }
        let node = Node("hm"); defer { node.cleanup() }
        let dev = Self.device(node, n: 14)
        let config = node.config(delegate: Self.plugin("\"device\":\"\(dev.name)\"", n: 14))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "remac", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let index = TypeIT.link(pod, "net1")?.index
        ip("-n", SkeinIT.nsName(pod), "link", "set", "net1", "address", "02:25:00:0e:00:77")
        let del = node.skein("DEL", container: "remac", netns: pod, config: config)
        #expect(del.status == 0, "DEL: \(del.stdout) \(del.stderr)")
        let home = TypeIT.link(node.host, dev.name)
        #expect(home != nil && home?.index == index,
                "\(dev.name) (ifindex \(index ?? -1)) is not back in the node; the pod has \(TypeIT.links(pod).map(\.name))")
        TypeIT.expectNothingHeld(node)
    }
}
