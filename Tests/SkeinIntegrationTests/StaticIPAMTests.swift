import Foundation
import Testing

// static IPAM through the release skein binary, under bridge and macvlan on a node namespace
// (TypeSupport.swift): addresses with gateways, routes, and the other places an address can come
// from (CNI_ARGS IP=/GATEWAY=, runtimeConfig.ips, args.cni.ips). Static addresses are reported,
// not held: the journal's allocation table stays empty throughout. Subnets 10.250.40–44.0/24.

@Suite("static IPAM", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct StaticIPAMTests {
    /// Subnet 40: bridge (isGateway) + static address, gateway, route and dns: ADD, CHECK, the pod
    /// uses the static route and reaches the gateway, DEL twice.
    @Test func bridgeWithStaticAddressRouteAndDNS() {
        guard Env.canRunKernelTests else { return }
        let node = Node("sb"); defer { node.cleanup() }
        let plugin = """
        {"type":"bridge","bridge":"\(node.prefix)br","isGateway":true,"ipam":{"type":"static",\
        "addresses":[{"address":"10.250.40.9/24","gateway":"10.250.40.1"}],\
        "routes":[{"dst":"10.250.140.0/24"},{"dst":"10.250.141.0/24","gw":"10.250.40.254"}],\
        "dns":{"nameservers":["10.250.40.53"],"search":["skein.test"]}}}
        """
        let config = node.config(delegate: plugin)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "st", netns: pod, ifname: "eth0", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        guard add.status == 0 else { return }
        #expect(TypeIT.ips(add).map(\.address) == ["10.250.40.9/24"])
        #expect(TypeIT.ips(add).first?.gateway == "10.250.40.1")
        #expect(TypeIT.ips(add).first?.interface == 2, "ips[0] must point at eth0 (bridge, veth, eth0)")
        let routes = (add.json?["routes"] as? [[String: Any]] ?? []).compactMap { $0["dst"] as? String }
        #expect(routes == ["10.250.140.0/24", "10.250.141.0/24"], "result routes: \(add.stdout)")
        #expect(TypeIT.addresses(pod, "eth0") == ["10.250.40.9/24"])
        let podRoutes = TypeIT.routes(pod)
        #expect(podRoutes.contains { $0.contains("\"dst\":\"10.250.140.0/24\"") && $0.contains("\"gateway\":\"10.250.40.1\"") },
                "the route without gw should go via the address's gateway: \(podRoutes)")
        #expect(podRoutes.contains { $0.contains("\"dst\":\"10.250.141.0/24\"") && $0.contains("\"gateway\":\"10.250.40.254\"") },
                "route with its own gw: \(podRoutes)")
        #expect(TypeIT.addresses(node.host, node.prefix + "br") == ["10.250.40.1/24"], "bridge gateway address")
        #expect(TypeIT.ping(pod, "10.250.40.1"), "pod cannot reach the gateway")
        #expect(SkeinIT.allocations(node.sb).isEmpty, "static addresses must not be held")

        let check = node.skein("CHECK", container: "st", netns: pod, ifname: "eth0", config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        for i in 1...2 {
            let d = node.skein("DEL", container: "st", netns: pod, ifname: "eth0", config: config)
            #expect(d.status == 0, "DEL \(i): \(d.stdout) \(d.stderr)")
        }
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 41: two macvlan pods with static addresses on one master ping each other; DEL of one
    /// after its netns is gone.
    @Test func macvlanPodsWithStaticAddresses() {
        guard Env.canRunKernelTests else { return }
        let node = Node("sm"); defer { node.cleanup() }
        let master = node.nic("m0")
        func plugin(_ host: Int) -> String {
            """
            {"type":"macvlan","master":"\(master)","ipam":{"type":"static","addresses":[{"address":"10.250.41.\(host)/24"}]}}
            """
        }
        let a = node.pod("a"), b = node.pod("b")
        let ca = node.config(delegate: plugin(5)), cb = node.config(delegate: plugin(6))
        let addA = node.skein("ADD", container: "smA", netns: a, config: ca)
        let addB = node.skein("ADD", container: "smB", netns: b, config: cb)
        #expect(addA.status == 0, "ADD A: \(addA.stdout) \(addA.stderr)")
        #expect(addB.status == 0, "ADD B: \(addB.stdout) \(addB.stderr)")
        #expect(TypeIT.addresses(a, "net1") == ["10.250.41.5/24"])
        #expect(TypeIT.addresses(b, "net1") == ["10.250.41.6/24"])
        #expect(TypeIT.ping(a, "10.250.41.6"), "A cannot ping B")
        let check = node.skein("CHECK", container: "smA", netns: a, config: TypeIT.withPrev(ca, addA))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(SkeinIT.allocations(node.sb).isEmpty, "static addresses must not be held")
        #expect(node.skein("DEL", container: "smA", netns: a, config: ca).status == 0)
        node.sb.deleteNetns(b)
        #expect(node.skein("DEL", container: "smB", netns: b, config: cb).status == 0, "DEL after netns deletion")
        #expect(node.skein("DEL", container: "smB", netns: b, config: cb).status == 0, "second DEL")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnets 42–44: the address from CNI_ARGS IP=/GATEWAY=, runtimeConfig.ips, args.cni.ips.
    @Test(arguments: [("cniArgs", 42), ("runtimeConfig", 43), ("argsCNI", 44)])
    func addressFromTheRequest(_ source: String, _ n: Int) {
        guard Env.canRunKernelTests else { return }
        let node = Node("sa"); defer { node.cleanup() }
        let master = node.nic("m0")
        let address = "10.250.\(n).21/24"
        var keys = "", args: String? = nil
        switch source {
        case "cniArgs": args = "IgnoreUnknown=1;IP=\(address);GATEWAY=10.250.\(n).1"
        case "runtimeConfig": keys = ",\"capabilities\":{\"ips\":true},\"runtimeConfig\":{\"ips\":[\"\(address)\"]}"
        default: keys = ",\"args\":{\"cni\":{\"ips\":[\"\(address)\"]}}"
        }
        let config = node.config(delegate: """
            {"type":"macvlan","master":"\(master)"\(keys),"ipam":{"type":"static"}}
            """)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "req", netns: pod, config: config, args: args)
        #expect(add.status == 0, "ADD (\(source)): \(add.stdout) \(add.stderr)")
        #expect(TypeIT.ips(add).map(\.address) == [address], "\(source): \(add.stdout)")
        if source == "cniArgs" { #expect(TypeIT.ips(add).first?.gateway == "10.250.\(n).1") }
        #expect(TypeIT.addresses(pod, "net1") == [address])
        #expect(node.skein("DEL", container: "req", netns: pod, config: config, args: args).status == 0)
        TypeIT.expectNothingHeld(node)
    }
}
