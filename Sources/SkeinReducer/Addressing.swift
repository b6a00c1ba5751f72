import SkeinModel

// What IPAM gives an interface plugin, whichever built-in IPAM type ran, and the reference's
// ipam.ConfigureIface rule for turning it into container routes.

struct Addressing: Equatable {
    /// Every address is for CNI_IFNAME.
    var ips: [HeldAddress]
    /// As the IPAM result reports them (a route without a gateway keeps none here).
    var routes: [IPAMRoute]
    var cursors: [Int: IPAddress] = [:]
    /// host-local addresses are held in the allocation tables; static ones only reported.
    var held: Bool
    /// The IPAM result's own DNS (static's `ipam.dns`; host-local reads no resolv.conf).
    var dns: JSON?

    /// ConfigureIface: an IPAM route without a gateway goes via the first gateway of its family
    /// among the addresses (none of that family: a device route).
    var kernelRoutes: [RouteSpec] {
        let gateways = ips.compactMap(\.gateway)
        let gw4 = gateways.first { $0.isV4 }
        let gw6 = gateways.first { !$0.isV4 }
        return routes.map { RouteSpec(dst: $0.dst, gateway: $0.gw ?? ($0.dst.address.isV4 ? gw4 : gw6)) }
    }

    var resultRoutes: [RouteSpec] { routes.map { RouteSpec(dst: $0.dst, gateway: $0.gw) } }
}

extension Attachments {
    /// Runs the built-in IPAM type `ipam` names (the exec rule sent every other type to CNI_PATH).
    /// No address at all is refused, as every reference interface plugin does.
    static func address(_ r: AddRequested, ipam: JSON, lookup: some AllocationLookup) throws(BuildFailure) -> Addressing {
        let out: Addressing
        switch ipam["type"]?.string ?? "" {
        case "host-local":
            let (_, alloc) = try allocate(r, ipam: ipam, lookup: lookup).get()
            out = Addressing(ips: alloc.ips.map { HeldAddress(address: $0.address, gateway: $0.gateway) },
                             routes: alloc.routes, cursors: alloc.cursors, held: true)
        case "static":
            do throws(IPAMError) {
                let conf = try StaticIPAMConfig.parse(plugin: r.plugin, cniArgs: r.cniArgs)
                out = Addressing(ips: conf.addresses, routes: conf.routes, held: false, dns: conf.dns)
            } catch {
                throw BuildFailure(code: ipamCode(error.kind), message: "static IPAM: \(error.message)")
            }
        case let other:
            throw BuildFailure(code: 2, message: "IPAM type \"\(other)\" is not built in")
        }
        guard !out.ips.isEmpty else { throw .invalid("IPAM plugin returned missing IP config") }
        return out
    }
}
