import SkeinModel

// tuning, chained after a built-in interface plugin: its settings become part of the spec of the
// container interface (CNI_IFNAME) the chain made so far, so the planner applies them with the
// rest and CHECK compares them. Nothing needs restoring on DEL for a link the teardown deletes;
// a host-device goes home with the MAC and MTU it came with (its origin). Its promisc, allmulti
// and txqueuelen are not part of the origin, so tuning them could not be undone: refused.

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
        if case .hostDevice = link.kind {
            for (key, set) in [("promisc", conf.promisc), ("allmulti", conf.allmulti != nil), ("txQLen", conf.txQLen != nil)] where set {
                throw BuildFailure(code: 2, message: "tuning key \(key) is not supported on a host-device:"
                    + " its original value would not be restored when the device goes home")
            }
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
