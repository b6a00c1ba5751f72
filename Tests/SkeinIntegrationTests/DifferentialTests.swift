import Foundation
import Testing

// Differential tests: the reference `bridge` + `host-local` plugins (/usr/lib/cni, run directly) are
// the oracle. For one plugin object, the reference attaches netns "ref" to bridge "<prefix>rb" on
// subnet 10.252.R.0/24, and skein — with the same object as its single delegate — attaches netns
// "sk" to bridge "<prefix>br" on 10.252.S.0/24 (and fd00:252:R::/64 vs fd00:252:S::/64). Addresses
// are compared as offsets from their subnet: every literal subnet prefix is rewritten to NET4/NET6,
// bridge names to BR, netns paths to NS, before comparing.
//
// Where Skein deliberately differs, only what must match is compared:
//  - host veth names: random in the reference, derived from (containerID, ifname, network) in skein:
//    the reference's look like "veth" + 8 hex digits, skein's "veth" + 11; literal names are not compared;
//  - MACs of the bridge, the host veth and (unless runtimeConfig.mac asks for one) the container end:
//    random in the reference, derived in skein: only "unicast" is compared; a requested MAC must be
//    exactly the requested one on both sides;
//  - IPv6 address flags (tentative / nodad): the reference may leave DAD running, skein does not
//    wait for DAD; only address/prefix and the route table are compared;
//  - host-local's `dataDir`: the reference keeps its allocations there, skein in its journal, so
//    the skein side must leave that directory untouched.
//  - an empty `"dns": {}`: the reference's 1.0.0 result always carries it (Go marshals the empty
//    struct), skein leaves an empty DNS out. The spec makes `dns` optional and `{}` says nothing, so
//    an empty `dns` object counts as absent on both sides; a non-empty one is compared as is.

// MARK: - Cases

struct DiffCase: Sendable, CustomTestStringConvertible {
    let name: String
    let version: String
    /// Subnet indices: 10.252.ref.0/24 for the reference, 10.252.sk.0/24 for skein.
    let ref: Int
    let sk: Int
    /// Extra top-level bridge keys, e.g. `"isGateway":true`. No leading comma.
    var bridgeKeys: String = ""
    /// The `ipam` object's body after `"type":"host-local"`, given the subnet index; no leading comma.
    var ipam: @Sendable (Int) -> String = { n in "\"subnet\":\"10.252.\(n).0/24\"" }
    /// CNI_ARGS for the side with subnet index n.
    var cniArgs: (@Sendable (Int) -> String)? = nil
    var requestedMAC: String? = nil
    var dualStack = false

    var testDescription: String { "\(name) @\(version)" }

    static let versions = ["0.3.1", "0.4.0", "1.0.0"]

    /// Every shape × every version; subnet indices 1...54, two per case.
    static let all: [DiffCase] = {
        typealias Shape = (String, (inout DiffCase) -> Void)
        let shapes: [Shape] = [
            ("plain", { _ in }),
            ("isGateway", { $0.bridgeKeys = "\"isGateway\":true" }),
            ("isDefaultGateway", { $0.bridgeKeys = "\"isDefaultGateway\":true" }),
            ("mtu1400", { $0.bridgeKeys = "\"isGateway\":true,\"mtu\":1400" }),
            ("ranges+routes", {
                $0.bridgeKeys = "\"isGateway\":true"
                $0.ipam = { n in
                    "\"ranges\":[[{\"subnet\":\"10.252.\(n).0/24\",\"rangeStart\":\"10.252.\(n).100\",\"rangeEnd\":\"10.252.\(n).110\"}]],"
                        + "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]"
                }
            }),
            ("dualstack", {
                $0.bridgeKeys = "\"isGateway\":true"
                $0.dualStack = true
                $0.ipam = { n in
                    "\"ranges\":[[{\"subnet\":\"10.252.\(n).0/24\"}],[{\"subnet\":\"fd00:252:\(n)::/64\"}]]"
                }
            }),
            ("requestedIP", {
                $0.bridgeKeys = "\"isGateway\":true"
                $0.cniArgs = { n in "IgnoreUnknown=1;IP=10.252.\(n).77" }
            }),
            ("hairpin", { $0.bridgeKeys = "\"isGateway\":true,\"hairpinMode\":true" }),
            ("runtimeMAC", {
                $0.bridgeKeys = "\"isGateway\":true,\"runtimeConfig\":{\"mac\":\"02:5e:1a:00:00:42\"}"
                $0.requestedMAC = "02:5e:1a:00:00:42"
            }),
        ]
        var out: [DiffCase] = []
        var n = 1
        for (name, shape) in shapes {
            for v in versions {
                var c = DiffCase(name: name, version: v, ref: n, sk: n + 1)
                shape(&c)
                out.append(c)
                n += 2
            }
        }
        return out
    }()

