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
    /// Preferred source address (RTA_PREFSRC), as ptp sets on its container routes.
    public var src: IPAddress?

    public init(dst: IPNetwork, gateway: IPAddress? = nil, mtu: UInt32? = nil, priority: UInt32? = nil,
                table: UInt32? = nil, scope: UInt8? = nil, src: IPAddress? = nil) {
        self.dst = dst
        self.gateway = gateway
        self.mtu = mtu
        self.priority = priority
        self.table = table
        self.scope = scope
        self.src = src
    }
}

/// The lower device of a macvlan, ipvlan or vlan link, and the namespace it lives in (the host's,
/// or the container's with `linkInContainer`).
public struct ParentRef: Hashable, Sendable {
    public var name: String
    public var namespace: NamespaceRef
    public init(name: String, namespace: NamespaceRef) {
        self.name = name
        self.namespace = namespace
    }
}

/// Where a host-device came from, observed before the ADD touched it and recorded in the request:
/// DEL puts the device back exactly so (name, MAC, MTU, and the flags and queue length tuning
/// changed), also when the netns is gone. The ifindex identifies the device wherever it is: a
/// move keeps it unless the target namespace already uses that number.
public struct HostDeviceOrigin: Hashable, Sendable {
    public var name: String
    public var index: Int32
    public var mac: MACAddress?
    public var mtu: UInt32
    /// IFF_PROMISC and IFF_ALLMULTI as the user had set them (false in requests recorded before
    /// they were observed, when tuning could not change them on a host-device).
    public var promisc: Bool
    public var allmulti: Bool
    /// Transmit queue length; nil when not observed (older requests).
    public var txQLen: UInt32?

    public init(name: String, index: Int32, mac: MACAddress?, mtu: UInt32, promisc: Bool = false,
                allmulti: Bool = false, txQLen: UInt32? = nil) {
        self.name = name
        self.index = index
        self.mac = mac
        self.mtu = mtu
        self.promisc = promisc
        self.allmulti = allmulti
        self.txQLen = txQLen
    }
}

public enum LinkKind: Hashable, Sendable {
    /// A bridge Skein creates or adopts. It is shared by attachments: teardown never deletes it.
    case bridge
    /// A veth pair: this link is the host end, the peer is created directly inside the container netns.
    case veth(peer: String)
    /// The container end of a veth pair, created together with its host end.
    case vethPeer
    /// A macvlan on `parent`, created directly in this link's namespace. mode: bridge, private, vepa, passthru.
    case macvlan(parent: ParentRef, mode: String)
    /// An ipvlan on `parent`, created directly in this link's namespace. mode: l2, l3, l3s.
    case ipvlan(parent: ParentRef, mode: String)
    /// An 802.1q vlan on `parent`, created directly in this link's namespace.
    case vlan(parent: ParentRef, id: Int)
    /// An existing device moved from the host into the container under this spec's name; teardown
    /// restores what the attachment changed (MAC, MTU, tuned flags) and moves it home under its
    /// original name.
    case hostDevice(HostDeviceOrigin)
    /// The container's `lo`: brought up, never created or deleted.
    case loopback
    /// An interface an earlier plugin of the chain made (tuning over a plugin exec'ed before it):
    /// adjusted, never created or deleted.
    case existing

    /// Links the attachment creates and its teardown deletes (the bridge is created but shared).
    public var isCreated: Bool {
        switch self {
        case .bridge, .veth, .vethPeer, .macvlan, .ipvlan, .vlan: return true
        case .hostDevice, .loopback, .existing: return false
        }
    }
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
    /// IFF_ALLMULTICAST wanted on (true) or off (false); nil leaves it as it is (tuning `allmulti`).
    public var allmulti: Bool?
    /// Transmit queue length (tuning `txQLen`); nil leaves it as it is.
    public var txQLen: UInt32?
    /// Addresses are added with IFA_F_NOPREFIXROUTE: no automatic subnet route (ptp routes via its gateway).
    public var noPrefixRoute: Bool

    public init(name: String, namespace: NamespaceRef, kind: LinkKind, mac: MACAddress? = nil, mtu: UInt32? = nil,
                master: String? = nil, up: Bool = true, hairpin: Bool = false, promisc: Bool = false,
                addresses: [IPNetwork] = [], routes: [RouteSpec] = [], forceAddress: Bool = false,
                shared: Bool = false, allmulti: Bool? = nil, txQLen: UInt32? = nil, noPrefixRoute: Bool = false) {
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
        self.allmulti = allmulti
        self.txQLen = txQLen
        self.noPrefixRoute = noPrefixRoute
    }
}

extension LinkSpec {
    /// The namespace of a macvlan/ipvlan/vlan link's parent; nil for other kinds.
    public var parentNamespace: NamespaceRef? {
        switch kind {
        case .macvlan(let p, _), .ipvlan(let p, _), .vlan(let p, _): return p.namespace
        default: return nil
        }
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
