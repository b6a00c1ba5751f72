import Foundation
import Testing

// loopback through the release skein binary, on a node namespace (TypeSupport.swift): ADD brings
// the pod's `lo` up. No addresses are allocated (no subnet).

@Suite("loopback", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct LoopbackTests {
    static let plugin = #"{"type":"loopback"}"#

    /// ADD, result, CHECK, lo answers, DEL twice.
    @Test func addCheckDelTwice() {
        guard Env.canRunKernelTests else { return }
        let node = Node("lo"); defer { node.cleanup() }
        let config = node.config(delegate: Self.plugin)
        let pod = node.pod("p")
        #expect(TypeIT.link(pod, "lo")?.up == false, "a fresh netns's lo should start down")

        let add = node.skein("ADD", container: "loop", netns: pod, ifname: "lo", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        guard add.status == 0 else { return }
        // The reference's result: lo in the sandbox with the zero MAC, 127.0.0.1/8 and ::1/128 on it.
        #expect(TypeIT.interfaces(add).map(\.name) == ["lo"], "\(add.stdout)")
        #expect(TypeIT.interfaces(add).first?.sandbox == pod)
        #expect((add.json?["interfaces"] as? [[String: Any]])?.first?["mac"] as? String == "00:00:00:00:00:00")
        #expect(TypeIT.ips(add).map(\.address) == ["127.0.0.1/8", "::1/128"], "\(add.stdout)")
        #expect(TypeIT.ips(add).map(\.interface) == [0, 0])
        #expect(TypeIT.link(pod, "lo")?.up == true, "lo is not up")
        #expect(TypeIT.ping(pod, "127.0.0.1"), "lo does not answer")

        let check = node.skein("CHECK", container: "loop", netns: pod, ifname: "lo", config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        SkeinIT.expectVerify(node.sb)

        let d1 = node.skein("DEL", container: "loop", netns: pod, ifname: "lo", config: config)
        #expect(d1.status == 0, "DEL: \(d1.stdout) \(d1.stderr)")
        #expect(d1.stdout.isEmpty)
        let d2 = node.skein("DEL", container: "loop", netns: pod, ifname: "lo", config: config)
        #expect(d2.status == 0, "second DEL: \(d2.stdout) \(d2.stderr)")
        #expect(TypeIT.link(pod, "lo") != nil, "DEL must never delete lo")
        TypeIT.expectNothingHeld(node)
    }

    /// DEL after the pod's netns is gone, and again.
    @Test func delAfterNetnsDeleted() {
        guard Env.canRunKernelTests else { return }
        let node = Node("lg"); defer { node.cleanup() }
        let config = node.config(delegate: Self.plugin)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "gone", netns: pod, ifname: "lo", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        node.sb.deleteNetns(pod)
        let d1 = node.skein("DEL", container: "gone", netns: pod, ifname: "lo", config: config)
        #expect(d1.status == 0, "DEL after netns deletion: \(d1.stdout) \(d1.stderr)")
        let d2 = node.skein("DEL", container: "gone", netns: pod, ifname: "lo", config: config)
        #expect(d2.status == 0, "second DEL: \(d2.stdout) \(d2.stderr)")
        TypeIT.expectNothingHeld(node)
    }
}