    /// The plugin object both sides run; identical up to bridge name, subnet index and dataDir.
    func plugin(bridge: String, n: Int, dataDir: String, netName: String) -> String {
        let keys = bridgeKeys.isEmpty ? "" : "," + bridgeKeys
        return """
        {"cniVersion":"\(version)","name":"\(netName)","type":"bridge","bridge":"\(bridge)"\(keys),\
        "ipam":{"type":"host-local",\(ipam(n)),"dataDir":"\(dataDir)"}}
        """
    }
}

// MARK: - Helpers (file-private: other suites have their own)

private func parseJSONObject(_ s: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [String: Any]
}

/// Drops an empty top-level `dns` object (see the header: it carries no information).
private func withoutEmptyDNS(_ r: [String: Any]) -> [String: Any] {
    var r = r
    if let dns = r["dns"] as? [String: Any], dns.isEmpty { r["dns"] = nil }
    return r
}

private func canonical(_ v: Any) -> String {
    guard JSONSerialization.isValidJSONObject(v) || v is String || v is NSNumber,
          let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed]) else {
        return "\(v)"
    }
    return String(decoding: d, as: UTF8.self)
}

/// The key structure of a JSON value: objects by sorted keys, arrays element by element, scalars as "_".
private func shape(_ v: Any) -> String {
    if let o = v as? [String: Any] {
        return "{" + o.keys.sorted().map { "\($0):\(shape(o[$0]!))" }.joined(separator: ",") + "}"
    }
    if let a = v as? [Any] { return "[" + a.map(shape).joined(separator: ",") + "]" }
    return "_"
}

/// Rewrites every string in a JSON value.
private func mapStrings(_ v: Any, _ f: (String) -> String) -> Any {
    if let o = v as? [String: Any] { return o.mapValues { mapStrings($0, f) } }
    if let a = v as? [Any] { return a.map { mapStrings($0, f) } }
    if let s = v as? String { return f(s) }
    return v
}

private let vethPattern = try! NSRegularExpression(pattern: "^veth([0-9a-f]{8}|[0-9a-f]{11})$")

private func isDerivedOrRandomVeth(_ s: String) -> Bool {
    vethPattern.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
}

private func isUnicastMAC(_ s: String) -> Bool {
    let parts = s.split(separator: ":")
    guard parts.count == 6, let first = UInt8(parts[0], radix: 16) else { return false }
    return first & 1 == 0 && parts.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
}

/// One side of a differential run: its names, and the substitutions that make its output comparable.
private struct Side {
    let label: String
    let n: Int
    let bridge: String
    let netns: String
    let dataDir: String

    var nsName: String { (netns as NSString).lastPathComponent }

    func normalize(_ s: String) -> String {
        s.replacingOccurrences(of: "10.252.\(n).", with: "NET4.")
            .replacingOccurrences(of: "fd00:252:\(n):", with: "NET6:")
            .replacingOccurrences(of: netns, with: "NS")
            .replacingOccurrences(of: bridge, with: "BR")
    }

