// DEL's plan, per kind; whatever is already gone plans nothing, so DEL can repeat forever, and a
// link that is not ours (a name collision) is left alone.
//
// - veth pair: deleting either end deletes both, so one delete, always of the host end: its name
//   is derived from (containerID, ifname, network), so it is ours, and deleting it needs no trip
//   into the container netns — the same plan serves a live sandbox, a deleted one and a crashed ADD.
// - macvlan, ipvlan, vlan: deleted in the container when it still exists (its kind, and its MAC
//   where the spec fixes one, show it is ours); a gone netns took them with it.
// - host-device: sent home — down, original MAC and MTU (and the promisc, allmulticast and
//   txqueuelen it had, where tuning changed them), original name, back in the host; found in the
//   host already (its netns died, or a DEL got this far) it only gets those back. It is found by
//   its ifindex as well as its MAC, so a MAC changed in the pod does not strand it there. The
//   reference leaves it down, and so do we.
// - lo: set down, as the reference loopback does. Shared links (the bridge) stay.

import SkeinModel

extension Planner {
    public static func planTeardown(desired: AttachmentSpec, observed: Observation) -> [PlanOp] {
        var ops: [PlanOp] = []
        for spec in desired.links where !spec.shared {
            switch spec.kind {
            case .veth:
                guard spec.namespace == .host, let now = observed.link(named: spec.name, in: .host) else { continue }
                // A link of our derived name that is not a veth, or whose MAC is not the one we
                // derive for this attachment, was not made by this attachment.
                if let kind = now.kind, kind != "veth" { continue }
                if let want = spec.mac, let have = now.mac, want != have { continue }
                ops.append(.linkDelete(.host, spec.name))
            case .macvlan, .ipvlan, .vlan:
                guard let now = observed.link(named: spec.name, in: spec.namespace), isOurSubLink(spec, now) else { continue }
                ops.append(.linkDelete(spec.namespace, spec.name))
            case .hostDevice(let origin):
                sendHome(spec, origin, observed, &ops)
            case .loopback:
                if let lo = observed.link(named: spec.name, in: spec.namespace), lo.up { ops.append(.setDown(spec.namespace, spec.name)) }
            case .bridge, .vethPeer, .existing:
                continue
            }
        }
        return ops
    }

    static func sendHome(_ spec: LinkSpec, _ origin: HostDeviceOrigin, _ observed: Observation, _ ops: inout [PlanOp]) {
        let inContainer = [spec.name, origin.name].lazy
            .compactMap { observed.link(named: $0, in: .container) }
            .first { isOurDevice($0, spec, origin, observed) }
        guard let device = inContainer ?? hostDevice(origin, spec, observed) else { return }
        let ns = device.namespace
        var name = device.name
        let renaming = name != origin.name
        let macWrong = origin.mac.map { device.mac != $0 } ?? false
        // Renaming needs the device down; so may a MAC change. Home and right: leave it as it is.
        if device.up && (ns == .container || renaming || macWrong) { ops.append(.setDown(ns, name)) }
        if let mac = origin.mac, macWrong { ops.append(.setMAC(ns, name, mac)) }
        if device.mtu != origin.mtu { ops.append(.setMTU(ns, name, origin.mtu)) }
        restoreTuned(spec, origin, device, &ops)
        // Renamed where the original name is free: in the container before the move (so the
        // host never sees CNI_IFNAME, which may well be taken there), else in the host after it.
        if renaming && !nameTaken(origin.name, in: ns, by: device, observed) {
            ops.append(.rename(ns, from: name, to: origin.name))
            name = origin.name
        }
        guard ns == .container else { return }
        ops.append(.moveLink(from: .container, name, to: .host))
        if name != origin.name { ops.append(.rename(.host, from: name, to: origin.name)) }
    }

    /// The flags and queue length tuning set, back to the origin's. Only what this attachment
    /// set: a value someone else changed (an exec'ed plugin, which restores its own) is theirs.
    private static func restoreTuned(_ spec: LinkSpec, _ origin: HostDeviceOrigin, _ device: ObservedLink,
                                     _ ops: inout [PlanOp]) {
        let ns = device.namespace, name = device.name
        if spec.promisc && device.promisc != origin.promisc { ops.append(.setPromisc(ns, name, origin.promisc)) }
        // Unknown (not read) counts as different: the op is idempotent and cheap.
        if spec.allmulti != nil && device.allmulti != origin.allmulti { ops.append(.setAllmulti(ns, name, origin.allmulti)) }
        if spec.txQLen != nil, let txQLen = origin.txQLen, device.txQLen != txQLen { ops.append(.setTxQLen(ns, name, txQLen)) }
    }

    private static func nameTaken(_ name: String, in ns: NamespaceRef, by device: ObservedLink, _ observed: Observation) -> Bool {
        guard let other = observed.link(named: name, in: ns) else { return false }
        return other.index != device.index
    }
}
