// Names that go into request paths. Kubernetes object names are DNS-1123 subdomains and namespaces
// DNS-1123 labels: lowercase alphanumerics, '-' and (subdomains) '.'. Checking that before a URL is
// built means no escaping is ever needed and no "../" or "?" can reach the server.

enum KubeName {
    /// A namespace: at most 63 characters of [a-z0-9-], starting and ending alphanumeric.
    static func checkLabel(_ s: String, what: String) throws(KubeError) {
        guard isLabel(Substring(s)) else {
            throw KubeError(.invalidName, "\(what) \"\(s)\" is not a DNS-1123 label")
        }
    }

    /// An object name: at most 253 characters, dot-separated DNS-1123 labels.
    static func checkSubdomain(_ s: String, what: String) throws(KubeError) {
        guard s.utf8.count <= 253, s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isLabel) else {
            throw KubeError(.invalidName, "\(what) \"\(s)\" is not a DNS-1123 subdomain")
        }
    }

    private static func isLabel(_ s: Substring) -> Bool {
        let u = s.utf8
        guard let first = u.first, let last = u.last, u.count <= 63 else { return false }
        return isAlnum(first) && isAlnum(last) && u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
