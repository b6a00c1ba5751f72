import Foundation
import Testing

// Support for the built-in type suites (issue 3): MacvlanTests, HostDeviceTests, PtpTests,
// LoopbackTests, TuningChainTests, StaticIPAMTests, UnsupportedKernelTests, TypeDifferentialTests and
// TypeCrashTests.
//
// Every scenario runs on a "node": a network namespace the test creates to stand in for the host.
// skein and the reference plugins are exec'ed inside it through `ip netns exec`, so no link, address,
// route or sysctl of the real host is touched, and removing the node's namespace removes whatever a
// failed test left (veths are destroyed with their namespace, never handed back to the real host).
// A NIC is a veth pair: one end in the node (a macvlan master, a host-device), its peer in the node's
// "wire" namespace, which plays the rest of the network.
//
// Subnets are 10.250.N.0/24; each file lists its N, unique across these files (other suites use
// 10.251–10.254).

final class Node {
    let sb: Sandbox
    /// The node namespace's name, for `ip -n` and `ip netns exec`.
    let host: String
    private var wireName: String?

    init(_ tag: String) {
        sb = Sandbox(tag)
        host = SkeinIT.nsName(sb.netns("h"))
        ip("-n", host, "link", "set", "lo", "up")
    }

    var prefix: String { sb.prefix }
    /// Removes every namespace the node made (call it in a `defer`).
    func cleanup() { sb.cleanup() }

    /// A pod namespace; returns its path (CNI_NETNS).
    func pod(_ name: String) -> String { sb.netns(name) }

    /// The namespace behind the node's NICs (created on first use).
    var wire: String {
        if let w = wireName { return w }
        let w = SkeinIT.nsName(sb.netns("w"))
        ip("-n", w, "link", "set", "lo", "up")
        wireName = w
        return w
    }

    /// A NIC named `prefix + suffix` in the node, its peer (`… + "p"`) up in the wire namespace with
    /// `peerAddress`. The node end is brought up only when `up` (host-device takes a down device).
    @discardableResult
    func nic(_ suffix: String, peerAddress: String? = nil, up: Bool = true, mtu: Int? = nil, mac: String? = nil) -> String {
        let name = prefix + suffix, peer = name + "p"
        ip("-n", host, "link", "add", name, "type", "veth", "peer", "name", peer, "netns", wire)
        if let mtu { ip("-n", host, "link", "set", name, "mtu", "\(mtu)") }
        if let mac { ip("-n", host, "link", "set", name, "address", mac) }
        if up { ip("-n", host, "link", "set", name, "up") }
        ip("-n", wire, "link", "set", peer, "up")
        if let peerAddress { ip("-n", wire, "addr", "add", peerAddress, "dev", peer) }
        return name
    }

    /// skein's config: one delegate (a plugin object or a conflist), optionally forcing types to be
    /// exec'ed from CNI_PATH; the journal in the sandbox's state dir unless told otherwise.
    func config(delegate: String, version: String = "1.0.0", execTypes: [String] = [], stateDir: String? = nil) -> String {
        let exec = execTypes.isEmpty ? "" : ",\"execTypes\":[" + execTypes.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        return """
        {"cniVersion":"\(version)","name":"\(prefix)","type":"skein","stateDir":"\(stateDir ?? sb.stateDir)"\(exec),\
        "delegates":[\(delegate)]}
        """
    }

    /// Runs skein in the node with the CNI environment of one attachment. `ownUTS` runs it in a
    /// throwaway UTS namespace too, for configs that ask for a sysctl outside the netns (which skein
    /// must refuse; should it not, the real host's is not the one written).
    @discardableResult
    func skein(_ command: String, container: String, netns: String?, ifname: String = "net1", config: String,
               args: String? = nil, env extra: [String: String] = [:], ownUTS: Bool = false) -> ProcessResult {
        var env = cniEnv(command, container: container, netns: netns, ifname: ifname, args: args)
        for (k, v) in extra { env[k] = v }
        let exec = ["netns", "exec", host, Env.skeinBin]
        if ownUTS { return run("/usr/bin/unshare", ["--uts", "/usr/sbin/ip"] + exec, env: env, stdin: config) }
        return run("/usr/sbin/ip", exec, env: env, stdin: config)
    }

