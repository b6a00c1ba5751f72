// planAdd for the links that are not veth pairs or bridges: macvlan, ipvlan and vlan links created
// directly in the container, and host-devices moved in from the host. Both recognise their own
// link from an earlier, interrupted ADD and finish it; a link of the same name that is not ours
// is never touched.

import SkeinModel

extension Planner {
    /// The kernel's IFLA_INFO_KIND for a kind the planner creates; nil where any kind is fine (a
    /// host-device is whatever device it is, lo has none).
    public static func kindName(_ kind: LinkKind) -> String? {
        switch kind {
        case .bridge: return "bridge"
        case .veth, .vethPeer: return "veth"
        case .macvlan: return "macvlan"
        case .ipvlan: return "ipvlan"
        case .vlan: return "vlan"
        case .hostDevice, .loopback, .existing: return nil
        }
    }

    /// Ours: the kind we create and, where the spec fixes a MAC (macvlan: configured or derived),
    /// that MAC. An unreported kind or MAC is given the benefit of the doubt.
    static func isOurSubLink(_ spec: LinkSpec, _ link: ObservedLink) -> Bool {
        if let kind = link.kind, kind != kindName(spec.kind) { return false }
        if let want = spec.mac, let have = link.mac, want != have { return false }
        return true
    }

    static func planSubLink(_ spec: LinkSpec, _ observed: Observation, _ ops: inout [PlanOp]) throws(PlanError) {
        if let current = observed.link(named: spec.name, in: spec.namespace) {
            guard isOurSubLink(spec, current) else {
                throw PlanError(.interfaceExists, "interface \(spec.name) already exists\(suffix(spec.namespace))"
                    + " and is not the \(kindName(spec.kind) ?? "link") this attachment creates")
            }
            ensureLink(spec, current: current, in: observed, &ops)
            return
        }
        ops.append(.createSubLink(spec))
        ensureLink(spec, current: created(spec, kind: kindName(spec.kind) ?? ""), observedRoutes: [], &ops)
    }

    // MARK: - host-device

    /// The device, wherever it is now. Its MAC (the origin's, or the one tuning gave it) is
    /// evidence anywhere; so is its ifindex, which nothing in the pod (an exec'ed tuning, an
    /// operator's `ip link set address`) can change: in the host it is the index it was observed
    /// with, and a move into the container keeps it unless the container already used that
    /// number. A container link with that index is not the device while the host still has one.
    static func isOurDevice(_ link: ObservedLink, _ spec: LinkSpec, _ origin: HostDeviceOrigin,
                            _ observed: Observation) -> Bool {
        let macs = [origin.mac, spec.mac].compactMap { $0 }
        if let mac = link.mac, macs.contains(mac) { return true }
        guard link.index == origin.index else { return false }
        return link.namespace == .host || !observed.links.contains { $0.namespace == .host && $0.index == origin.index }
    }

    /// The device in the host whatever its name (a netns that dies hands its devices back, renamed
    /// if their name is taken); by index first, then by MAC.
    static func hostDevice(_ origin: HostDeviceOrigin, _ spec: LinkSpec, _ observed: Observation) -> ObservedLink? {
        let host = observed.links.filter { $0.namespace == .host }
        return host.first { $0.index == origin.index } ?? host.first { isOurDevice($0, spec, origin, observed) }
    }

    /// In place under CNI_IFNAME: ensure its attributes. Left in the container under its host
    /// name by an interrupted ADD: rename it and go on. In the host: down, move, rename, then the
    /// attributes (a move takes the device down and drops its addresses).
    static func planHostDevice(_ spec: LinkSpec, _ origin: HostDeviceOrigin, _ observed: Observation,
                               _ ops: inout [PlanOp]) throws(PlanError) {
        if let current = observed.link(named: spec.name, in: .container) {
            guard isOurDevice(current, spec, origin, observed) else {
                throw PlanError(.interfaceExists, "interface \(spec.name) already exists in the container and is not"
                    + " host device \(origin.name)")
            }
            ensureLink(spec, current: current, in: observed, &ops)
            return
        }
        let underOrigin = spec.name == origin.name ? nil : observed.link(named: origin.name, in: .container)
        if let left = underOrigin, isOurDevice(left, spec, origin, observed) {
            if left.up { ops.append(.setDown(.container, origin.name)) }
            ops.append(.rename(.container, from: origin.name, to: spec.name))
            ensureLink(spec, current: moved(left, to: spec.name), observedRoutes: [], &ops)
            return
        }
        guard let device = hostDevice(origin, spec, observed) else {
            throw PlanError(.deviceMissing, "host device \(origin.name) (ifindex \(origin.index)) is neither in the host"
                + " nor in the container")
        }
        if device.name == origin.name && underOrigin != nil {
            throw PlanError(.interfaceExists, "the container already has an interface named \(origin.name):"
                + " host device \(origin.name) cannot be moved in")
        }
        if device.up { ops.append(.setDown(.host, device.name)) }
        ops.append(.moveLink(from: .host, device.name, to: .container))
        if device.name != spec.name { ops.append(.rename(.container, from: device.name, to: spec.name)) }
        ensureLink(spec, current: moved(device, to: spec.name), observedRoutes: [], &ops)
    }

    /// The device as it is after a move into the container and a rename: down, no addresses.
    static func moved(_ link: ObservedLink, to name: String) -> ObservedLink {
        var out = link
        out.name = name
        out.namespace = .container
        out.up = false
        out.addresses = []
        return out
    }
}
