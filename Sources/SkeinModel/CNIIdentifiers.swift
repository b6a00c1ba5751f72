// Small validated identifiers from the CNI environment, checked once at the edge.
// Rules and codes follow the reference `pkg/utils` (ValidateContainerID / ValidateInterfaceName /
// ValidateNetworkName).

public enum CNICommand: String, CaseIterable, Sendable {
    case add = "ADD"
    case del = "DEL"
    case check = "CHECK"
    case status = "STATUS"
    case version = "VERSION"
    case gc = "GC"
}

enum CNIName {
    /// Container IDs and network names become parts of journal keys (LMDB keys are at most 511
    /// bytes); Kubernetes container IDs are 64 hex digits. Longer is refused at the edge.
    static let maxBytes = 253

    /// `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`: shared by container IDs and network names. Excluding '/'
    /// keeps both safe as file-name components; the leading alphanumeric rules out "..".
    static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, isAlnum(first) else { return false }
        return u.dropFirst().allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    /// Network names in configs: code 7, as the reference skel's validateConfig.
    static func validateNetworkName(_ name: String, key: String = "name") throws(CNIError) {
        guard !name.isEmpty else { throw .invalidConfig("missing network name", details: key) }
        guard isValid(name) else { throw .invalidConfig("invalid characters found in network name", details: "\(key): \(name)") }
        guard name.utf8.count <= maxBytes else { throw .invalidConfig("network name longer than \(maxBytes) bytes", details: key) }
    }
}

public struct ContainerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: String

    /// Empty → code 3 and bad characters → code 4, as the reference `ValidateContainerID`.
    public init(validating value: String) throws(CNIError) {
        guard !value.isEmpty else { throw .unknownContainer("missing containerID") }
        guard CNIName.isValid(value) else { throw .invalidEnvironment("invalid characters in containerID", details: value) }
        guard value.utf8.count <= CNIName.maxBytes else {
            throw .invalidEnvironment("containerID longer than \(CNIName.maxBytes) bytes")
        }
        self.value = value
    }

    public init?(_ value: String) {
        guard let v = try? ContainerID(validating: value) else { return nil }
        self = v
    }

    public var description: String { value }
    public static func < (a: ContainerID, b: ContainerID) -> Bool { a.value < b.value }
}

public struct InterfaceName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: String
    /// IFNAMSIZ is 16 including the terminating NUL.
    public static let maxBytes = 15

    /// The kernel's dev_valid_name rules; every violation is code 4, as the reference
    /// `ValidateInterfaceName`. Length is in bytes: the kernel's limit is a byte buffer.
    public init(validating value: String) throws(CNIError) {
        guard !value.isEmpty else { throw .invalidEnvironment("interface name is empty") }
        guard value.utf8.count <= InterfaceName.maxBytes else {
            throw .invalidEnvironment("interface name is too long",
                                      details: "interface name should be less than \(InterfaceName.maxBytes + 1) characters")
        }
        guard value != ".", value != ".." else { throw .invalidEnvironment("interface name is . or ..") }
        for ch in value.unicodeScalars where ch == "/" || ch == ":" || ch == "\0" || ch.properties.isWhitespace {
            throw .invalidEnvironment("interface name contains / or : or whitespace characters", details: value)
        }
        self.value = value
    }

    public init?(_ value: String) {
        guard let v = try? InterfaceName(validating: value) else { return nil }
        self = v
    }

    public var description: String { value }
    public static func < (a: InterfaceName, b: InterfaceName) -> Bool { a.value < b.value }
}