    /// Runs reference plugins in the node as libcni runs a plugin list: ADD in order, each plugin
    /// given the previous one's result as `prevResult`; CHECK in order and DEL in reverse, each given
    /// `prevResult` (the list's ADD result, as libcni caches it). Stops at the first failure.
    @discardableResult
    func reference(_ command: String, plugins: [String], container: String, netns: String, ifname: String = "net1",
                   args: String? = nil, prevResult: String? = nil) -> ProcessResult {
        let env = cniEnv(command, container: container, netns: netns, ifname: ifname, args: args)
        var last = ProcessResult(status: 0, stdout: "", stderr: "")
        var prev = prevResult
        for plugin in command == "DEL" ? plugins.reversed() : plugins {
            let type = (TypeIT.object(plugin)?["type"] as? String) ?? "?"
            let stdin = prev.map { TypeIT.withPrevResult(plugin, $0) } ?? plugin
            last = run("/usr/sbin/ip", ["netns", "exec", host, "/usr/lib/cni/" + type], env: env, stdin: stdin)
            if last.status != 0 { return last }
            if command == "ADD" { prev = last.stdout }
        }
        return last
    }

    private func cniEnv(_ command: String, container: String, netns: String?, ifname: String,
                        args: String?) -> [String: String] {
        var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": ifname, "CNI_PATH": "/usr/lib/cni"]
        if let netns { env["CNI_NETNS"] = netns }
        if let args { env["CNI_ARGS"] = args }
        return env
    }
}

/// One link as `ip -d -j link` reports it.
struct LinkState: Equatable {
    var name: String
    var index: Int
    var mtu: Int
    var mac: String
    var flags: [String]
    /// linkinfo.info_kind ("macvlan", "veth", "bridge"…); nil for a plain device such as `lo`.
    var kind: String?
    /// linkinfo.info_data.mode (macvlan mode).
    var mode: String?
    /// The lower device's ifindex (macvlan's master), in the namespace `linkNetnsID` names.
    var parentIndex: Int?
    var txqlen: Int?

    var up: Bool { flags.contains("UP") }
    var promisc: Bool { flags.contains("PROMISC") }

    init(_ o: [String: Any]) {
        name = o["ifname"] as? String ?? ""
        index = (o["ifindex"] as? NSNumber)?.intValue ?? -1
        mtu = (o["mtu"] as? NSNumber)?.intValue ?? -1
        mac = o["address"] as? String ?? ""
        flags = o["flags"] as? [String] ?? []
        let info = o["linkinfo"] as? [String: Any]
        kind = info?["info_kind"] as? String
        mode = (info?["info_data"] as? [String: Any])?["mode"] as? String
        parentIndex = (o["link_index"] as? NSNumber)?.intValue
        txqlen = (o["txqlen"] as? NSNumber)?.intValue
    }
}

enum TypeIT {
    static func object(_ s: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [String: Any]
    }

    static func array(_ s: String) -> [[String: Any]] {
        ((try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [[String: Any]]) ?? []
    }

    /// Compact JSON with sorted keys and unescaped slashes, for comparing and searching values.
    static func canonical(_ v: Any) -> String {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]
        guard let d = try? JSONSerialization.data(withJSONObject: v, options: options) else {
            return "\(v)"
        }
        return String(decoding: d, as: UTF8.self)
    }

    static func withPrevResult(_ plugin: String, _ result: String) -> String {
        guard var o = object(plugin), let r = object(result) else { return plugin }
        o["prevResult"] = r
        return canonical(o)
    }

    /// A conflist delegate.
    static func conflist(_ name: String, version: String = "1.0.0", _ plugins: [String]) -> String {
        "{\"cniVersion\":\"\(version)\",\"name\":\"\(name)\",\"plugins\":[" + plugins.joined(separator: ",") + "]}"
    }

