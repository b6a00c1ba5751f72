// The materialized state: three keyed tables, changed row by row in the same transaction as the
// event that causes the change (never a whole-state rewrite). Rows are encoded here, once, so the
// LMDB store and the in-memory replay store hold byte-identical tables and can be compared directly.

public enum AttachmentStatus: String, Sendable {
    /// Request recorded, kernel work may be under way (or was interrupted by a crash).
    case adding
    /// Applied; the CNI result was returned.
    case active
    /// ADD failed and could not release everything: resources are still held until DEL.
    case failed
    /// DEL recorded, teardown under way (or interrupted).
    case deleting
}

public struct HeldAddress: Hashable, Sendable {
    public var address: IPNetwork
    public var gateway: IPAddress?

    public init(address: IPNetwork, gateway: IPAddress?) {
        self.address = address
        self.gateway = gateway
    }
}

public struct AttachmentRecord: Equatable, Sendable {
    public var key: AttachmentKey
    public var network: String
    public var netns: String
    public var pluginType: String
    public var status: AttachmentStatus
    public var pod: PodRef?
    /// The process currently working on this attachment (for crash detection).
    public var process: ProcessRef
    public var spec: AttachmentSpec
    /// Addresses held in the IPAM tables under this attachment: what DEL must release.
    public var addresses: [HeldAddress]
    /// IPAM routes and DNS as the result reports them (not the kernel routes, which are in `spec`).
    public var resultRoutes: [RouteSpec]
    public var dns: JSON?
    /// The CNI result returned by ADD (1.1.0 shape), once applied.
    public var result: JSON?
    public var requestSeq: UInt64
    public var updatedSeq: UInt64
    public var lastError: String?
    /// Plugins of the chain exec'ed from CNI_PATH after the built-in part (configs as sent): DEL
    /// execs them in reverse with the journaled result as prevResult, needing nothing else.
    public var exec: [JSON]
    /// CNI_ARGS of the ADD, handed to exec'ed plugins on DEL, GC and recovery as well.
    public var cniArgs: String?

    public init(key: AttachmentKey, network: String, netns: String, pluginType: String, status: AttachmentStatus,
                pod: PodRef?, process: ProcessRef, spec: AttachmentSpec, addresses: [HeldAddress],
                resultRoutes: [RouteSpec], dns: JSON?, result: JSON?, requestSeq: UInt64, updatedSeq: UInt64,
                lastError: String?, exec: [JSON] = [], cniArgs: String? = nil) {
        self.key = key
        self.network = network
        self.netns = netns
        self.pluginType = pluginType
        self.status = status
        self.pod = pod
        self.process = process
        self.spec = spec
        self.addresses = addresses
        self.resultRoutes = resultRoutes
        self.dns = dns
        self.result = result
        self.requestSeq = requestSeq
        self.updatedSeq = updatedSeq
        self.lastError = lastError
        self.exec = exec
        self.cniArgs = cniArgs
    }
}

public enum StateTable: String, CaseIterable, Sendable {
    case attachments
    case allocations
    case cursors
}

/// One row change. The reducer emits these; stores apply them.
public enum StateChange: Equatable, Sendable {
    case putAttachment(AttachmentRecord)
    case deleteAttachment(AttachmentKey)
    case putAllocation(network: String, ip: IPAddress, holder: AttachmentKey)
    case deleteAllocation(network: String, ip: IPAddress)
    case putCursor(network: String, rangeSet: Int, ip: IPAddress)

    /// (table, key, value); a nil value deletes the row.
    public func encoded() -> (table: StateTable, key: [UInt8], value: [UInt8]?) {
        switch self {
        case .putAttachment(let r):
            return (.attachments, StateKeys.attachment(r.key), r.json.serializedBytes())
        case .deleteAttachment(let k):
            return (.attachments, StateKeys.attachment(k), nil)
        case .putAllocation(let net, let ip, let holder):
            return (.allocations, StateKeys.allocation(network: net, ip: ip), Array(holder.description.utf8))
        case .deleteAllocation(let net, let ip):
            return (.allocations, StateKeys.allocation(network: net, ip: ip), nil)
        case .putCursor(let net, let set, let ip):
            return (.cursors, StateKeys.cursor(network: net, rangeSet: set), Array(ip.description.utf8))
        }
    }
}

