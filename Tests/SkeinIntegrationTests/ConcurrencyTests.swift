import Foundation
import Testing

// Concurrency of issue 7, with the real binary in a node namespace (TypeSupport's Node):
//   - 32 simultaneous ADDs of distinct pods on one bridge network (journal and bridge exist
//     already, as on a node that runs pods) all succeed with distinct addresses, the invariants hold
//     (Invariants.swift), and the throughput is printed beside the same 32 ADDs run one after
//     another and the kernel-bound ideal;
//   - 12 simultaneous ADDs on a pool of 8 addresses, on a fresh node (all race to create the
//     journal and the bridge): 8 succeed, 4 fail with Skein's exhaustion code (101, README "Error
//     codes"), none hangs (each process has a deadline), nothing leaks.
//
// The kernel-bound ideal: rtnetlink operations serialize on the kernel's RTNL lock, so no number of
// processes can attach pods faster than one after another at kernel cost only. Two measures of it:
// skein's own kernel phases (SKEIN_TRACE observe + apply, summed over the sequential run), and the
// bare kernel work of a veth pair created into the pod's namespace and enslaved to the bridge
// (`ip -batch`, one process for all 32). Journal time (two fsynced commits per ADD, serialized by
// LMDB's single writer) is printed beside them.
//
// Subnets 10.248.120.0/24 (concurrent), .121 (sequential), .122 (pool of 8).

/// Runs `body(i)` for i in 0..<n on n threads released at once; returns the outcomes in order.
func spawnAtOnce(_ n: Int, _ body: @escaping @Sendable (Int) -> Spawn.Outcome) -> [Spawn.Outcome] {
    final class Slots: @unchecked Sendable {
        let lock = NSLock()
        var values: [Spawn.Outcome?]
        init(_ n: Int) { values = Array(repeating: nil, count: n) }
    }
    let slots = Slots(n)
    let go = DispatchSemaphore(value: 0)
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        Thread {
            go.wait()
            let o = body(i)
            slots.lock.lock(); slots.values[i] = o; slots.lock.unlock()
            group.leave()
        }.start()
    }
    for _ in 0..<n { go.signal() }
    group.wait()
    return slots.values.map { $0! }
}

/// The phases SKEIN_TRACE=1 printed on stderr ("skein trace: parse=0.1ms … total=25ms"), in ms.
func tracePhases(_ stderr: String) -> [String: Double] {
    guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("skein trace:") }) else { return [:] }
    var out: [String: Double] = [:]
    for field in line.dropFirst("skein trace:".count).split(separator: " ") {
        let kv = field.split(separator: "=")
        if kv.count == 2, let v = Double(kv[1].dropLast(2)) { out[String(kv[0]), default: 0] += v }
    }
    return out
}

