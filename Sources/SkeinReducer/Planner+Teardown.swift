// DEL's plan. Deleting either end of a veth deletes the pair, so one delete per pair, and always
// the host end: its name is derived from (containerID, ifname, network), so it is ours, and
// deleting it needs no trip into the container netns (no thread, no setns) — the same plan serves
// a live sandbox, a deleted one and a crashed ADD. Shared links (the bridge) stay; whatever is
// already gone plans nothing, so DEL can repeat forever.

import SkeinModel

extension Planner {
    public static func planTeardown(desired: AttachmentSpec, observed: Observation) -> [PlanOp] {
        var ops: [PlanOp] = []
        for host in desired.links {
            guard case .veth = host.kind, !host.shared, host.namespace == .host else { continue }
            guard let now = observed.link(named: host.name, in: .host) else { continue }
            // A link of our derived name that is not a veth, or whose MAC is not the one we derive
            // for this attachment, was not made by this attachment (a name collision, someone
            // else's link): leave it alone.
            if let kind = now.kind, kind != "veth" { continue }
            if let want = host.mac, let have = now.mac, want != have { continue }
            ops.append(.linkDelete(.host, host.name))
        }
        return ops
    }
}
