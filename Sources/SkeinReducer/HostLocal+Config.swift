// The host-local `ipam` section, schema unchanged from the reference plugin
// (plugins/ipam/host-local/backend/allocator/config.go), validated the way its
// LoadIPAMConfig and Range(Set).Canonicalize do, with error texts in the same shape.

import SkeinModel

public struct HostLocalConfig: Equatable, Sendable {
    /// Canonical range sets: defaults filled in, each set non-empty, single-family and
    /// non-overlapping, no two sets overlapping.
    public var rangeSets: [[IPRange]]
    public var routes: [IPAMRoute]
    /// Accepted for compatibility and ignored: allocations live in Skein's journal.
    public var dataDir: String?
    /// Accepted so existing configs parse; Skein does not read resolv.conf files (see
    /// `unsupportedKeys`).
    public var resolvConf: String?

    public init(rangeSets: [[IPRange]], routes: [IPAMRoute] = [], dataDir: String? = nil, resolvConf: String? = nil) {
        self.rangeSets = rangeSets
        self.routes = routes
        self.dataDir = dataDir
        self.resolvConf = resolvConf
    }

    /// Keys that were set but that Skein does not implement; the caller decides whether to
    /// reject them (CNI error code 2) rather than silently return a result without DNS.
    public var unsupportedKeys: [String] {
        resolvConf.map { $0.isEmpty ? [] : ["resolvConf"] } ?? []
    }

    /// Parses the `ipam` object. `runtimeIPRanges` is the `runtimeConfig.ipRanges` capability
    /// argument; as in the reference its range sets come first, then the legacy top-level
    /// range, then `ranges`.
    public static func parse(ipam: JSON, runtimeIPRanges: JSON? = nil) throws(IPAMError) -> HostLocalConfig {
        guard let object = ipam.object else {
            throw IPAMError(.invalidConfig, "ipam must be an object, not \(ipam.typeName)")
        }
        let field = IPAMFields(object: object, context: "ipam")
        if let type = try field.string("type"), type != "host-local" {
            throw IPAMError(.invalidConfig, "ipam type \"\(type)\" is not host-local")
        }
        var sets = try parseRangeSets(runtimeIPRanges, context: "runtimeConfig.ipRanges")
        // Reference: the legacy range counts only when its subnet is set; the other legacy
        // keys alone are ignored (but still type-checked, as Go's decoder would).
        let legacy = try rawRange(field)
        if legacy.subnet != nil { sets.append([legacy]) }
        sets += try parseRangeSets(object["ranges"], context: "ipam.ranges")
        guard !sets.isEmpty else { throw IPAMError(.invalidConfig, "no IP ranges specified") }

        var canonical: [[IPRange]] = []
        for (i, set) in sets.enumerated() {
            do throws(IPAMError) {
                canonical.append(try canonicalize(set))
            } catch {
                throw IPAMError(.invalidConfig, "invalid range set \(i): \(error.message)")
            }
        }
        try checkSetOverlaps(canonical)
        return HostLocalConfig(
            rangeSets: canonical,
            routes: try parseRoutes(object["routes"]),
            dataDir: try field.string("dataDir"),
            resolvConf: try field.string("resolvConf"))
    }

    static func checkSetOverlaps(_ sets: [[IPRange]]) throws(IPAMError) {
        for i in sets.indices {
            for j in sets.indices where j > i {
                if sets[i].contains(where: { a in sets[j].contains { a.overlaps($0) } }) {
                    throw IPAMError(.invalidConfig, "range set \(i) overlaps with \(j)")
                }
            }
        }
    }

    static func parseRoutes(_ value: JSON?) throws(IPAMError) -> [IPAMRoute] {
        guard let items = try IPAMFields.array(value, context: "ipam.routes") else { return [] }
        var routes: [IPAMRoute] = []
        for (i, item) in items.enumerated() {
            let field = try IPAMFields(item, context: "ipam.routes[\(i)]")
            guard let dst = try field.network("dst") else {
                throw IPAMError(.invalidConfig, "ipam.routes[\(i)].dst is required")
            }
            routes.append(IPAMRoute(dst: dst, gw: try field.address("gw")))
        }
        return routes
    }
}
