// Reading results back: prevResult in a config, and what exec'ed delegates print.
// Every supported shape is accepted; members a version does not define are simply absent.
// Failures are code 6: the reference fails these in json.Unmarshal (types.NewResult).

extension CNIResult {
    public static func parse(_ json: JSON) throws(CNIError) -> CNIResult {
        guard let top = CNIFields(json, code: 6) else {
            throw .decodingFailure("result must be a JSON object", details: "got \(json.typeName)")
        }
        // Results before 1.0.0 may omit cniVersion (libcni injects the config's); if present it must be one we read.
        if let v = try top.string("cniVersion"), !CNIVersion.supported.contains(v) {
            throw .incompatibleVersion("unsupported result version", details: "result is \"\(v)\", plugin supports \(CNIVersion.supportedList)")
        }
        var result = CNIResult()
        result.interfaces = try top.objects("interfaces", parseInterface)
        result.ips = try top.objects("ips", parseIP)
        result.routes = try top.objects("routes", parseRoute)
        if let dns = try top.object("dns") {
            result.dns = try parseDNS(CNIFields(dns, context: "dns.", code: 6))
        }
        return result
    }

    static func parseInterface(_ f: CNIFields) throws(CNIError) -> Interface {
        Interface(name: try f.requiredString("name"), mac: try f.string("mac"), mtu: nonZero(try f.int("mtu")),
                  sandbox: try f.string("sandbox"), socketPath: try f.string("socketPath"), pciID: try f.string("pciID"))
    }

    /// 0.x results also carry "version": "4"/"6"; it is implied by the address, so it is not kept.
    static func parseIP(_ f: CNIFields) throws(CNIError) -> IPConfig {
        IPConfig(address: try network(f, "address"), gateway: try address(f, "gateway"), interface: try f.int("interface"))
    }

    static func parseRoute(_ f: CNIFields) throws(CNIError) -> Route {
        Route(dst: try network(f, "dst"), gw: try address(f, "gw"), mtu: nonZero(try f.int("mtu")),
              advmss: nonZero(try f.int("advmss")), priority: nonZero(try f.int("priority")),
              table: try f.int("table"), scope: try f.int("scope"))
    }

    static func parseDNS(_ f: CNIFields) throws(CNIError) -> DNS {
        DNS(nameservers: try f.strings("nameservers"), domain: try f.string("domain"),
            search: try f.strings("search"), options: try f.strings("options"))
    }

    /// Zero means "unset" for Go's non-pointer ints; normalizing keeps a round trip equal.
    static func nonZero(_ v: Int?) -> Int? { v == 0 ? nil : v }

    static func network(_ f: CNIFields, _ key: String) throws(CNIError) -> IPNetwork {
        let text = try f.requiredString(key)
        guard let n = IPNetwork(text) else {
            throw .decodingFailure("\(f.context)\(key) is not a CIDR", details: text)
        }
        return n
    }

    static func address(_ f: CNIFields, _ key: String) throws(CNIError) -> IPAddress? {
        guard let text = try f.string(key) else { return nil }
        guard let a = IPAddress(text) else {
            throw .decodingFailure("\(f.context)\(key) is not an IP address", details: text)
        }
        return a
    }
}
