// Sub-links and link state through the executor: a macvlan born in the sandbox on a parent in the
// (fake) host, allmulti / txqueuelen, the missing-driver error a user sees, and the small helpers
// the engine calls before journaling an ADD. Plans are written out by hand: these tests pin the
// executor's side of each operation, whatever the planner would emit.

import Foundation
import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer
import Testing
@testable import SkeinExecutor

/// A veth "<tag>up0"/"<tag>up1" in the fake host, both up: the macvlan's parent.
private func makeParent(_ box: Sandbox) throws -> String {
    let parent = "\(runTag)p0"
    try ipSetup("-n", box.hostName, "link", "add", parent, "type", "veth", "peer", "name", "\(runTag)p1")
    try ipSetup("-n", box.hostName, "link", "set", parent, "up")
    try ipSetup("-n", box.hostName, "link", "set", "\(runTag)p1", "up")
    return parent
}

@Suite(.serialized, .enabled(if: isRoot, "needs root for network namespaces"))
struct ExecutorLinkTests {
    @Test func macvlanInTheSandboxOnAHostParent() throws {
        try Sandbox.with("lm") { box in
            let parent = try makeParent(box)
            let net = IPNetwork("10.93.0.2/24")!
            let spec = LinkSpec(name: "eth0", namespace: .container,
                                kind: .macvlan(parent: ParentRef(name: parent, namespace: .host), mode: "bridge"),
                                mac: MACAddress("02:5c:00:00:aa:01"), mtu: 1400, addresses: [net],
                                allmulti: true, txQLen: 321)
            let attachment = AttachmentSpec(links: [spec])
            let plan: [PlanOp] = [.createSubLink(spec), .setAllmulti(.container, "eth0", true),
                                  .setTxQLen(.container, "eth0", 321), .addrAdd(.container, "eth0", net),
                                  .setUp(.container, "eth0")]
            let (seen, teardown) = try box.onHost { () -> (Observation, Observation) in
                let ex = try Executor(containerNetNS: box.podPath)
                try ex.apply(plan)
                try ex.apply(plan)  // every op tolerates "done already"
                return (try ex.observe(attachment), try ex.observeForTeardown(attachment))
            }
            let eth0 = try #require(seen.link(named: "eth0", in: .container))
            #expect(eth0.kind == "macvlan" && eth0.mac == spec.mac && eth0.mtu == 1400 && eth0.up)
            #expect(eth0.allmulti == true && eth0.txQLen == 321 && eth0.addresses.contains(net))
            #expect(teardown.links.map(\.name) == ["eth0"] && teardown.containerNamespaceExists)
            #expect(try ip("-n", box.hostName, "link", "show", "eth0").status != 0, "created in the sandbox only")
            let shown = try ip("-n", box.podName, "-d", "link", "show", "eth0").output
            #expect(shown.contains("macvlan mode bridge") && shown.contains("qlen 321"), "\(shown)")

            let left = try box.onHost { () -> Observation in
                let ex = try Executor(containerNetNS: box.podPath)
                try ex.apply([.linkDelete(.container, "eth0")])
                try ex.apply([.linkDelete(.container, "eth0")])
                return try ex.observeForTeardown(attachment)
            }
            #expect(left.links.isEmpty)
            #expect(try ip("-n", box.hostName, "link", "show", parent).status == 0, "the parent stays")
        }
    }

    @Test func aMissingParentOrDriverIsSaidPlainly() throws {
        try Sandbox.with("le") { box in
            let parent = try makeParent(box)
            let orphan = LinkSpec(name: "eth0", namespace: .container,
                                  kind: .macvlan(parent: ParentRef(name: "\(runTag)zz", namespace: .host), mode: "bridge"))
            let ipvlan = LinkSpec(name: "eth1", namespace: .container,
                                  kind: .ipvlan(parent: ParentRef(name: parent, namespace: .host), mode: "l2"))
            let vlan = LinkSpec(name: "eth2", namespace: .container,
                                kind: .vlan(parent: ParentRef(name: parent, namespace: .host), id: 100))
            let badMode = LinkSpec(name: "eth3", namespace: .container,
                                   kind: .macvlan(parent: ParentRef(name: parent, namespace: .host), mode: "bridged"))
            let errors = try box.onHost { () -> [ExecutorError?] in
                let ex = try Executor(containerNetNS: box.podPath)
                return [orphan, ipvlan, vlan, badMode].map { spec in
                    do {
                        try ex.apply([.createSubLink(spec)])
                        return nil
                    } catch {
                        return error as? ExecutorError
                    }
                }
            }
            #expect(errors[0]?.errno == ENODEV)
            #expect(errors[0]?.message == "master interface \(runTag)zz not found in the host network namespace")
            for (i, (kind, module)) in [("ipvlan", "ipvlan"), ("vlan", "8021q")].enumerated() {
                guard let e = errors[i + 1] else {
                    print("executor: this kernel has \(kind); its missing-module error was not exercised")
                    continue
                }
                #expect(e.errno == EOPNOTSUPP, "\(e)")
                #expect(e.message.contains("this kernel cannot create \(kind) links: its \(module) module is missing"), "\(e)")
                #expect(e.op.hasPrefix("ip link add eth\(i + 1) link \(parent) type \(kind)"), "\(e.op)")
            }
            #expect(errors[3]?.errno == EINVAL && errors[3]?.message == "unknown macvlan mode \"bridged\"")
        }
    }

    @Test func defaultRouteInterfaceAndLinkExists() throws {
        try Sandbox.with("lr") { box in
            let parent = try makeParent(box)
            // The sandbox gets its own default route, through its own interface.
            try ipSetup("-n", box.hostName, "link", "add", "\(runTag)q0", "type", "veth", "peer", "name", "c0",
                        "netns", box.podName)
            try ipSetup("-n", box.podName, "link", "set", "c0", "up")
            try ipSetup("-n", box.podName, "addr", "add", "10.92.1.2/24", "dev", "c0")
            try ipSetup("-n", box.podName, "route", "add", "default", "via", "10.92.1.1")
            let (before, after, inPod, exists) = try box.onHost { () -> (String?, String?, String?, [Bool]) in
                let ex = try Executor(containerNetNS: box.podPath)
                let before = try ex.defaultRouteInterface()
                try ipSetup("-n", box.hostName, "addr", "add", "10.92.0.2/24", "dev", parent)
                try ipSetup("-n", box.hostName, "route", "add", "default", "via", "10.92.0.1")
                let exists = [try ex.linkExists(parent, in: .host), try ex.linkExists(parent, in: .container),
                              try ex.linkExists("c0", in: .container)]
                return (before, try ex.defaultRouteInterface(), try ex.defaultRouteInterface(in: .container), exists)
            }
            #expect(before == nil)
            #expect(after == parent)
            #expect(inPod == "c0")
            #expect(exists == [true, false, true])
            let gone = try Executor(containerNetNS: "/run/netns/\(runTag)-missing")
            #expect(try gone.defaultRouteInterface(in: .container) == nil)
            #expect(try gone.linkExists("lo", in: .container) == false)
        }
    }
}
