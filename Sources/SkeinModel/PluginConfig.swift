// Reads shared by the built-in delegates' configs (macvlan, ipvlan, vlan, host-device, ptp,
// tuning): the reference plugins' schemas, where a missing key means Go's zero value. A value of
// the wrong type or out of range is code 7; a key the reference knows but Skein does not
// implement, set to something other than its default, is code 2 naming key and value.

enum PluginConfig {
    /// The config as an object whose `type` is `type`.
    static func fields(_ plugin: JSON, type: String) throws(CNIError) -> CNIFields {
        guard let f = CNIFields(plugin, code: 7) else {
            throw .invalidConfig("\(type) config must be a JSON object", details: "got \(plugin.typeName)")
        }
        let actual = try f.requiredString("type")
        guard actual == type else { throw .invalidConfig("type must be \"\(type)\"", details: actual) }
        return f
    }

    static func unsupported(_ type: String, _ key: String, _ value: JSON) -> CNIError {
        .unsupportedField("\(type) key \(key) is not supported yet", details: "\(key): \(value.serialized())")
    }

    /// An interface name key ("master", "device"); empty reads as absent, as Go's zero value.
    static func interfaceName(_ f: CNIFields, _ key: String) throws(CNIError) -> String? {
        guard let name = try f.string(key), !name.isEmpty else { return nil }
        do {
            return try InterfaceName(validating: name).value
        } catch {
            throw .invalidConfig("\(key): \(error.msg)", details: name)
        }
    }

    /// A link mode out of `allowed`; empty or absent is the first one, the reference's default.
    static func mode(_ f: CNIFields, type: String, allowed: [String]) throws(CNIError) -> String {
        guard let mode = try f.string("mode"), !mode.isEmpty else { return allowed[0] }
        guard allowed.contains(mode) else {
            throw .invalidConfig("unknown \(type) mode: \"\(mode)\"", details: "one of \(allowed.joined(separator: ", "))")
        }
        return mode
    }

    /// The `ipam` object when it names a type; nil for absent, null, `{}` or an empty type: the
    /// reference plugins treat all of those as "no IPAM" (layer 2 only, where the type allows it).
    static func ipam(_ f: CNIFields) throws(CNIError) -> JSON? {
        guard let ipam = try f.object("ipam") else { return nil }
        let type = try CNIFields(ipam, context: "ipam.", code: 7).string("type") ?? ""
        return type.isEmpty ? nil : .object(ipam)
    }

    /// A nested object's reader ("runtimeConfig", "args" → "cni"), nil when absent.
    static func nested(_ f: CNIFields, _ path: [String]) throws(CNIError) -> CNIFields? {
        var current = f
        var context = f.context
        for key in path {
            guard let o = try current.object(key) else { return nil }
            context += key + "."
            current = CNIFields(o, context: context, code: current.code)
        }
        return current
    }
}