@Suite("Concurrency", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct ConcurrencyTests {
    static let count = 32

    static func bridgeConfig(_ node: Node, _ bridge: String, _ ipam: String) -> String {
        node.config(delegate: "{\"type\":\"bridge\",\"bridge\":\"\(bridge)\",\"isGateway\":true,\"ipam\":\(ipam)}", version: "1.1.0")
    }

    @Test func thirtyTwoSimultaneousAddsAllSucceedWithDistinctAddresses() {
        guard Env.canRunKernelTests else { return }
        let node = Node("cc"); defer { node.cleanup() }
        let config = Self.bridgeConfig(node, node.prefix + "br", "{\"type\":\"host-local\",\"subnet\":\"10.248.120.0/24\"}")
        let pods = (0..<Self.count).map { node.pod("c\($0)") }
        // A node that already runs pods: the journal exists and so does the bridge (the pool test
        // below races on creating both).
        let warm = node.pod("w")
        #expect(spawnSkein(node, "ADD", container: "warm", netns: warm, config: config).result.status == 0)
        #expect(spawnSkein(node, "DEL", container: "warm", netns: warm, config: config).result.status == 0)
        nonisolated(unsafe) let n = node
        let t0 = Date()
        let adds = spawnAtOnce(Self.count) { i in
            spawnSkein(n, "ADD", container: "cc\(i)", netns: pods[i], config: config, env: ["SKEIN_TRACE": "1"])
        }
        let concurrentSeconds = Date().timeIntervalSince(t0)
        for (i, o) in adds.enumerated() {
            #expect(o.result.status == 0 && !o.hung, "ADD \(i): \(o.result.status) \(o.result.stdout) \(o.result.stderr)")
        }
        let ips = adds.compactMap { SkeinIT.firstIP($0.result) }
        #expect(ips.count == Self.count && Set(ips).count == Self.count, "addresses not distinct: \(ips.sorted())")
        for (i, pod) in pods.enumerated() where i < ips.count {
            #expect(TypeIT.addresses(pod, "eth0") == ["\(ips[i])/24"], "pod \(i)")
        }
        let scope = InvariantScope(node: node, pods: pods)
        Invariants.expect(scope, "after 32 concurrent ADDs")
        #expect(JournalView(stateDir: node.sb.stateDir)?.allocations.count == Self.count)
        #expect(SkeinIT.ping(from: pods[0], ips.last ?? "10.248.120.33"), "pod 0 cannot reach pod 31")

        let dels = spawnAtOnce(Self.count) { i in spawnSkein(n, "DEL", container: "cc\(i)", netns: pods[i], config: config) }
        for (i, o) in dels.enumerated() { #expect(o.result.status == 0, "DEL \(i): \(o.result.stdout) \(o.result.stderr)") }
        Invariants.expect(scope, "after 32 concurrent DELs")
        TypeIT.expectNothingHeld(node, "after 32 concurrent DELs")

        report(node, concurrentSeconds: concurrentSeconds, concurrentTraces: adds.map { tracePhases($0.result.stderr) })
    }

    /// The same 32 ADDs one after another (traced), and the bare kernel cost; prints the figures.
    func report(_ node: Node, concurrentSeconds: Double, concurrentTraces: [[String: Double]]) {
        let config = Self.bridgeConfig(node, node.prefix + "bs", "{\"type\":\"host-local\",\"subnet\":\"10.248.121.0/24\"}")
        let pods = (0..<Self.count).map { node.pod("s\($0)") }
        var traces: [[String: Double]] = []
        let t0 = Date()
        for (i, pod) in pods.enumerated() {
            let o = spawnSkein(node, "ADD", container: "cs\(i)", netns: pod, config: config, env: ["SKEIN_TRACE": "1"])
            #expect(o.result.status == 0, "sequential ADD \(i): \(o.result.stdout) \(o.result.stderr)")
            traces.append(tracePhases(o.result.stderr))
        }
        let sequentialSeconds = Date().timeIntervalSince(t0)
        for (i, pod) in pods.enumerated() {
            #expect(spawnSkein(node, "DEL", container: "cs\(i)", netns: pod, config: config).result.status == 0)
        }
        Invariants.expect(InvariantScope(node: node, pods: pods), "after the sequential ADDs and DELs")

        func sum(_ ts: [[String: Double]], _ keys: [String]) -> Double { ts.reduce(0) { acc, t in acc + keys.reduce(0) { $0 + (t[$1] ?? 0) } } }
        let kernelMs = sum(traces, ["netns", "observe", "apply"])
        let journalMs = sum(traces, ["journal-open", "request-commit", "outcome-commit"])
        let totalMs = sum(traces, ["total"])
        let vethMs = bareVethMs(node)
        let n = Double(Self.count)
        print(String(format: """
            concurrency: 32 ADDs at once: %.3f s = %.1f ADDs/s; one after another: %.3f s = %.1f ADDs/s (speed-up %.2fx)
            concurrency: sequential ADD in skein: %.2f ms (kernel: netns+observe+apply %.2f ms, journal: open+2 commits %.2f ms); \
            concurrent ADD in skein: %.2f ms (request commit incl. writer wait %.2f ms)
            concurrency: kernel-bound ideal (skein's kernel phases, RTNL-serialized): %.1f ADDs/s -> concurrent run at %.0f%% of it; \
            bare veth into netns + enslave + up (ip -batch): %.2f ms/pod = %.1f pods/s
            """,
            concurrentSeconds, n / concurrentSeconds, sequentialSeconds, n / sequentialSeconds, sequentialSeconds / concurrentSeconds,
            totalMs / n, kernelMs / n, journalMs / n,
            sum(concurrentTraces, ["total"]) / n, sum(concurrentTraces, ["request-commit"]) / n,
            n / (kernelMs / 1000), 100 * (n / concurrentSeconds) / (n / (kernelMs / 1000)),
            vethMs / n, n / (vethMs / 1000)))
        let phases = ["netns", "journal-open", "settle", "request-commit", "observe", "apply", "outcome-commit"]
        print("concurrency: mean phase times of the concurrent ADDs: "
              + phases.map { String(format: "%@ %.2f ms", $0, sum(concurrentTraces, [$0]) / n) }.joined(separator: ", "))
        #expect(kernelMs > 0 && journalMs > 0, "SKEIN_TRACE printed no phases")
    }

    /// Milliseconds for the kernel to create 32 veth pairs with the peer in a pod's namespace and
    /// enslave and raise the host end, in one `ip -batch` process (its start-up measured apart).
    func bareVethMs(_ node: Node) -> Double {
        let bridge = node.prefix + "bk"
        ip("-n", node.host, "link", "add", bridge, "type", "bridge")
        let pods = (0..<Self.count).map { SkeinIT.nsName(node.pod("k\($0)")) }
        let lines = pods.enumerated().map { i, pod in
            "link add \(node.prefix)k\(i) type veth peer name eth0 netns \(pod)\nlink set \(node.prefix)k\(i) master \(bridge) up"
        }
        let file = node.sb.dir + "/veth.batch", empty = node.sb.dir + "/empty.batch"
        _ = FileManager.default.createFile(atPath: file, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        _ = FileManager.default.createFile(atPath: empty, contents: Data("link show dev lo\n".utf8))
        let e0 = Date()
        run("/usr/sbin/ip", ["-n", node.host, "-batch", empty])
        let startup = Date().timeIntervalSince(e0)
        let t0 = Date()
        let r = run("/usr/sbin/ip", ["-n", node.host, "-batch", file])
        let ms = max(0, Date().timeIntervalSince(t0) - startup) * 1000
        #expect(r.status == 0, "ip -batch: \(r.stderr)")
        for i in 0..<Self.count { ip("-n", node.host, "link", "del", "\(node.prefix)k\(i)", check: false) }
        ip("-n", node.host, "link", "del", bridge, check: false)
        return ms
    }

    /// Subnet 122, addresses .10–.17: 12 ADDs at once for 8 addresses.
    @Test func exhaustedPoolFailsWithTheExhaustionCodeNotAHang() {
        guard Env.canRunKernelTests else { return }
        let node = Node("cp"); defer { node.cleanup() }
        let ipam = "{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.248.122.0/24\","
            + "\"rangeStart\":\"10.248.122.10\",\"rangeEnd\":\"10.248.122.17\"}]]}"
        let config = Self.bridgeConfig(node, node.prefix + "br", ipam)
        let pods = (0..<12).map { node.pod("p\($0)") }
        nonisolated(unsafe) let n = node
        let t0 = Date()
        let adds = spawnAtOnce(12) { i in spawnSkein(n, "ADD", container: "cp\(i)", netns: pods[i], config: config) }
        let seconds = Date().timeIntervalSince(t0)
        #expect(adds.allSatisfy { !$0.hung }, "an ADD hung")
        let ok = adds.filter { $0.result.status == 0 }
        let failed = adds.filter { $0.result.status != 0 }
        #expect(ok.count == 8, "succeeded: \(ok.count)")
        #expect(failed.count == 4 && failed.allSatisfy { SkeinIT.code($0.result) == 101 },
                "failures: \(failed.map { "\($0.result.status) \($0.result.stdout)" })")
        let ips = ok.compactMap { SkeinIT.firstIP($0.result) }
        #expect(Set(ips) == Set((10...17).map { "10.248.122.\($0)" }), "addresses: \(ips.sorted())")
        print(String(format: "concurrency: 12 ADDs on a pool of 8: %d ok, %d failed with %@ in %.3f s (slowest %.1f ms)",
                     ok.count, failed.count, Set(failed.compactMap { SkeinIT.code($0.result) }).map(String.init).joined(separator: ","),
                     seconds, adds.map(\.elapsedMs).max() ?? 0))
        let scope = InvariantScope(node: node, pods: pods)
        Invariants.expect(scope, "after the exhausted pool")
        for (i, pod) in pods.enumerated() {
            let del = spawnSkein(node, "DEL", container: "cp\(i)", netns: pod, config: config)
            #expect(del.result.status == 0, "DEL \(i): \(del.result.stdout)")
        }
        Invariants.expect(scope, "after DEL of all 12")
        TypeIT.expectNothingHeld(node, "after DEL of all 12")
    }
}
