// The pod's default route as the meta-plugin decides it (the `default-route` of the networks
// annotation): every default route out of one interface deleted, IPv4 and IPv6, then a default
// route via each requested gateway added on it — as Multus' DeleteDefaultGW / SetDefaultGW do.

import Glibc
import SkeinModel
import SkeinNetlink

extension Executor {
    /// In the container netns. With `dropExisting` false only the gateways are added (a route
    /// already there counts as added). Fails with ENODEV when the interface is not there.
    public func replaceDefaultRoutes(ifname: String, dropExisting: Bool, gateways: [IPAddress]) throws {
        let op = "ip route replace default dev \(ifname)"
        do {
            let h = try containerHandle()
            guard let index = try lookUpIndex(ifname, .container, h) else {
                throw ExecutorError(op: op, errno: ENODEV, message: "no link named \(ifname) in the container")
            }
            if dropExisting {
                for family in [AddressFamily.v4, .v6] {
                    for route in try h.routeList(family: family, oif: index) where route.isDefault {
                        _ = try h.routeDel(route)
                    }
                }
            }
            for gw in gateways {
                let family: AddressFamily = gw.isV4 ? .v4 : .v6
                guard try !h.routeAdd(SkeinNetlink.RouteSpec(family: family, gateway: gw.bytes, oif: index)) else { continue }
                // EEXIST: fine if it is this very route; a default route out of another interface
                // would silently win, so that is an error.
                let ours = try h.routeList(family: family, oif: index).contains { $0.isDefault && $0.gateway == gw.bytes }
                if !ours {
                    throw ExecutorError(op: op, errno: EEXIST, message: "another default route is in the way of the one via \(gw)")
                }
            }
        } catch {
            throw ExecutorError(error, op: op)
        }
    }
}
