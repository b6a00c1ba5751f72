// Multus semantics, pure: the networks annotation, NetworkAttachmentDefinitions, the ordered
// delegate list of one pod, default-route rules, delegate stdin, and the network-status annotation.
// Everything the engine must fetch (NADs from the API, nadDir or confDir; delegate results) comes
// in as values or through a resolver closure, so this module does no I/O. Errors are CNIError
// (code 7 for bad annotations, NADs and plans): the engine reports them to the runtime unchanged.

import SkeinModel

/// Kubernetes name rules the NPWG spec applies to networks and namespaces.
public enum KubeName {
    /// A DNS-1123 label: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 bytes (namespaces, annotation names).
    public static func isLabel(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 63, isAlnum(u.first!), isAlnum(u.last!) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A DNS-1123 subdomain: dot-separated labels, at most 253 bytes (object names such as a NAD's).
    public static func isSubdomain(_ s: String) -> Bool {
        guard s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }

    static func isAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
}

extension StringProtocol {
    /// Go's strings.TrimSpace, as Multus applies it to annotation items.
    var trimmedWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}

/// Typed reads of an object's members whose errors (code 7) name the member, e.g. "…networks[0].ips".
/// `null` reads as absent, as Go's decoder leaves the field at its zero value.
struct Members {
    let object: JSONObject
    /// Prefix naming the object in messages, ending in "." (or empty).
    let context: String

    init(_ object: JSONObject, context: String) {
        self.object = object
        self.context = context
    }

    func fail(_ key: String, _ expected: String, _ got: JSON) -> CNIError {
        .invalidConfig("\(context)\(key) must be \(expected)", details: "got \(got.typeName)")
    }

    func present(_ key: String) -> JSON? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    func string(_ key: String) throws(CNIError) -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v.string else { throw fail(key, "a string", v) }
        return s
    }

    func bool(_ key: String) throws(CNIError) -> Bool? {
        guard let v = present(key) else { return nil }
        guard let b = v.bool else { throw fail(key, "a boolean", v) }
        return b
    }

    func int(_ key: String) throws(CNIError) -> Int? {
        guard let v = present(key) else { return nil }
        guard let n = v.int else { throw fail(key, "an integer", v) }
        return n
    }

    func object(_ key: String) throws(CNIError) -> JSONObject? {
        guard let v = present(key) else { return nil }
        guard let o = v.object else { throw fail(key, "an object", v) }
        return o
    }

    func array(_ key: String) throws(CNIError) -> [JSON]? {
        guard let v = present(key) else { return nil }
        guard let a = v.array else { throw fail(key, "an array", v) }
        return a
    }

    func strings(_ key: String) throws(CNIError) -> [String]? {
        guard let list = try array(key) else { return nil }
        var out: [String] = []
        for (i, item) in list.enumerated() {
            guard let s = item.string else { throw fail("\(key)[\(i)]", "a string", item) }
            out.append(s)
        }
        return out
    }
}
