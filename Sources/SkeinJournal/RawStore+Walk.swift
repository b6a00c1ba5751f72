// The in-order walk of one B-tree of the data file, checking every page it reads: the page's own
// number, its type, the node table against the page bounds, keys in order, leaves at one depth,
// overflow pages inside the file. A damaged page is reported and its subtree skipped, and the
// walk goes on with the next subtree: what lies after the damage is still read.

extension RawStore {
    /// Visits each (key, value) in key order; `visit` returns false to stop. Returns the damage
    /// met on the way. `subData`: the entries are database records (the main database).
    public func walk(_ tree: String, _ db: RawDB, subData: Bool = false,
                     _ visit: (_ key: [UInt8], _ value: [UInt8]) -> Bool) -> [RawDamage] {
        guard !db.isEmpty else { return [] }
        var walker = RawWalker(store: self, tree: tree, integerKeys: db.flags & RawPage.integerKey != 0,
                               subData: subData, budget: Int(clamping: pageLimit) + 1)
        _ = walker.descend(db.root, depth: 1, visit)
        return walker.damage
    }
}

struct RawWalker {
    let store: RawStore
    let tree: String
    let integerKeys: Bool
    let subData: Bool
    /// Pages left to read: a healthy tree never holds more pages than the file, so running out
    /// means a pointer cycle.
    var budget: Int
    var leafDepth: Int?
    var lastKey: [UInt8]?
    var damage: [RawDamage] = []
    static let maxDepth = 32

    private mutating func note(_ page: UInt64?, _ message: String) {
        damage.append(RawDamage(tree: tree, page: page, message: message))
    }

    /// false: stop the whole walk (visit said so, or the budget is spent).
    mutating func descend(_ pgno: UInt64, depth: Int, _ visit: (_ key: [UInt8], _ value: [UInt8]) -> Bool) -> Bool {
        guard budget > 0 else {
            note(pgno, "the tree reaches more pages than the file holds (a pointer cycle)")
            return false
        }
        budget -= 1
        guard depth <= RawWalker.maxDepth else { note(pgno, "tree deeper than \(RawWalker.maxDepth) levels"); return true }
        guard let b = store.page(pgno, tree: tree, &damage), let nodes = nodeOffsets(b, pgno) else { return true }
        switch RawBytes.u16(b, 10) & (RawPage.branch | RawPage.leaf | RawPage.overflow | RawPage.meta) {
        case RawPage.branch:
            guard !nodes.isEmpty else { note(pgno, "branch page without children"); return true }
            for off in nodes {
                let child = UInt64(RawBytes.u16(b, off)) | UInt64(RawBytes.u16(b, off + 2)) << 16
                    | UInt64(RawBytes.u16(b, off + 4)) << 32
                guard descend(child, depth: depth + 1, visit) else { return false }
            }
            return true
        case RawPage.leaf:
            if let d = leafDepth, d != depth {
                note(pgno, "leaf page at depth \(depth) where the tree's other leaves are at depth \(d)")
                return true
            }
            leafDepth = depth
            for off in nodes {
                guard let (key, value) = entry(b, pgno, off) else { continue }
                if let last = lastKey, !ordered(last, key) {
                    note(pgno, "key out of order (a damaged key or a misplaced page)")
                    continue
                }
                lastKey = key
                guard visit(key, value) else { return false }
            }
            return true
        default:
            note(pgno, "not a branch or leaf page (page flags 0x\(String(RawBytes.u16(b, 10), radix: 16)))")
            return true
        }
    }

    /// The node offsets of a branch or leaf page, each checked against the page; nil if damaged.
    mutating func nodeOffsets(_ b: [UInt8], _ pgno: UInt64) -> [Int]? {
        let size = b.count
        let lower = Int(RawBytes.u16(b, 12)), upper = Int(RawBytes.u16(b, 14))
        guard lower >= RawPage.header, lower <= upper, upper <= size, (lower - RawPage.header) % 2 == 0 else {
            note(pgno, "free-space bounds \(lower)/\(upper) are impossible")
            return nil
        }
        var out: [Int] = []
        for i in 0..<((lower - RawPage.header) / 2) {
            let off = Int(RawBytes.u16(b, RawPage.header + 2 * i))
            guard off >= upper, off % 2 == 0, off + RawPage.nodeHeader <= size,
                  off + RawPage.nodeHeader + Int(RawBytes.u16(b, off + 6)) <= size else {
                note(pgno, "node \(i) at offset \(off) lies outside the page's node area")
                return nil
            }
            out.append(off)
        }
        return out
    }

