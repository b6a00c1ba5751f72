import SkeinJournal
import SkeinModel

// What the meta-plugin records about one attachment in its addRequested (`facts`), beside the kernel
// facts the reducer reads: which skein config and which ADD made it, which network it is, and its
// default-route decision. DEL, CHECK and GC read it back from that event; the attachment row keeps
// only what the reducer put there, so an event removed by retention reads as "unknown" (nil), and
// each reader says what it does then.
struct MetaFacts: Equatable {
    /// The `name` of the skein config that made it (GC only collects its own config's attachments).
    var skeinNetwork: String
    /// CNI_IFNAME of the ADD that made it: the runtime's handle on the whole pod (DEL and CHECK
    /// of that interface reach every attachment it made).
    var cniIfname: String
    /// "namespace/name" of the NAD, or the CNI network name of the cluster network or a delegate.
    var nad: String
    var isDefault: Bool
    var dropDefaultRoute: Bool
    var defaultGateways: [IPAddress]

    var json: JSONObject {
        var o = JSONObject([("skeinNetwork", .string(skeinNetwork)), ("cniIfname", .string(cniIfname)), ("nad", .string(nad))])
        if isDefault { o["isDefault"] = .bool(true) }
        if dropDefaultRoute { o["dropDefaultRoute"] = .bool(true) }
        if !defaultGateways.isEmpty { o["defaultGateways"] = .array(defaultGateways.map { .string($0.description) }) }
        return o
    }

    init(skeinNetwork: String, cniIfname: String, nad: String, isDefault: Bool, dropDefaultRoute: Bool,
         defaultGateways: [IPAddress]) {
        self.skeinNetwork = skeinNetwork; self.cniIfname = cniIfname; self.nad = nad; self.isDefault = isDefault
        self.dropDefaultRoute = dropDefaultRoute; self.defaultGateways = defaultGateways
    }

    /// From an addRequested's facts; nil when it carries none (written before the meta-plugin).
    init?(facts: JSON?) {
        guard let f = facts, let owner = f["skeinNetwork"]?.string, let ifname = f["cniIfname"]?.string else { return nil }
        skeinNetwork = owner
        cniIfname = ifname
        nad = f["nad"]?.string ?? ""
        isDefault = f["isDefault"]?.bool ?? false
        dropDefaultRoute = f["dropDefaultRoute"]?.bool ?? false
        defaultGateways = (f["defaultGateways"]?.array ?? []).compactMap { $0.string.flatMap(IPAddress.init) }
    }

    /// Where each of `records` came from, by requestSeq, read from its addRequested.
    static func read(_ journal: Journal, _ records: [AttachmentRecord]) throws(CNIError) -> [UInt64: Origin] {
        guard !records.isEmpty else { return [:] }
        do {
            return try journal.read { r in
                var out: [UInt64: Origin] = [:]
                for seq in Set(records.map(\.requestSeq)) {
                    out[seq] = .unknown
                    try r.forEachEvent(from: seq) { s, bytes in
                        guard s == seq, case .addRequested(let req) = try EventRecord.decode(Array(bytes)).event else { return false }
                        out[seq] = MetaFacts(facts: req.facts).map(Origin.meta) ?? .single
                        return false
                    }
                }
                return out
            }
        } catch {
            throw journalError(error)
        }
    }
}

/// Who made an attachment, as far as the journal still knows.
enum Origin: Equatable {
    /// A meta ADD, with what it recorded.
    case meta(MetaFacts)
    /// A request without meta facts: an ADD of one delegate by an earlier skein.
    case single
    /// The request event is gone (retention removed it).
    case unknown

    var facts: MetaFacts? {
        if case .meta(let f) = self { return f }
        return nil
    }
}

extension Context {
    /// The attachments of this container that this invocation's DEL or CHECK reaches, in ADD order:
    /// the one under (CNI_CONTAINERID, CNI_IFNAME) and every one its ADD made. Another config's
    /// ADD into the same container (podman's second network: another CNI_IFNAME) is left alone.
    /// One whose request event retention removed is included: leaking its addresses would be
    /// worse than DELing it a little early (its container is being torn down).
    /// Without `facts`, a container holding nothing but CNI_IFNAME (the usual single delegate)
    /// costs no event read.
    func containerAttachments(_ journal: Journal, facts: Bool = false) throws(CNIError) -> [(record: AttachmentRecord, origin: Origin)] {
        let rows: [AttachmentRecord]
        do { rows = try journal.read { try $0.attachments(containerID: key.containerID) } } catch { throw journalError(error) }
        if !facts && rows.allSatisfy({ $0.key == key }) { return rows.map { ($0, Origin.unknown) } }
        let origins = try MetaFacts.read(journal, rows)
        return rows.compactMap { rec -> (record: AttachmentRecord, origin: Origin)? in
            let origin = origins[rec.requestSeq] ?? .unknown
            let reached: Bool
            switch origin {
            case .meta(let f): reached = rec.key == key || f.cniIfname == key.ifname
            case .single: reached = rec.key == key
            case .unknown: reached = true
            }
            return reached ? (rec, origin) : nil
        }.sorted { $0.record.requestSeq < $1.record.requestSeq }
    }
}