    /// The skein config of `config` with the ADD result as its prevResult (for CHECK).
    static func withPrev(_ config: String, _ add: ProcessResult) -> String {
        SkeinIT.withKeys(config, "\"prevResult\":" + add.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// "msg details" of a CNI error on stdout.
    static func errorText(_ r: ProcessResult) -> String {
        ((r.json?["msg"] as? String) ?? "") + " " + ((r.json?["details"] as? String) ?? "")
    }

    /// Every link in a namespace (`ns` is a name or a path).
    static func links(_ ns: String) -> [LinkState] {
        array(run("/usr/sbin/ip", ["-n", SkeinIT.nsName(ns), "-d", "-j", "link", "show"]).stdout).map(LinkState.init)
    }

    static func link(_ ns: String, _ name: String) -> LinkState? {
        links(ns).first { $0.name == name }
    }

    /// Global-scope addresses ("a/len", IPv4 and IPv6) of a link, sorted.
    static func addresses(_ ns: String, _ dev: String) -> [String] {
        let r = run("/usr/sbin/ip", ["-n", SkeinIT.nsName(ns), "-j", "addr", "show", "dev", dev])
        let infos = array(r.stdout).flatMap { ($0["addr_info"] as? [[String: Any]]) ?? [] }
        return infos.filter { ($0["scope"] as? String) == "global" || ($0["scope"] as? String) == "host" }
            .compactMap { a in (a["local"] as? String).map { "\($0)/\((a["prefixlen"] as? NSNumber)?.intValue ?? -1)" } }
            .sorted()
    }

    /// The main table's routes (`ip -j route show`, or `-6`), canonical JSON per route, veth names
    /// (random in the reference, derived in skein) replaced by VETH; sorted.
    static func routes(_ ns: String, v6: Bool = false) -> [String] {
        let args = ["-n", SkeinIT.nsName(ns)] + (v6 ? ["-6"] : ["-4"]) + ["-j", "route", "show"]
        return array(run("/usr/sbin/ip", args).stdout).map { maskVeth(canonical($0)) }.sorted()
    }

    static let vethName = try! NSRegularExpression(pattern: "veth[0-9a-f]{8,11}")

    static func maskVeth(_ s: String) -> String {
        vethName.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "VETH")
    }

    static func sysctl(_ ns: String, _ key: String) -> String? {
        let r = run("/usr/sbin/ip", ["netns", "exec", SkeinIT.nsName(ns), "cat", "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")])
        return r.status == 0 ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// The result's interfaces as (name, sandbox) pairs.
    static func interfaces(_ r: ProcessResult) -> [(name: String, sandbox: String?)] {
        (r.json?["interfaces"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["sandbox"] as? String) }
    }

    /// The result's ips as (address, gateway, interface index).
    static func ips(_ r: ProcessResult) -> [(address: String, gateway: String?, interface: Int?)] {
        (r.json?["ips"] as? [[String: Any]] ?? []).map {
            ($0["address"] as? String ?? "", $0["gateway"] as? String, ($0["interface"] as? NSNumber)?.intValue)
        }
    }

    /// Nothing held: the journal (the node's, or the one in `stateDir`) replays, has no attachment
    /// and no allocation, and verifies.
    static func expectNothingHeld(_ node: Node, _ what: String = "", stateDir: String? = nil,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let dir = stateDir ?? node.sb.stateDir
        let replay = run(Env.journalBin, ["replay", "--state-dir", dir, "--json"])
        let state = object(replay.stdout)
        #expect(replay.status == 0 && state != nil, "\(what): replay failed: \(replay.stdout) \(replay.stderr)",
                sourceLocation: sourceLocation)
        let allocs = state?["allocations"] as? [Any] ?? []
        #expect(allocs.isEmpty, "\(what): allocations left: \(allocs)", sourceLocation: sourceLocation)
        let atts = (state?["attachments"] as? [[String: Any]] ?? []).map { $0["key"] ?? $0 }
        #expect(atts.isEmpty, "\(what): attachments left: \(atts)", sourceLocation: sourceLocation)
        let v = run(Env.journalBin, ["verify", "--state-dir", dir])
        #expect(v.status == 0, "\(what): skein-journal verify: \(v.stdout) \(v.stderr)", sourceLocation: sourceLocation)
    }

    /// A ping from inside a namespace (a few tries absorb the first ARP / DAD).
    static func ping(_ ns: String, _ address: String) -> Bool { SkeinIT.ping(from: ns, address) }

    static func isUnicastMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":")
        guard parts.count == 6, let first = UInt8(parts[0], radix: 16) else { return false }
        return first & 1 == 0 && parts.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
    }
}

/// Which link kinds this kernel can create, probed once in a scratch namespace (a veth as the lower
/// device), so kernel-dependent tests run the real ADD where the kernel can and check the error
/// where it cannot.
enum KernelSupport {
    static let ipvlan = probe("ipvlan", ["type", "ipvlan", "mode", "l2"])
    static let vlan = probe("vlan", ["type", "vlan", "id", "7"])

    static func probe(_ kind: String, _ args: [String]) -> Bool {
        guard Env.isRoot else { return false }
        let ns = "skprobe-\(kind)-\(getpid())-\(UInt32.random(in: 0..<0xFFFF))"
        guard run("/usr/sbin/ip", ["netns", "add", ns]).status == 0 else { return false }
        defer { run("/usr/sbin/ip", ["netns", "del", ns]) }
        run("/usr/sbin/ip", ["-n", ns, "link", "add", "pr0", "type", "veth", "peer", "name", "pr1"])
        return run("/usr/sbin/ip", ["-n", ns, "link", "add", "pr0x", "link", "pr0"] + args).status == 0
    }
}
