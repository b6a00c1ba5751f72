// The `default-route` request (NPWG spec §4.1.2.1.9): one attachment becomes the pod's default
// route and every other one loses its default routes. Multus deletes all default routes on each
// such interface, adds the requested gateways, and rewrites the cached results to match; the same
// rewrite is offered here for results, so the runtime and network-status tell the truth.

import SkeinModel

extension MetaPlan {
    /// At most one gateway per IP family overall (Multus has no ECMP). A request with an empty list
    /// keeps that network's own default route, so it must be the only request.
    static func decideDefaultRoute(_ attachments: inout [MetaAttachment],
                                   selections: [NetworkSelection?]) throws(CNIError) {
        let requests = selections.indices.filter { selections[$0]?.defaultRoute != nil }
        guard !requests.isEmpty else { return }
        let gateways = requests.flatMap { selections[$0]!.defaultRoute! }
        for (family, isV4) in [("IPv4", true), ("IPv6", false)] where gateways.filter({ $0.isV4 == isV4 }).count > 1 {
            throw .invalidConfig("default-route: more than one \(family) gateway requested (ECMP default routes are not supported)",
                                 details: requests.map { attachments[$0].network }.joined(separator: ", "))
        }
        if requests.count > 1, requests.contains(where: { selections[$0]!.defaultRoute!.isEmpty }) {
            throw .invalidConfig("default-route: an empty list keeps that network's own default route, so no other network may ask for one",
                                 details: requests.map { attachments[$0].network }.joined(separator: ", "))
        }
        for i in attachments.indices {
            let own = selections[i]?.defaultRoute
            attachments[i].defaultGateways = own ?? []
            attachments[i].dropDefaultRoute = own.map { !$0.isEmpty } ?? true
        }
    }
}

/// Rewrites of a delegate's CNI result for the default-route decision.
public enum DefaultRoute {
    /// The result as the pod has it after the plan's route changes for `attachment`.
    public static func apply(_ attachment: MetaAttachment, to result: JSON) -> JSON {
        let dropped = attachment.dropDefaultRoute ? droppingDefaultRoutes(result) : result
        return addingDefaultRoutes(via: attachment.defaultGateways, to: dropped)
    }

    /// The same, on a decoded result.
    public static func apply(_ attachment: MetaAttachment, to result: CNIResult) -> CNIResult {
        var r = result
        if attachment.dropDefaultRoute { r.routes.removeAll { $0.dst.prefixLength == 0 } }
        r.routes += attachment.defaultGateways.map { CNIResult.Route(dst: defaultDestination($0), gw: $0) }
        return r
    }

    /// Without routes to 0.0.0.0/0 or ::/0 (however written, e.g. "::0/0"); other members untouched.
    /// `routes` is removed when it becomes empty, as Multus does.
    public static func droppingDefaultRoutes(_ result: JSON) -> JSON {
        guard case .object(var o) = result, let routes = o["routes"]?.array else { return result }
        let kept = routes.filter { route in
            guard let dst = route["dst"]?.string, let network = IPNetwork(dst) else { return true }
            return network.prefixLength != 0
        }
        o["routes"] = kept.isEmpty ? nil : .array(kept)
        return .object(o)
    }

    /// With a default route via each gateway appended to `routes`.
    public static func addingDefaultRoutes(via gateways: [IPAddress], to result: JSON) -> JSON {
        guard !gateways.isEmpty, case .object(var o) = result else { return result }
        var routes = o["routes"]?.array ?? []
        for gw in gateways {
            routes.append(.obj([("dst", .string(defaultDestination(gw).description)), ("gw", .string(gw.description))]))
        }
        o["routes"] = .array(routes)
        return .object(o)
    }

    static func defaultDestination(_ gw: IPAddress) -> IPNetwork {
        IPNetwork(gw.isV4 ? "0.0.0.0/0" : "::/0")!
    }
}