    func lines(_ r: ProcessResult) -> [String] {
        r.stdout.split(separator: "\n").map { normalize(String($0)).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// What the container sees, normalized: addresses, routes, eth0's MTU, flags and MAC.
    func container(dualStack: Bool) -> (v4: [String], v6: [String], routes4: [String], routes6: [String],
                                        mtu: String?, up: Bool, mac: String?) {
        let v4 = addresses(netns: netns).map(normalize).sorted()
        var v6: [String] = []
        var routes6: [String] = []
        if dualStack {
            let r = ip("-n", nsName, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global", check: false)
            v6 = r.stdout.split(separator: "\n").compactMap { line -> String? in
                let f = line.split(separator: " ")
                guard let i = f.firstIndex(of: "inet6"), i + 1 < f.count else { return nil }
                return normalize(String(f[i + 1]))
            }.sorted()
            routes6 = lines(ip("-n", nsName, "-6", "route", "show", check: false))
        }
        let routes4 = lines(ip("-n", nsName, "-4", "route", "show", check: false))
        let link = ip("-n", nsName, "-o", "link", "show", "dev", "eth0", check: false).stdout
        let fields = link.split(separator: " ").map(String.init)
        let mtu = fields.firstIndex(of: "mtu").flatMap { $0 + 1 < fields.count ? fields[$0 + 1] : nil }
        let mac = fields.firstIndex(of: "link/ether").flatMap { $0 + 1 < fields.count ? fields[$0 + 1] : nil }
        let flags = fields.first { $0.hasPrefix("<") } ?? ""
        let up = flags.split(whereSeparator: { "<>,".contains($0) }).contains("UP")
        return (v4, v6, routes4, routes6, mtu, up, mac)
    }

    /// The host port of this side's bridge: its MTU and hairpin state (`ip -d link`).
    func hostPort(_ name: String) -> (mtu: String?, hairpin: String?) {
        let r = ip("-d", "-o", "link", "show", "dev", name, check: false).stdout
        let f = r.split(separator: " ").map(String.init)
        let mtu = f.firstIndex(of: "mtu").flatMap { $0 + 1 < f.count ? f[$0 + 1] : nil }
        let hp = f.firstIndex(of: "hairpin").flatMap { $0 + 1 < f.count ? f[$0 + 1] : nil }
        return (mtu, hp)
    }

    /// The bridge's own addresses (gateway when isGateway), normalized; IPv6 link-local excluded.
    func bridgeAddresses() -> [String] {
        let r = ip("-o", "addr", "show", "dev", bridge, "scope", "global", check: false)
        return r.stdout.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            guard let i = f.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), i + 1 < f.count else { return nil }
            return normalize(String(f[i + 1]))
        }.sorted()
    }

    func ports() -> [String] {
        let r = ip("-o", "link", "show", "master", bridge, check: false)
        return r.stdout.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: ":")
            guard parts.count > 1 else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init)
        }
    }
}

/// The result with everything that legitimately differs between the sides rewritten: subnets,
/// names, the veth name and unrequested MACs. Issues are recorded for values that must hold anyway.
private func normalizedResult(_ result: [String: Any], side: Side, requestedMAC: String?) -> Any {
    var r = mapStrings(result, side.normalize) as! [String: Any]
    if var ifaces = r["interfaces"] as? [[String: Any]] {
        for i in ifaces.indices {
            let name = ifaces[i]["name"] as? String ?? ""
            let isContainer = ifaces[i]["sandbox"] != nil
            if !isContainer && name != "BR" {
                #expect(isDerivedOrRandomVeth(name), "\(side.label): host veth name \(name) is not veth + 8 or 11 hex")
                ifaces[i]["name"] = "VETH"
            }
            if let mac = ifaces[i]["mac"] as? String {
                if isContainer, let requestedMAC {
                    #expect(mac == requestedMAC, "\(side.label): result MAC \(mac), requested \(requestedMAC)")
                } else {
                    #expect(isUnicastMAC(mac), "\(side.label): interface \(name) MAC \(mac) is not unicast")
                    ifaces[i]["mac"] = "MAC"
                }
            }
        }
        r["interfaces"] = ifaces
    }
    return r
}

private func refEnv(_ command: String, _ side: Side, container: String, args: String?) -> [String: String] {
    var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_NETNS": side.netns,
               "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"]
    if let args { env["CNI_ARGS"] = args }
    return env
}

// MARK: - Suite

