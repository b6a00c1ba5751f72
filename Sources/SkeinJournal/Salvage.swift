import SkeinModel

// What can still be read from a damaged journal, through one of its meta pages and without
// liblmdb (RawStore): the events in key order around damaged pages, the stored snapshots, the
// head and the live state tables. verify uses it to name the first bad event when the file's
// structure is damaged; recover rebuilds from it.

public struct SalvageSource {
    public let store: RawStore
    public let databases: [String: RawDB]
    /// Damage met reading the main database (the list of databases).
    public let damage: [RawDamage]
    /// Set when the events tree is damaged or missing: each event's leaf page, found by scanning
    /// the file (RawStore.eventLeaves); the events are then read from there.
    private(set) var orphans: [UInt64: UInt64]?

    public init(store: RawStore) {
        self.store = store
        (databases, damage) = store.namedDatabases()
    }

    /// Every entry of a named database; a missing database reads as empty.
    func entries(_ name: String, _ visit: ([UInt8], [UInt8]) -> Bool) -> [RawDamage] {
        guard let db = databases[name] else { return [] }
        return store.walk(name, db, visit)
    }

    /// Walks the events tree once (values unread where possible); when it is damaged or missing,
    /// indexes the events on the file's leaf pages instead. Returns the tree's damage.
    public mutating func prepareEvents() -> [RawDamage] {
        let damage = entries("events") { _, _ in true }
        if !damage.isEmpty || databases["events"] == nil { orphans = store.eventLeaves() }
        return damage
    }

    /// The events in key order (seq from the 8-byte key); `visit` returns false to stop.
    public func forEachEvent(_ visit: (UInt64, [UInt8]) -> Bool) -> [RawDamage] {
        guard let orphans else {
            return entries("events") { key, value in
                guard let seq = BigEndian.uint64(key) else { return true }
                return visit(seq, value)
            }
        }
        for seq in orphans.keys.sorted() {
            guard let page = orphans[seq], let record = store.eventLeaf(page)?.first(where: { $0.seq == seq })?.record else { continue }
            guard visit(seq, record) else { break }
        }
        return []
    }

    /// The head as meta/head records it; nil when absent or unreadable.
    public func head() -> JournalHead? {
        var head: JournalHead?
        _ = entries("meta") { key, value in
            guard key == Journal.headKey else { return true }
            let parts = String(decoding: value, as: UTF8.self).split(separator: " ")
            if parts.count == 2, let seq = UInt64(parts[0]), parts[1].utf8.count == 64 {
                head = JournalHead(seq: seq, hash: String(parts[1]))
            }
            return false
        }
        return head
    }

    /// The stored snapshots that decode and still hash to their own digest, by seq.
    public func snapshots() -> [UInt64: Snapshot] {
        var out: [UInt64: Snapshot] = [:]
        _ = entries("snapshots") { key, value in
            if let seq = BigEndian.uint64(key), let snap = try? Snapshot.decode(value), snap.seq == seq,
               StateDigest.of(snap.state).digest == snap.digest {
                out[seq] = snap
            }
            return true
        }
        return out
    }

    /// The live state tables as far as they can be read (compared with the rebuilt state).
    public func state() -> (state: MemoryState, damage: [RawDamage]) {
        var state = MemoryState()
        var damage: [RawDamage] = []
        for table in StateTable.allCases {
            damage += entries(table.rawValue) { key, value in
                state.tables[table]![key] = value
                return true
            }
        }
        return (state, damage)
    }
}

extension StoreCheck {
    /// The whole file, as verify's first step: the meta pages and every page of every database
    /// reachable from the newest one (and liblmdb's free-page list, which a writer trusts), read
    /// without liblmdb. Empty when the structure is sound (the contents are verify's next step).
    public static func structure(_ directory: String) -> (problems: [RawDamage], newest: RawMeta?) {
        let file: RawFile
        do { file = try RawFile(path: directory + "/data.mdb") } catch {
            return ([RawDamage(tree: "data.mdb", page: nil, message: "\(error)")], nil)
        }
        let (newest, _, metaProblems) = metas(file)
        guard let newest else { return (metaProblems, nil) }
        // The list of databases, a missing events database, roots outside the file.
        var problems = metaProblems + databases(file, newest)
        let source = SalvageSource(store: RawStore(file: file, meta: newest))
        problems += source.store.walk("LMDB free-page list", newest.free) { _, _ in true }
        for (name, db) in source.databases.sorted(by: { $0.key < $1.key }) {
            problems += source.store.walk(name, db) { _, _ in true }
        }
        return (problems, newest)
    }
}
