import Foundation
import Testing

// The promise of issue 7 as one check, shared by CrashSuiteTests, KillStormTests and
// ConcurrencyTests: whatever crashed, raced or was killed, once the runtime has done what it does
// next, nothing leaks and nothing is handed out twice.
//
//   - `skein-journal verify` exits 0 and `replay --json` reads;
//   - every allocation row's holder is an attachment in an allowed status that lists the address
//     (no address held without a live — or, mid-operation, in-flight — attachment);
//   - no address is listed by two attachments of one network (no address held twice);
//   - every veth/macvlan/ipvlan/vlan in the node's namespace is the host end of an allowed
//     attachment (no leaked host link); the test's own links carry the run prefix and are skipped;
//   - every link in a pod namespace but `lo` is a container link of an allowed attachment of that
//     namespace (no leaked pod link), and every global address there is held by it;
//   - no address is configured in two pods;
//   - when settled (no operation in flight), every active attachment's links exist.
//
// The scope is a node namespace (TypeSupport's Node): skein runs inside it, so every such link in
// it is ours or the test's, and tests running in parallel in the real host cannot confuse the count.

/// What the invariants are checked over.
struct InvariantScope {
    var stateDir: String
    /// The node's namespace (name), where host ends and bridges live.
    var hostNetns: String
    /// The pod namespaces (names or paths) whose links are checked; gone ones are skipped.
    var pods: [String]
    /// Links whose names start with this are the test's own (its bridge, NICs).
    var runPrefix: String
    /// "<netns name>/<link>" that a test put into a pod itself (a conflicting interface).
    var foreign: Set<String> = []

    init(node: Node, pods: [String], foreign: Set<String> = []) {
        stateDir = node.sb.stateDir
        hostNetns = node.host
        self.pods = pods
        runPrefix = node.prefix
        self.foreign = foreign
    }
}

/// One attachment row as `skein-journal replay --json` prints it (the fields the checks read).
struct HeldAttachment {
    var key: String
    var network: String
    var netns: String
    var status: String
    /// Spec links as (namespace "host"/"container", name, shared).
    var links: [(ns: String, name: String, shared: Bool)]
    /// Held addresses without prefix length.
    var addresses: [String]

    init(_ o: [String: Any]) {
        let k = o["key"] as? [String: Any] ?? [:]
        key = "\(k["containerID"] as? String ?? "?")/\(k["ifname"] as? String ?? "?")"
        network = o["network"] as? String ?? ""
        netns = o["netns"] as? String ?? ""
        status = o["status"] as? String ?? ""
        let spec = o["spec"] as? [String: Any] ?? [:]
        links = (spec["links"] as? [[String: Any]] ?? []).map {
            ($0["ns"] as? String ?? "", $0["name"] as? String ?? "", $0["shared"] as? Bool ?? false)
        }
        addresses = (o["addresses"] as? [[String: Any]] ?? []).compactMap {
            ($0["address"] as? String).map { String($0.split(separator: "/")[0]) }
        }
    }
}

/// The journal's replayed state, or nil when replay fails.
struct JournalView {
    var attachments: [HeldAttachment]
    var allocations: [(network: String, ip: String, holder: String)]

    init?(stateDir: String) {
        let r = run(Env.journalBin, ["replay", "--state-dir", stateDir, "--json"])
        guard r.status == 0, let o = TypeIT.object(r.stdout) else { return nil }
        attachments = (o["attachments"] as? [[String: Any]] ?? []).map(HeldAttachment.init)
        allocations = (o["allocations"] as? [[String: Any]] ?? []).map {
            ($0["network"] as? String ?? "", $0["ip"] as? String ?? "", $0["holder"] as? String ?? "")
        }
    }

    func attachment(_ key: String) -> HeldAttachment? { attachments.first { $0.key == key } }
}

enum Invariants {
    static let subLinkKinds: Set<String> = ["veth", "macvlan", "ipvlan", "vlan", "macvtap", "ipvtap"]

    /// Every violation found, as text (empty: all hold). `allowInFlight` also accepts attachments
    /// in `adding`/`deleting` (an operation still running, or crashed and not yet followed up).
    static func violations(_ scope: InvariantScope, allowInFlight: Bool = false) -> [String] {
        var out: [String] = []
        let verify = run(Env.journalBin, ["verify", "--state-dir", scope.stateDir])
        if verify.status != 0 { out.append("skein-journal verify exited \(verify.status): \(verify.stdout) \(verify.stderr)") }
        guard let view = JournalView(stateDir: scope.stateDir) else {
            return out + ["skein-journal replay --json failed"]
        }
        let allowed = view.attachments.filter { $0.status == "active" || (allowInFlight && ($0.status == "adding" || $0.status == "deleting")) }
        out += journalViolations(view, allowed: allowed)
        out += hostLinkViolations(scope, allowed: allowed, settled: !allowInFlight)
        out += podViolations(scope, allowed: allowed, settled: !allowInFlight)
        return out
    }

