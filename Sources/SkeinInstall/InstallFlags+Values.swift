import SkeinModel

// Each flag's value is checked here, once, so that nothing downstream meets a relative path, a
// ".." that walks out of the host root, or a config value the skein binary would refuse at the
// first pod's ADD.

extension InstallFlags {
    static func apply(_ flag: InstallFlag, _ value: String, to o: inout InstallOptions) throws(InstallError) {
        let name = flag.name
        switch name {
        case "--host-root": o.hostRoot = try nodePath(name, value)
        case "--cni-bin-dir": o.cniBinDir = try nodePath(name, value)
        case "--cni-conf-dir": o.cniConfDir = try nodePath(name, value)
        case "--conf-file-name": o.confFileName = try confFileName(value)
        case "--kubeconfig": o.kubeconfigPath = try nodePath(name, value)
        case "--no-kubeconfig": o.writeKubeconfig = false
        case "--source-dir": o.sourceDir = try nodePath(name, value)
        case "--token-file": o.tokenFile = try nodePath(name, value)
        case "--ca-file": o.caFile = try nodePath(name, value)
        case "--api-server": o.apiServer = try apiServer(value)
        case "--wait-timeout-s": o.waitTimeoutS = try seconds(name, value, minimum: 0)
        case "--keep-running": o.keepRunning = true
        case "--resync-interval-s": o.resyncIntervalS = try seconds(name, value, minimum: 1)
        case "--remove-binaries": o.removeBinaries = true
        case "--network-name": o.networkName = try networkName(value)
        case "--state-dir": o.stateDir = try stateDir(value)
        default: try applySetting(flag, value, to: &o)
        }
    }

    /// Flags that copy a Multus NetConf key into the plugin object.
    static func applySetting(_ flag: InstallFlag, _ value: String, to o: inout InstallOptions) throws(InstallError) {
        guard let key = flag.configKey else { preconditionFailure("flag \(flag.name) has no handler") }
        let name = flag.name
        let json: JSON
        switch name {
        case "--log-level":
            guard ["debug", "verbose", "error", "panic"].contains(value) else {
                throw InstallError(.usage, "\(name) must be debug, verbose, error or panic, not \"\(value)\"")
            }
            json = .string(value)
        case "--log-to-stderr":
            guard value == "true" || value == "false" else { throw InstallError(.usage, "\(name) must be true or false") }
            json = .bool(value == "true")
        case "--log-file", "--readiness-indicator-file", "--nad-dir":
            json = .string(try nodePath(name, value))
        case "--multus-namespace":
            json = .string(try namespace(name, value))
        case "--system-namespaces":
            json = .array(try list(name, value).map { (ns) throws(InstallError) -> JSON in .string(try namespace(name, ns)) })
        case "--global-namespaces":
            // Multus keeps this one a comma-separated string.
            json = .string(try list(name, value).map { (ns) throws(InstallError) -> String in try namespace(name, ns) }.joined(separator: ","))
        case "--default-networks":
            json = .array(try list(name, value).map { (net) throws(InstallError) -> JSON in .string(try networkReference(name, net)) })
        case "--namespace-isolation":
            json = .bool(true)
        default:
            preconditionFailure("flag \(name) has no handler")
        }
        o.settings[key] = json
    }

    /// Absolute, no NUL, no ".." component; a trailing slash is dropped so joins stay canonical.
    static func nodePath(_ flag: String, _ value: String) throws(InstallError) -> String {
        guard value.hasPrefix("/") else { throw InstallError(.usage, "\(flag) must be an absolute path, not \"\(value)\"") }
        guard !value.utf8.contains(0) else { throw InstallError(.usage, "\(flag) contains a NUL byte") }
        guard !value.split(separator: "/").contains("..") else {
            throw InstallError(.usage, "\(flag) must not contain \"..\": \(value)")
        }
        var v = value
        while v.count > 1 && v.hasSuffix("/") { v.removeLast() }
        return v
    }

    /// A .conflist: the list form is the network configuration the CNI spec defines since 1.0 (the
    /// single-plugin .conf is a libcni compatibility path), and it carries cniVersions and chaining.
    static func confFileName(_ value: String) throws(InstallError) -> String {
        guard !value.isEmpty, !value.contains("/"), !value.hasPrefix("."), value.hasSuffix(".conflist"),
              value.count > ".conflist".count else {
            throw InstallError(.usage, "--conf-file-name must be a plain file name ending in .conflist, not \"\(value)\"")
        }
        return value
    }

    static func apiServer(_ value: String) throws(InstallError) -> String {
        guard value.hasPrefix("https://"), value.count > 8, !value.contains(where: { $0 == " " || $0 == "\n" || $0 == "\"" }) else {
            throw InstallError(.usage, "--api-server must be an https:// URL, not \"\(value)\"")
        }
        return value
    }

    static func seconds(_ flag: String, _ value: String, minimum: Int) throws(InstallError) -> Int {
        guard let n = Int(value), n >= minimum, n <= 86_400 * 365 else {
            throw InstallError(.usage, "\(flag) must be a whole number of seconds ≥ \(minimum), not \"\(value)\"")
        }
        return n
    }

    /// The CNI spec's network name: an alphanumeric, then alphanumerics, '_', '.' or '-'.
    static func networkName(_ value: String) throws(InstallError) -> String {
        let b = Array(value.utf8)
        func alnum(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x41...0x5A).contains(c) || (0x30...0x39).contains(c) }
        guard let first = b.first, alnum(first), b.count <= 253,
              b.allSatisfy({ alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            throw InstallError(.usage, "--network-name: \"\(value)\" is not a valid CNI network name")
        }
        return value
    }

    static func stateDir(_ value: String) throws(InstallError) -> String {
        let path = try nodePath("--state-dir", value)
        do { try SkeinConfig.validateStateDir(path) } catch { throw InstallError(.usage, "--state-dir: \(error.msg)") }
        return path
    }

    static func list(_ flag: String, _ value: String) throws(InstallError) -> [String] {
        let items = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
            throw InstallError(.usage, "\(flag) must be a comma-separated list without empty items")
        }
        return items
    }

    /// A DNS-1123 label, as Kubernetes requires of namespaces.
    static func namespace(_ flag: String, _ value: String) throws(InstallError) -> String {
        guard isDNSLabel(value) else { throw InstallError(.usage, "\(flag): \"\(value)\" is not a valid namespace name") }
        return value
    }

    /// `name` or `namespace/name`, both DNS-1123 labels, as the networks annotation's short form.
    static func networkReference(_ flag: String, _ value: String) throws(InstallError) -> String {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(isDNSLabel) else {
            throw InstallError(.usage, "\(flag): \"\(value)\" is not [namespace/]name")
        }
        return value
    }

    static func isDNSLabel(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard (1...63).contains(b.count), alnum(b[0]), alnum(b[b.count - 1]) else { return false }
        return b.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }
}
