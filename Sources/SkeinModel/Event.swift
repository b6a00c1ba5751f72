// Journal events: past-tense facts. Everything a decision depends on — time, the requesting
// process, the plugin config, delegate results, kernel facts — enters as event data, so that
// replaying the journal reproduces the materialized state bit for bit.

public struct AttachmentKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let containerID: String
    public let ifname: String

    public init(containerID: String, ifname: String) {
        self.containerID = containerID
        self.ifname = ifname
    }

    /// "cid/ifname": neither part may contain '/', so the encoding is unambiguous.
    public var description: String { containerID + "/" + ifname }

    public init?(encoded: String) {
        guard let slash = encoded.firstIndex(of: "/") else { return nil }
        containerID = String(encoded[..<slash])
        ifname = String(encoded[encoded.index(after: slash)...])
    }

    public static func < (a: AttachmentKey, b: AttachmentKey) -> Bool { a.description < b.description }
}

/// The Kubernetes pod an attachment belongs to, from CNI_ARGS (absent outside Kubernetes).
public struct PodRef: Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var uid: String?

    public init(namespace: String, name: String, uid: String?) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}

/// The process that requested an operation: how recovery tells a crashed operation from one that is
/// still running in another process (the pid alone can be reused; its start time cannot).
public struct ProcessRef: Hashable, Sendable {
    public var pid: Int32
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }
}

public enum EventCause: String, Sendable {
    case request      // the runtime asked (ADD/DEL)
    case rollback     // an ADD failed part-way and undid itself
    case recovery     // a later operation found this one interrupted by a crash
    case gc           // GC found the attachment outside the valid set
}

/// What the reducer decided for an ADD request: recorded in the request event itself, so that a
/// replay applies the decision instead of re-deciding it — a later build with a different
/// allocator, name derivation or config rule still replays old journals bit for bit.
public struct AddDecision: Equatable, Sendable {
    public var pluginType: String
    public var spec: AttachmentSpec
    public var addresses: [HeldAddress]
    /// New host-local cursor per range set.
    public var cursors: [Int: IPAddress]
    public var resultRoutes: [RouteSpec]
    public var dns: JSON?
    /// Whether `addresses` are held in the allocation tables (host-local) or only reported (static
    /// IPAM, addresses taken from prevResult): only held ones are checked for conflicts and released.
    public var holdsAddresses: Bool
    /// The chain's plugins from the first one exec'ed from CNI_PATH on (configs as they will be sent).
    /// Everything before it is built in and described by `spec`.
    public var exec: [JSON]

    public init(pluginType: String, spec: AttachmentSpec, addresses: [HeldAddress], cursors: [Int: IPAddress],
                resultRoutes: [RouteSpec], dns: JSON?, holdsAddresses: Bool = true, exec: [JSON] = []) {
        self.pluginType = pluginType
        self.spec = spec
        self.addresses = addresses
        self.cursors = cursors
        self.resultRoutes = resultRoutes
        self.dns = dns
        self.holdsAddresses = holdsAddresses
        self.exec = exec
    }
}

/// A request the reducer refused (bad config, pool exhausted, already attached), with its CNI code.
public struct Refusal: Equatable, Sendable {
    public var code: Int
    public var message: String
    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }
}

public struct AddRequested: Equatable, Sendable {
    public var key: AttachmentKey
    public var network: String
    public var netns: String
    public var pod: PodRef?
    public var process: ProcessRef
    /// The delegate plugin config, exactly as the plugin sees it (name and cniVersion injected);
    /// for a conflist, its first plugin.
    public var plugin: JSON
    /// A conflist's plugins after the first, in order (empty for a single plugin).
    public var chained: [JSON]
    public var requestedIPs: [IPAddress]
    /// CNI_ARGS MAC=, the lowest-precedence source of the container MAC (as in the reference).
    public var cniArgsMAC: String?
    /// The whole CNI_ARGS string, for plugins exec'ed from CNI_PATH (now and on DEL).
    public var cniArgs: String?
    /// Plugin types the config forces to be exec'ed from CNI_PATH instead of run built in.
    public var execTypes: [String]
    /// Kernel facts the decision depends on, observed by the engine before the request was
    /// journaled (the default route's interface, a host-device's name, index, MAC and MTU).
    public var facts: JSON?
    /// Filled by the journal when it appends the event (see AddDecision); exactly one is set in a
    /// stored event.
    public var decision: AddDecision?
    public var refusal: Refusal?

    public init(key: AttachmentKey, network: String, netns: String, pod: PodRef?, process: ProcessRef,
                plugin: JSON, requestedIPs: [IPAddress], cniArgsMAC: String? = nil, chained: [JSON] = [],
                cniArgs: String? = nil, execTypes: [String] = [], facts: JSON? = nil) {
        self.key = key
        self.network = network
        self.netns = netns
        self.pod = pod
        self.process = process
        self.plugin = plugin
        self.requestedIPs = requestedIPs
        self.cniArgsMAC = cniArgsMAC
        self.chained = chained
        self.cniArgs = cniArgs
        self.execTypes = execTypes
        self.facts = facts
    }

