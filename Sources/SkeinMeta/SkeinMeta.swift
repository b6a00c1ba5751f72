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

/// Typed reads of an object's members whose errors (code 7) name the member, e.g. "…networks[0].ips":
/// SkeinModel's CNIFields, as every config parser reads them.
typealias Members = CNIFields

extension CNIFields {
    init(_ object: JSONObject, context: String) {
        self.init(object, context: context, code: 7)
    }
}