    /// Records every violation as an issue, prefixed with `what`.
    static func expect(_ scope: InvariantScope, allowInFlight: Bool = false, _ what: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        for v in violations(scope, allowInFlight: allowInFlight) {
            Issue.record("\(what): \(v)", sourceLocation: sourceLocation)
        }
    }

    /// Allocation rows against attachment rows.
    static func journalViolations(_ view: JournalView, allowed: [HeldAttachment]) -> [String] {
        var out: [String] = []
        let byKey = Dictionary(allowed.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for a in view.allocations {
            guard let holder = byKey[a.holder] else {
                let status = view.attachment(a.holder)?.status ?? "no attachment"
                out.append("address \(a.ip) (\(a.network)) held by \(a.holder) (\(status))")
                continue
            }
            if holder.network != a.network || !holder.addresses.contains(a.ip) {
                out.append("allocation \(a.ip) (\(a.network)) names \(a.holder), which does not list it: \(holder.addresses)")
            }
        }
        var owner: [String: String] = [:]
        for att in view.attachments {
            for ip in att.addresses {
                let k = att.network + " " + ip
                if let other = owner[k] { out.append("address \(ip) (\(att.network)) held twice: \(other) and \(att.key)") }
                owner[k] = att.key
            }
        }
        return out
    }

    /// Sub-links in the node that no allowed attachment holds; when settled, host ends that an
    /// active attachment holds but the kernel lacks.
    static func hostLinkViolations(_ scope: InvariantScope, allowed: [HeldAttachment], settled: Bool) -> [String] {
        var out: [String] = []
        let links = TypeIT.links(scope.hostNetns)
        let held = Set(allowed.flatMap { a in a.links.filter { $0.ns == "host" }.map(\.name) })
        for l in links where subLinkKinds.contains(l.kind ?? "") && !l.name.hasPrefix(scope.runPrefix) {
            if !held.contains(l.name) { out.append("leaked host link \(l.name) (\(l.kind ?? "?"))") }
        }
        guard settled else { return out }
        let present = Set(links.map(\.name))
        for a in allowed {
            for l in a.links where l.ns == "host" && !present.contains(l.name) {
                out.append("\(a.key) is active but its host link \(l.name) is missing")
            }
        }
        return out
    }

    /// Links and addresses inside the pods against the attachments of each pod's namespace.
    static func podViolations(_ scope: InvariantScope, allowed: [HeldAttachment], settled: Bool) -> [String] {
        var out: [String] = []
        var seen: [String: String] = [:]   // address -> pod
        for pod in scope.pods {
            let name = SkeinIT.nsName(pod)
            guard FileManager.default.fileExists(atPath: "/var/run/netns/" + name) else { continue }
            let mine = allowed.filter { SkeinIT.nsName($0.netns) == name }
            let heldLinks = Set(mine.flatMap { a in a.links.filter { $0.ns == "container" }.map(\.name) })
            let heldIPs = Set(mine.flatMap(\.addresses))
            let inPod = podAddresses(name)
            for (link, ips) in inPod where link != "lo" && !scope.foreign.contains(name + "/" + link) {
                if !heldLinks.contains(link) { out.append("leaked pod link \(name)/\(link)") }
                for ip in ips {
                    if !heldIPs.contains(ip) { out.append("address \(ip) on \(name)/\(link) is held by no attachment of that pod") }
                    if let other = seen[ip] { out.append("address \(ip) is configured in two pods: \(other) and \(name)") }
                    seen[ip] = name
                }
            }
            if settled {
                for link in heldLinks where inPod[link] == nil {
                    out.append("\(name): an active attachment's link \(link) is missing")
                }
            }
        }
        return out
    }

    /// Every link of a namespace with its global-scope addresses (no prefix length).
    static func podAddresses(_ ns: String) -> [String: [String]] {
        let r = run("/usr/sbin/ip", ["-n", ns, "-j", "addr", "show"])
        var out: [String: [String]] = [:]
        for l in TypeIT.array(r.stdout) {
            guard let name = l["ifname"] as? String else { continue }
            let infos = l["addr_info"] as? [[String: Any]] ?? []
            out[name] = infos.filter { ($0["scope"] as? String) == "global" }.compactMap { $0["local"] as? String }
        }
        return out
    }
}
