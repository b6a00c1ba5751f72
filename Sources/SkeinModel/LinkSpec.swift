// Desired kernel state of one attachment, as pure data.
//
// The reducer derives it from the request event (names, MACs, addresses all decided there, so replay
// reproduces them); the planner diffs it against what the executor observed in the kernel; the
// executor applies the resulting operations. Desired spec and observed state are separate types
// (see Observation in the reducer target): never one struct that mixes what we ask for with what we see.

public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// "aa:bb:cc:dd:ee:ff" (case-insensitive; '-' accepted as separator too).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let dash = text.split(separator: "-", omittingEmptySubsequences: false)
        let fields = parts.count == 6 ? parts : dash
        guard fields.count == 6 else { return nil }
        var out: [UInt8] = []
        for f in fields {
            guard f.count == 2, let b = UInt8(f, radix: 16) else { return nil }
            out.append(b)
        }
        self.bytes = out
    }

    /// A locally administered unicast MAC derived from a digest, so the same inputs always give the same MAC.
    public static func derived(from digest: [UInt8]) -> MACAddress {
        precondition(digest.count >= 6)
        var b = Array(digest.prefix(6))
        b[0] = (b[0] & 0xFE) | 0x02
        return MACAddress(bytes: b)!
    }

    public var description: String {
        let hex: [Character] = Array("0123456789abcdef")
        return bytes.map { String([hex[Int($0 >> 4)], hex[Int($0 & 15)]]) }.joined(separator: ":")
    }
}

/// Which network namespace a link lives in: the host's (where skein runs) or the container's (CNI_NETNS).
public enum NamespaceRef: String, Hashable, Sendable {
    case host
    case container
}

public struct RouteSpec: Hashable, Sendable {
    public var dst: IPNetwork
    public var gateway: IPAddress?
    public var mtu: UInt32?
    public var priority: UInt32?
    public var table: UInt32?
    public var scope: UInt8?

    public init(dst: IPNetwork, gateway: IPAddress? = nil, mtu: UInt32? = nil, priority: UInt32? = nil,
                table: UInt32? = nil, scope: UInt8? = nil) {
        self.dst = dst
        self.gateway = gateway
        self.mtu = mtu
        self.priority = priority
        self.table = table
        self.scope = scope
    }
}

public enum LinkKind: Hashable, Sendable {
    /// A bridge Skein creates or adopts. It is shared by attachments: teardown never deletes it.
    case bridge
    /// A veth pair: this link is the host end, the peer is created directly inside the container netns.
    case veth(peer: String)
    /// The container end of a veth pair, created together with its host end.
    case vethPeer
}

public struct LinkSpec: Hashable, Sendable {
    public var name: String
    public var namespace: NamespaceRef
    public var kind: LinkKind
    public var mac: MACAddress?
    public var mtu: UInt32?
    /// The bridge this link is a port of (by name, in the same namespace).
    public var master: String?
    public var up: Bool
    public var hairpin: Bool
    public var promisc: Bool
    public var addresses: [IPNetwork]
    public var routes: [RouteSpec]
    /// Replace addresses of the same family that are not in `addresses` (bridge `forceAddress`).
    public var forceAddress: Bool
    /// Shared links (the bridge) are adopted if present and never deleted by one attachment's teardown.
    public var shared: Bool

    public init(name: String, namespace: NamespaceRef, kind: LinkKind, mac: MACAddress? = nil, mtu: UInt32? = nil,
                master: String? = nil, up: Bool = true, hairpin: Bool = false, promisc: Bool = false,
                addresses: [IPNetwork] = [], routes: [RouteSpec] = [], forceAddress: Bool = false,
                shared: Bool = false) {
        self.name = name
        self.namespace = namespace
        self.kind = kind
        self.mac = mac
        self.mtu = mtu
        self.master = master
        self.up = up
        self.hairpin = hairpin
        self.promisc = promisc
        self.addresses = addresses
        self.routes = routes
        self.forceAddress = forceAddress
        self.shared = shared
    }
}

public struct SysctlSpec: Hashable, Sendable {
    /// Relative to /proc/sys, with '/' separators: "net/ipv4/ip_forward".
    public var key: String
    public var value: String
    public var namespace: NamespaceRef

    public init(key: String, value: String, namespace: NamespaceRef) {
        self.key = key
        self.value = value
        self.namespace = namespace
    }
}

/// Everything one attachment needs in the kernel, in creation order.
public struct AttachmentSpec: Hashable, Sendable {
    public var links: [LinkSpec]
    public var sysctls: [SysctlSpec]

    public init(links: [LinkSpec] = [], sysctls: [SysctlSpec] = []) {
        self.links = links
        self.sysctls = sysctls
    }

    public func link(named name: String, in ns: NamespaceRef) -> LinkSpec? {
        links.first { $0.name == name && $0.namespace == ns }
    }
}