public enum StateKeys {
    public static func attachment(_ k: AttachmentKey) -> [UInt8] { Array(k.description.utf8) }

    /// network NUL ip-bytes: keeps a network's allocations together and in address order.
    public static func allocation(network: String, ip: IPAddress) -> [UInt8] {
        Array(network.utf8) + [0] + ip.bytes
    }

    public static func allocationPrefix(network: String) -> [UInt8] { Array(network.utf8) + [0] }

    public static func decodeAllocation(_ key: [UInt8]) -> (network: String, ip: IPAddress)? {
        guard let nul = key.firstIndex(of: 0), let ip = IPAddress(bytes: Array(key[(nul + 1)...])) else { return nil }
        return (String(decoding: key[..<nul], as: UTF8.self), ip)
    }

    public static func cursor(network: String, rangeSet: Int) -> [UInt8] {
        Array(network.utf8) + [0] + Array(String(rangeSet).utf8)
    }
}

/// Read access to the materialized state, as the reducer needs it.
public protocol StateReader {
    func row(_ table: StateTable, _ key: [UInt8]) -> [UInt8]?
    /// The attachment row, decoded. A requirement (with the decoding default below) so that a store
    /// that already holds records decoded can answer without parsing JSON: see MemoryState.
    func attachment(_ key: AttachmentKey) throws(DecodeError) -> AttachmentRecord?
}

extension StateReader {
    public func attachment(_ key: AttachmentKey) throws(DecodeError) -> AttachmentRecord? {
        guard let bytes = row(.attachments, StateKeys.attachment(key)) else { return nil }
        return try AttachmentRecord.decode(bytes)
    }

    public func allocationHolder(network: String, ip: IPAddress) -> AttachmentKey? {
        guard let v = row(.allocations, StateKeys.allocation(network: network, ip: ip)) else { return nil }
        return AttachmentKey(encoded: String(decoding: v, as: UTF8.self))
    }

    public func cursor(network: String, rangeSet: Int) -> IPAddress? {
        guard let v = row(.cursors, StateKeys.cursor(network: network, rangeSet: rangeSet)) else { return nil }
        return IPAddress(String(decoding: v, as: UTF8.self))
    }
}

/// The state as plain dictionaries: replay target, and the reducer's store in tests.
///
/// Replay reads an attachment row for nearly every event; decoding it from JSON each time was
/// most of a replay's cost. The records `apply` stores are also kept decoded, and answer
/// `attachment(_:)` until the tables are changed from outside (which drops them all).
public struct MemoryState: StateReader, Equatable, Sendable {
    private var storage: [StateTable: [[UInt8]: [UInt8]]]
    private var decoded: [AttachmentKey: AttachmentRecord] = [:]

    public var tables: [StateTable: [[UInt8]: [UInt8]]] {
        get { storage }
        _modify {
            decoded.removeAll()
            yield &storage
        }
        set {
            decoded.removeAll()
            storage = newValue
        }
    }

    public init() {
        storage = [:]
        for t in StateTable.allCases { storage[t] = [:] }
    }

    public static func == (a: MemoryState, b: MemoryState) -> Bool { a.storage == b.storage }

    public func row(_ table: StateTable, _ key: [UInt8]) -> [UInt8]? { storage[table]?[key] }

    public func attachment(_ key: AttachmentKey) throws(DecodeError) -> AttachmentRecord? {
        if let record = decoded[key] { return record }
        guard let bytes = row(.attachments, StateKeys.attachment(key)) else { return nil }
        return try AttachmentRecord.decode(bytes)
    }

    public mutating func apply(_ changes: [StateChange]) {
        for c in changes {
            switch c {
            case .putAttachment(let record): decoded[record.key] = record
            case .deleteAttachment(let key): decoded[key] = nil
            default: break
            }
            let (t, k, v) = c.encoded()
            storage[t]![k] = v
        }
    }

    public var attachmentRecords: [AttachmentRecord] {
        tables[.attachments]!.values.compactMap { try? AttachmentRecord.decode($0) }.sorted { $0.key < $1.key }
    }
}
