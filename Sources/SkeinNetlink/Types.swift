import CNetlink
import Glibc

public enum AddressFamily: Sendable, Equatable {
    case v4, v6

    var af: Int32 { self == .v4 ? AF_INET : AF_INET6 }
    var byteCount: Int { self == .v4 ? 4 : 16 }
    var maxPrefix: UInt8 { self == .v4 ? 32 : 128 }

    init?(af: Int32) {
        switch af {
        case AF_INET: self = .v4
        case AF_INET6: self = .v6
        default: return nil
        }
    }
}

public struct Link: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var mac: [UInt8]
    public var mtu: UInt32
    /// IFF_UP (administrative state, not carrier).
    public var isUp: Bool
    /// IFLA_INFO_KIND: "bridge", "veth", ...; nil for physical devices and lo.
    public var kind: String?
    public var masterIndex: Int32?
    public var promisc: Bool
    /// IFLA_LINK: for a veth, its peer's ifindex (in the peer's namespace); for a macvlan,
    /// ipvlan or vlan, its parent's (lower device's) ifindex, in the parent's namespace.
    public var linkIndex: Int32?
    /// IFF_ALLMULTI.
    public var allmulti: Bool
    /// IFLA_TXQLEN.
    public var txQLen: UInt32

    public init(index: Int32, name: String, mac: [UInt8], mtu: UInt32, isUp: Bool,
                kind: String?, masterIndex: Int32?, promisc: Bool, linkIndex: Int32? = nil,
                allmulti: Bool = false, txQLen: UInt32 = 0) {
        self.index = index
        self.name = name
        self.mac = mac
        self.mtu = mtu
        self.isUp = isUp
        self.kind = kind
        self.masterIndex = masterIndex
        self.promisc = promisc
        self.linkIndex = linkIndex
        self.allmulti = allmulti
        self.txQLen = txQLen
    }

    /// The parent of a macvlan, ipvlan or vlan link (same attribute as a veth's peer).
    public var parentIndex: Int32? { linkIndex }
}

/// macvlan modes as `ip link add ... type macvlan mode X` names them.
public enum MacvlanMode: String, Sendable, CaseIterable {
    case `private`, vepa, bridge, passthru

    var kernelValue: UInt32 {
        switch self {
        case .private: return UInt32(MACVLAN_MODE_PRIVATE.rawValue)
        case .vepa: return UInt32(MACVLAN_MODE_VEPA.rawValue)
        case .bridge: return UInt32(MACVLAN_MODE_BRIDGE.rawValue)
        case .passthru: return UInt32(MACVLAN_MODE_PASSTHRU.rawValue)
        }
    }
}

/// ipvlan modes as `ip link add ... type ipvlan mode X` names them.
public enum IpvlanMode: String, Sendable, CaseIterable {
    case l2, l3, l3s

    var kernelValue: UInt16 {
        switch self {
        case .l2: return UInt16(IPVLAN_MODE_L2.rawValue)
        case .l3: return UInt16(IPVLAN_MODE_L3.rawValue)
        case .l3s: return UInt16(IPVLAN_MODE_L3S.rawValue)
        }
    }
}

public struct Address: Sendable, Equatable {
    public var family: AddressFamily
    public var bytes: [UInt8]
    public var prefixLength: UInt8

    public init(family: AddressFamily, bytes: [UInt8], prefixLength: UInt8) {
        self.family = family
        self.bytes = bytes
        self.prefixLength = prefixLength
    }
}

public struct RouteSpec: Sendable, Equatable {
    public var family: AddressFamily
    /// Canonical default route: `dst == []` and `dstPrefixLength == 0` (the initializer
    /// folds an all-zero dst with prefix 0 into this, so specs compare equal).
    public var dst: [UInt8]
    public var dstPrefixLength: UInt8
    public var gateway: [UInt8]?
    public var oif: Int32?
    /// nil = main table (254).
    public var table: UInt32?
    public var priority: UInt32?
    public var scope: UInt8?
    public var mtu: UInt32?
    /// RTA_PREFSRC: the source address the kernel picks for traffic along this route.
    public var prefsrc: [UInt8]?

    public init(family: AddressFamily, dst: [UInt8] = [], dstPrefixLength: UInt8 = 0,
                gateway: [UInt8]? = nil, oif: Int32? = nil, table: UInt32? = nil,
                priority: UInt32? = nil, scope: UInt8? = nil, mtu: UInt32? = nil, prefsrc: [UInt8]? = nil) {
        self.family = family
        self.dst = (dstPrefixLength == 0 && dst.allSatisfy { $0 == 0 }) ? [] : dst
        self.dstPrefixLength = dstPrefixLength
        self.gateway = gateway
        self.oif = oif
        self.table = table
        self.priority = priority
        self.scope = scope
        self.mtu = mtu
        self.prefsrc = prefsrc
    }

    public var isDefault: Bool { dstPrefixLength == 0 && dst.allSatisfy { $0 == 0 } }
}