    /// A leaf node's key and value (read from overflow pages when big); nil when damaged (noted).
    mutating func entry(_ b: [UInt8], _ pgno: UInt64, _ off: Int) -> ([UInt8], [UInt8])? {
        let flags = RawBytes.u16(b, off + 4)
        let keyEnd = off + RawPage.nodeHeader + Int(RawBytes.u16(b, off + 6))
        let key = Array(b[(off + RawPage.nodeHeader)..<keyEnd])
        let size = Int(RawBytes.u16(b, off)) | Int(RawBytes.u16(b, off + 2)) << 16
        guard flags & RawPage.dupData == 0, (flags & RawPage.subData != 0) == subData else {
            note(pgno, "node flags 0x\(String(flags, radix: 16)) do not belong in this tree")
            return nil
        }
        guard flags & RawPage.bigData != 0 else {
            guard keyEnd + size <= b.count else {
                note(pgno, "a value of \(size) bytes runs past the end of the page")
                return nil
            }
            return (key, Array(b[keyEnd..<(keyEnd + size)]))
        }
        guard keyEnd + 8 <= b.count else { note(pgno, "overflow pointer runs past the end of the page"); return nil }
        return overflow(RawBytes.u64(b, keyEnd), size: size).map { (key, $0) }
    }

    /// A value stored on overflow pages: the first page's header says how many pages follow.
    mutating func overflow(_ pgno: UInt64, size: Int) -> [UInt8]? {
        guard let first = store.page(pgno, tree: tree, &damage) else { return nil }
        let pages = UInt64(RawBytes.u32(first, 12))
        let pageSize = store.meta.pageSize
        guard RawBytes.u16(first, 10) & RawPage.overflow != 0, pages >= 1, pgno + pages - 1 <= store.pageLimit,
              RawPage.header + size <= Int(pages) * pageSize else {
            note(pgno, "overflow page header does not fit a value of \(size) bytes")
            return nil
        }
        budget -= Int(pages)
        guard let value = store.file.read(Int(pgno) * pageSize + RawPage.header, size) else {
            note(pgno, "overflow pages run past the end of data.mdb (the file was truncated)")
            return nil
        }
        return value
    }

    /// LMDB's orders: integer keys numerically (native order), others bytewise, shorter first.
    func ordered(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        if integerKeys && a.count == 8 && b.count == 8 { return RawBytes.u64(a, 0) < RawBytes.u64(b, 0) }
        return a.lexicographicallyPrecedes(b)
    }
}

extension RawStore {
    /// Pages that read as a main-database leaf listing an events database, most events first:
    /// where the newest main database may be when the meta page's pointer to it (or the page it
    /// names) is damaged. Copy-on-write leaves older ones behind as well; recover reads through
    /// each and keeps what reaches furthest in the verified chain. One pass over the file.
    func mainDatabaseCandidates(limit: Int = 8) -> [UInt64] {
        var found: [(page: UInt64, events: UInt64)] = []
        var pgno: UInt64 = 2
        while pgno <= pageLimit {
            defer { pgno += 1 }
            guard let b = file.read(Int(pgno) * pageSize, pageSize), RawBytes.u64(b, 0) == pgno,
                  RawBytes.u16(b, 10) & (RawPage.branch | RawPage.leaf | RawPage.overflow) == RawPage.leaf else { continue }
            var walker = RawWalker(store: self, tree: "", integerKeys: false, subData: true, budget: 1)
            guard let nodes = walker.nodeOffsets(b, pgno) else { continue }
            let entries = nodes.compactMap { walker.entry(b, pgno, $0) }
            guard walker.damage.isEmpty, entries.allSatisfy({ $0.1.count == 48 }),
                  let events = entries.first(where: { $0.0 == Array("events".utf8) }) else { continue }
            found.append((pgno, RawDB(events.1, at: 0).entries))
        }
        return found.sorted { ($0.events, $0.page) > ($1.events, $1.page) }.prefix(limit).map(\.page)
    }
}

extension RawStore {
    /// The events on one page, when it reads as a leaf of the events database: 8-byte keys and
    /// values that are event records (nil otherwise).
    func eventLeaf(_ pgno: UInt64) -> [(seq: UInt64, record: [UInt8])]? {
        guard let b = file.read(Int(pgno) * pageSize, pageSize), RawBytes.u64(b, 0) == pgno,
              RawBytes.u16(b, 10) & (RawPage.branch | RawPage.leaf | RawPage.overflow) == RawPage.leaf else { return nil }
        var walker = RawWalker(store: self, tree: "events", integerKeys: false, subData: false, budget: 64)
        guard let nodes = walker.nodeOffsets(b, pgno), !nodes.isEmpty else { return nil }
        let marker = Array(#"{"seq":"#.utf8)
        var out: [(seq: UInt64, record: [UInt8])] = []
        for off in nodes {
            guard let (key, value) = walker.entry(b, pgno, off), let seq = BigEndian.uint64(key),
                  value.starts(with: marker) else { return nil }
            out.append((seq, value))
        }
        return out
    }

    /// Where each event's record lies among the leaf pages of the whole file, whatever points to
    /// them: when a branch page of the events tree is damaged, the leaves below it are still on
    /// disk. Stale copies left by copy-on-write hold the same records (an event is never
    /// rewritten), so the first page found for a seq serves; the chain decides what is kept.
    func eventLeaves() -> [UInt64: UInt64] {
        var index: [UInt64: UInt64] = [:]
        var pgno: UInt64 = 2
        while pgno <= pageLimit {
            for (seq, _) in eventLeaf(pgno) ?? [] where index[seq] == nil { index[seq] = pgno }
            pgno += 1
        }
        return index
    }
}