    /// The whole chain, first plugin included.
    public var plugins: [JSON] { [plugin] + chained }
}

public struct Outcome: Equatable, Sendable {
    public var key: AttachmentKey
    /// For ADD outcomes: the seq of the addRequested this answers. An outcome for another request
    /// (a refused duplicate ADD, say) must never touch the attachment row of this one.
    public var requestSeq: UInt64?
    public var cause: EventCause
    /// CNI error code and message, for failures.
    public var code: Int?
    public var message: String?
    /// For addFailed: whether every kernel object and address of the attachment was released.
    public var released: Bool
    /// For addApplied: the CNI result (1.1.0 shape) that was returned.
    public var result: JSON?
    /// Milliseconds from the request event to this outcome, for people reading the history.
    public var durationMs: Int?

    public init(key: AttachmentKey, requestSeq: UInt64? = nil, cause: EventCause = .request, code: Int? = nil,
                message: String? = nil, released: Bool = false, result: JSON? = nil, durationMs: Int? = nil) {
        self.key = key
        self.requestSeq = requestSeq
        self.cause = cause
        self.code = code
        self.message = message
        self.released = released
        self.result = result
        self.durationMs = durationMs
    }
}

public struct DelRequested: Equatable, Sendable {
    public var key: AttachmentKey
    public var cause: EventCause
    public var process: ProcessRef

    public init(key: AttachmentKey, cause: EventCause, process: ProcessRef) {
        self.key = key
        self.cause = cause
        self.process = process
    }
}

public struct GCRequested: Equatable, Sendable {
    public var valid: [AttachmentKey]
    public var stale: [AttachmentKey]

    public init(valid: [AttachmentKey], stale: [AttachmentKey]) {
        self.valid = valid
        self.stale = stale
    }
}

/// The journal took a snapshot of the state tables (as they stand after the previous event): the
/// digest, being in the hash chain, vouches for the stored copy (see Journal retention).
public struct SnapshotTaken: Equatable, Sendable {
    public var digest: String
    public var rows: Int
    public init(digest: String, rows: Int) {
        self.digest = digest
        self.rows = rows
    }
}

/// Events before `snapshot` were removed under the retention policy; replay starts at that snapshot.
public struct EventsPruned: Equatable, Sendable {
    public var snapshot: UInt64
    public var count: Int
    public init(snapshot: UInt64, count: Int) {
        self.snapshot = snapshot
        self.count = count
    }
}

public enum Event: Equatable, Sendable {
    case snapshotTaken(SnapshotTaken)
    case eventsPruned(EventsPruned)
    case addRequested(AddRequested)
    case addApplied(Outcome)
    case addFailed(Outcome)
    case delRequested(DelRequested)
    case delApplied(Outcome)
    case delFailed(Outcome)
    case gcRequested(GCRequested)

    public var typeName: String {
        switch self {
        case .addRequested: return "addRequested"
        case .addApplied: return "addApplied"
        case .addFailed: return "addFailed"
        case .delRequested: return "delRequested"
        case .delApplied: return "delApplied"
        case .delFailed: return "delFailed"
        case .gcRequested: return "gcRequested"
        case .snapshotTaken: return "snapshotTaken"
        case .eventsPruned: return "eventsPruned"
        }
    }

    public var key: AttachmentKey? {
        switch self {
        case .addRequested(let r): return r.key
        case .addApplied(let o), .addFailed(let o), .delApplied(let o), .delFailed(let o): return o.key
        case .delRequested(let d): return d.key
        case .gcRequested, .snapshotTaken, .eventsPruned: return nil
        }
    }
}

/// One journal record: the event plus its envelope. The record's hash is SHA-256 over its encoded
/// bytes, and each record carries the hash of the one before it: changing or dropping any record
/// breaks the chain at the next one (and the journal's head pointer catches the last).
public struct EventRecord: Equatable, Sendable {
    public static let schemaVersion = 1

    public var seq: UInt64
    public var schema: Int
    /// Nanoseconds since the Unix epoch (CLOCK_REALTIME), recorded by the engine.
    public var timeNs: Int64
    /// Lowercase hex SHA-256 of the previous record's bytes; 64 zeros for the first record.
    public var prev: String
    public var event: Event

    public init(seq: UInt64, schema: Int = EventRecord.schemaVersion, timeNs: Int64, prev: String, event: Event) {
        self.seq = seq
        self.schema = schema
        self.timeNs = timeNs
        self.prev = prev
        self.event = event
    }

    public static let genesisHash = String(repeating: "0", count: 64)
}