@Suite("Differential: skein vs the reference bridge plugin", .enabled(if: Env.canRunKernelTests && Env.haveReference))
struct DifferentialTests {
    @Test("ADD result, container state and DEL match the reference", arguments: DiffCase.all)
    func differential(_ c: DiffCase) throws {
        let sb = Sandbox("df")
        defer { sb.cleanup() }
        let refBridge = sb.prefix + "rb"
        sb.ownLink(refBridge)
        let ref = Side(label: "reference", n: c.ref, bridge: refBridge, netns: sb.netns("ref"), dataDir: sb.dir + "/ref-ipam")
        let sk = Side(label: "skein", n: c.sk, bridge: sb.bridge, netns: sb.netns("sk"), dataDir: sb.dir + "/sk-ipam")
        let container = "ctr-\(sb.prefix)"

        // Reference: the plugin object on its own.
        let refConf = c.plugin(bridge: ref.bridge, n: ref.n, dataDir: ref.dataDir, netName: sb.prefix + "-net")
        let refAdd = run("/usr/lib/cni/bridge", env: refEnv("ADD", ref, container: container, args: c.cniArgs?(ref.n)),
                         stdin: refConf)
        try #require(refAdd.status == 0, "reference ADD failed: \(refAdd.stdout) \(refAdd.stderr)")

        // Skein: the same object as its single delegate.
        let skPlugin = c.plugin(bridge: sk.bridge, n: sk.n, dataDir: sk.dataDir, netName: sb.prefix + "-net")
        let skConf = """
        {"cniVersion":"\(c.version)","name":"\(sb.prefix)","type":"skein","stateDir":"\(sb.stateDir)","delegates":[\(skPlugin)]}
        """
        let skAdd = cni("ADD", sb, container: container, netns: sk.netns, config: skConf, args: c.cniArgs?(sk.n))
        try #require(skAdd.status == 0, "skein ADD failed: \(skAdd.stdout) \(skAdd.stderr)")

        // 1. The result: same keys at every level, and the same values once normalized.
        let refResult = withoutEmptyDNS(try #require(parseJSONObject(refAdd.stdout), "reference result is not a JSON object"))
        let skResult = withoutEmptyDNS(try #require(parseJSONObject(skAdd.stdout), "skein stdout is not one JSON object: \(skAdd.stdout)"))
        #expect(skResult["cniVersion"] as? String == c.version)
        #expect(shape(skResult) == shape(refResult), "result keys differ:\n skein     \(shape(skResult))\n reference \(shape(refResult))")
        let refNorm = canonical(normalizedResult(refResult, side: ref, requestedMAC: c.requestedMAC))
        let skNorm = canonical(normalizedResult(skResult, side: sk, requestedMAC: c.requestedMAC))
        #expect(skNorm == refNorm, "normalized results differ:\n skein     \(skNorm)\n reference \(refNorm)")
        // Roles, spelled out (also covered by the comparison above, but a failure here says what broke).
        let roles: ([String: Any]) -> [String] = { r in
            (r["interfaces"] as? [[String: Any]] ?? []).map { $0["sandbox"] != nil ? "container" : "host" }
        }
        #expect(roles(skResult) == roles(refResult))
        let ipIfaces: ([String: Any]) -> [Int] = { r in
            (r["ips"] as? [[String: Any]] ?? []).compactMap { ($0["interface"] as? NSNumber)?.intValue }
        }
        #expect(ipIfaces(skResult) == ipIfaces(refResult), "ips[].interface differ")

        // 2. Inside the container.
        let refC = ref.container(dualStack: c.dualStack)
        let skC = sk.container(dualStack: c.dualStack)
        #expect(!refC.v4.isEmpty, "reference container has no IPv4 address")
        #expect(skC.v4 == refC.v4, "IPv4 addresses: skein \(skC.v4), reference \(refC.v4)")
        #expect(skC.routes4 == refC.routes4, "IPv4 routes:\n skein     \(skC.routes4)\n reference \(refC.routes4)")
        if c.dualStack {
            #expect(!refC.v6.isEmpty, "reference container has no global IPv6 address")
            #expect(skC.v6 == refC.v6, "IPv6 addresses: skein \(skC.v6), reference \(refC.v6)")
            #expect(skC.routes6 == refC.routes6, "IPv6 routes:\n skein     \(skC.routes6)\n reference \(refC.routes6)")
        }
        #expect(skC.mtu != nil && skC.mtu == refC.mtu, "eth0 MTU: skein \(skC.mtu ?? "-"), reference \(refC.mtu ?? "-")")
        #expect(refC.up, "reference eth0 is not UP")
        #expect(skC.up, "skein eth0 is not UP")
        if let want = c.requestedMAC {
            #expect(refC.mac == want, "reference eth0 MAC \(refC.mac ?? "-")")
            #expect(skC.mac == want, "skein eth0 MAC \(skC.mac ?? "-"), requested \(want)")
        } else {
            #expect(skC.mac.map(isUnicastMAC) == true, "skein eth0 MAC \(skC.mac ?? "-") is not unicast")
        }

        // 3. On the host: one port on each bridge, same MTU and hairpin; the same bridge addresses.
        let refPorts = ref.ports(), skPorts = sk.ports()
        #expect(refPorts.count == 1 && skPorts.count == 1, "bridge ports: skein \(skPorts), reference \(refPorts)")
        if let rp = refPorts.first, let sp = skPorts.first {
            let rh = ref.hostPort(rp), sh = sk.hostPort(sp)
            #expect(sh.mtu == rh.mtu, "host veth MTU: skein \(sh.mtu ?? "-"), reference \(rh.mtu ?? "-")")
            #expect(sh.hairpin == rh.hairpin, "hairpin: skein \(sh.hairpin ?? "-"), reference \(rh.hairpin ?? "-")")
            if c.name == "hairpin" { #expect(sh.hairpin == "on") }
        }
        #expect(sk.bridgeAddresses() == ref.bridgeAddresses(),
                "bridge addresses: skein \(sk.bridgeAddresses()), reference \(ref.bridgeAddresses())")
        // Skein's allocations live in the journal, never in host-local's dataDir.
        #expect(!FileManager.default.fileExists(atPath: sk.dataDir), "skein wrote host-local files in \(sk.dataDir)")

        // 4. DEL parity: both leave no veth on their bridge and no eth0 in the container.
        let refDel = run("/usr/lib/cni/bridge", env: refEnv("DEL", ref, container: container, args: c.cniArgs?(ref.n)),
                         stdin: refConf)
        #expect(refDel.status == 0, "reference DEL failed: \(refDel.stdout) \(refDel.stderr)")
        let skDel = cni("DEL", sb, container: container, netns: sk.netns, config: skConf, args: c.cniArgs?(sk.n))
        #expect(skDel.status == 0, "skein DEL failed: \(skDel.stdout) \(skDel.stderr)")
        #expect(skDel.stdout.isEmpty, "skein DEL printed \(skDel.stdout)")
        #expect(ref.ports().isEmpty, "reference left ports \(ref.ports())")
        #expect(sk.ports().isEmpty, "skein left ports \(sk.ports())")
        #expect(sb.bridgePorts().isEmpty)
        for side in [ref, sk] {
            let eth0 = ip("-n", side.nsName, "link", "show", "dev", "eth0", check: false)
            #expect(eth0.status != 0, "\(side.label) left eth0 in its netns")
        }
        // Both released the address: host-local's files / skein's journal hold nothing.
        let refHeld = ((try? FileManager.default.contentsOfDirectory(atPath: ref.dataDir + "/" + sb.prefix + "-net")) ?? [])
            .filter { $0.first?.isNumber == true || $0.contains(":") }
        #expect(refHeld.isEmpty, "reference still holds \(refHeld)")
        let state = journalState(sb)
        #expect((state["attachments"] as? [Any])?.isEmpty == true, "skein journal still has attachments: \(state)")
        if let allocations = state["allocations"] as? [Any] {
            #expect(allocations.isEmpty, "skein journal still holds allocations: \(allocations)")
        }
        let verify = journalVerify(sb)
        #expect(verify.status == 0, "skein-journal verify: \(verify.stdout) \(verify.stderr)")
    }
}
