// What the executor saw in the kernel, as plain data. Kept apart from LinkSpec on purpose: the
// spec is what we ask for, this is what is there, and the planner is the only place they meet.

import SkeinModel

public struct ObservedLink: Equatable, Sendable {
    public var name: String
    public var namespace: NamespaceRef
    public var index: Int32
    public var mac: MACAddress?
    public var mtu: UInt32
    /// The administrative IFF_UP flag (a veth whose peer is down is still "up" here).
    public var up: Bool
    /// IFLA_INFO_KIND ("bridge", "veth"), nil for links without one (physical devices).
    public var kind: String?
    public var masterName: String?
    public var promisc: Bool
    public var addresses: [IPNetwork]
    /// Bridge-port hairpin flag, nil when the executor could not read it: the planner then sets
    /// hairpin only where it knows the port is new (just created or just enslaved).
    public var hairpin: Bool?
    /// A veth's IFLA_LINK: the peer's ifindex inside the peer's namespace, nil when unknown.
    /// Lets the planner tell our pair from a foreign link that merely has the right name.
    public var peerIndex: Int32?
    /// IFF_ALLMULTICAST and the transmit queue length, nil when not read.
    public var allmulti: Bool?
    public var txQLen: UInt32?

    public init(name: String, namespace: NamespaceRef, index: Int32, mac: MACAddress? = nil, mtu: UInt32 = 1500,
                up: Bool = false, kind: String? = nil, masterName: String? = nil, promisc: Bool = false,
                addresses: [IPNetwork] = [], hairpin: Bool? = nil, peerIndex: Int32? = nil,
                allmulti: Bool? = nil, txQLen: UInt32? = nil) {
        self.name = name
        self.namespace = namespace
        self.index = index
        self.mac = mac
        self.mtu = mtu
        self.up = up
        self.kind = kind
        self.masterName = masterName
        self.promisc = promisc
        self.addresses = addresses
        self.hairpin = hairpin
        self.peerIndex = peerIndex
        self.allmulti = allmulti
        self.txQLen = txQLen
    }
}

public struct Observation: Equatable, Sendable {
    /// Only the links the spec names that exist (absent = not there), each in its namespace. For
    /// a host-device spec also, as far as they exist: the container link named after the origin
    /// (an ADD interrupted between move and rename leaves it so), and in the host the link with
    /// the origin's ifindex (whatever its name: a dying netns hands devices back renamed when their
    /// name is taken) and the one named like the origin. Teardown needs the same, plus the
    /// container links of macvlan/ipvlan/vlan and lo specs.
    public var links: [ObservedLink]
    public var containerNamespaceExists: Bool
    /// Routes whose output interface is one of the spec's container links.
    public var containerRoutes: [RouteSpec]
    /// Routes whose output interface is one of the spec's host links (only observed for links with routes).
    public var hostRoutes: [RouteSpec]
    /// Current values of the spec's sysctls that could be read (values trimmed of whitespace).
    public var sysctls: [SysctlSpec]
    /// Destinations (of the spec's routes) that the namespace already routes through some other
    /// device. As in the reference plugins, "the first one wins": such a route of ours is not
    /// added beside it, and its absence is no drift.
    public var routedElsewhere: [NamespaceRef: [IPNetwork]] = [:]

    public init(links: [ObservedLink] = [], containerNamespaceExists: Bool = true, containerRoutes: [RouteSpec] = [],
                hostRoutes: [RouteSpec] = [], sysctls: [SysctlSpec] = []) {
        self.links = links
        self.containerNamespaceExists = containerNamespaceExists
        self.containerRoutes = containerRoutes
        self.hostRoutes = hostRoutes
        self.sysctls = sysctls
    }

    public func link(named name: String, in ns: NamespaceRef) -> ObservedLink? {
        if ns == .container && !containerNamespaceExists { return nil }
        return links.first { $0.name == name && $0.namespace == ns }
    }

    func routes(in ns: NamespaceRef) -> [RouteSpec] {
        ns == .container ? containerRoutes : hostRoutes
    }

    func sysctlValue(_ spec: SysctlSpec) -> String? {
        sysctls.first { $0.key == spec.key && $0.namespace == spec.namespace }?.value
    }
}

/// The planner's one error type: the desired state cannot be reached without touching something
/// that is not ours. The CLI edge maps it to a CNI error; the kinds never change meaning.
public struct PlanError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// A link of the bridge's name exists and is not a bridge.
        case notABridge
        /// The bridge holds a different address in the gateway's subnet and forceAddress is off.
        case addressConflict
        /// The container interface (or the host veth name) exists and is not our veth pair.
        case interfaceExists
        /// The spec needs the container namespace and it is gone.
        case namespaceMissing
        /// A device the spec adjusts but never creates is nowhere: a host-device neither in the
        /// host nor in the container, a container without lo.
        case deviceMissing
        /// The spec itself is malformed (a veth without its peer spec): a programmer error upstream,
        /// but one a journal replay can carry, so it is thrown rather than trapped.
        case invalidSpec
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
