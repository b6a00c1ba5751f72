import SkeinModel

// tuning, chained after a built-in interface plugin: its settings become part of the spec of the
// container interface (CNI_IFNAME) the chain made so far, so the planner applies them with the
// rest and CHECK compares them. Nothing needs restoring on DEL for a link the teardown deletes;
// a host-device goes home with what it came with (its origin): MAC and MTU, and promisc,
// allmulticast and txqueuelen where tuning set them. An origin observed without its txqueuelen
// (never by this build) could not have it restored: tuning it is then refused.

enum Tuning {
    static func apply(_ r: AddRequested, _ plugin: JSON, onto d: AddDecision) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in
            try TuningConfig.parse(plugin: plugin, ifname: r.key.ifname, envMAC: r.cniArgsMAC)
        }
        guard let i = d.spec.links.firstIndex(where: { $0.name == r.key.ifname && $0.namespace == .container }) else {
            throw .invalid("tuning: the chain so far has no interface \(r.key.ifname) in the container")
        }
        var out = d
        var link = out.spec.links[i]
        if case .hostDevice(let origin) = link.kind, conf.txQLen != nil, origin.txQLen == nil {
            throw BuildFailure(code: 2, message: "tuning key txQLen is not supported on host-device \(origin.name):"
                + " its original queue length was not observed, so it would not be restored when the device goes home")
        }
        if let mac = conf.mac { link.mac = MACAddress(mac) }
        if let mtu = conf.mtu { link.mtu = UInt32(mtu) }
        if conf.promisc { link.promisc = true }
        if let allmulti = conf.allmulti { link.allmulti = allmulti }
        if let txQLen = conf.txQLen { link.txQLen = txQLen }
        out.spec.links[i] = link
        for s in conf.sysctls {
            // A later plugin's value for the same key wins (macvlan's arp_notify, say).
            out.spec.sysctls.removeAll { $0.key == s.key && $0.namespace == s.namespace }
            out.spec.sysctls.append(s)
        }
        return out
    }
}
