import SkeinModel

// A checksum for every state row, in a database of its own ("checksums", key: table NUL row key,
// value: 8 bytes), written in the same transaction as the row. LMDB keeps no checksums, and a
// damaged allocation row is the one damage that would hand an address out twice: a flipped key
// byte, or a damaged branch page that hides a leaf, makes an address look free. Each state read
// is checked against its checksum, which lives in another B-tree (separate pages), so one damaged
// page cannot hide both. Cost: one more point read per state read and one more put per change.
//
// The checksum is FNV-1a (64 bit) over the table, the key's length, the key and the value: every
// single-byte change changes it (each step is a bijection of the state), and it is an order of
// magnitude cheaper than SHA-256. It guards against damage, not against someone who rewrites
// the file on purpose (the hash chain and `verify` are for that).
//
// The marker meta/checksums holds the journal head as of the last transaction that kept the
// checksums; reads are checked only while it equals the head. A journal written before checksums
// existed (no marker), or appended to since by an older build that does not keep them (the head
// moved on without the marker), gets all its checksums anew in its next write transaction: a
// downgrade and upgrade is not mistaken for damage.

enum RowChecksums {
    static let database = "checksums"
    static let markerKey = Array("checksums".utf8)

    static func key(_ table: StateTable, _ rowKey: some Collection<UInt8>) -> [UInt8] {
        let name = table.rawValue.utf8
        var out: [UInt8] = []
        out.reserveCapacity(name.count + 1 + rowKey.count)
        out.append(contentsOf: name)
        out.append(0)
        out.append(contentsOf: rowKey)
        return out
    }

    static func sum(_ table: StateTable, _ rowKey: some Collection<UInt8>, _ value: some Collection<UInt8>) -> [UInt8] {
        BigEndian.bytes(hash(table, rowKey, value))
    }

    static func hash(_ table: StateTable, _ rowKey: some Collection<UInt8>, _ value: some Collection<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        for b in table.rawValue.utf8 { mix(b) }
        let n = UInt32(truncatingIfNeeded: rowKey.count)
        mix(UInt8(truncatingIfNeeded: n >> 24))
        mix(UInt8(truncatingIfNeeded: n >> 16))
        mix(UInt8(truncatingIfNeeded: n >> 8))
        mix(UInt8(truncatingIfNeeded: n))
        for b in rowKey { mix(b) }
        for b in value { mix(b) }
        return h
    }

    /// Whether every row has its checksum: the marker names the current head.
    static func ready(_ txn: LMDBReadable, meta: LMDBDatabase) throws -> Bool {
        guard let marker = try txn.get(meta, markerKey) else { return false }
        return marker == (try txn.get(meta, Journal.headKey) ?? [])
    }

    /// Kept with the head by every transaction that appended (JournalWriter.finish).
    static func mark(_ txn: LMDBWriteTransaction, meta: LMDBDatabase) throws {
        try txn.put(meta, markerKey, try txn.get(meta, Journal.headKey) ?? [])
    }

    /// Checks one read of a row (nil: absent) against its stored checksum.
    static func check(_ txn: LMDBReadable, _ db: LMDBDatabase, _ table: StateTable, _ rowKey: [UInt8],
                      _ value: [UInt8]?) throws {
        let stored = try txn.get(db, key(table, rowKey))
        guard let problem = problem(table, rowKey, value, stored) else { return }
        throw JournalError(.corrupt, "the journal's state is damaged: \(problem); run `skein-journal verify`, then `skein-journal recover`")
    }

    /// A row (nil: absent) agrees with its stored checksum (nil: none).
    static func matches(_ table: StateTable, _ rowKey: [UInt8], _ value: [UInt8]?, _ stored: [UInt8]?) -> Bool {
        guard let value else { return stored == nil }
        guard let stored, stored.count == 8 else { return false }
        return BigEndian.uint64(stored) == hash(table, rowKey, value)
    }

    /// What is wrong with a row and its checksum, or nil.
    static func problem(_ table: StateTable, _ rowKey: [UInt8], _ value: [UInt8]?, _ stored: [UInt8]?) -> String? {
        // Every state read passes here: the message is built only for a mismatch.
        if matches(table, rowKey, value, stored) { return nil }
        let row = "\(table.rawValue) row \"\(Verifier.printable(rowKey))\""
        switch (value, stored) {
        case (nil, nil):
            return nil
        case (nil, .some):
            return "\(row) is missing but its checksum is there (the row was lost: a damaged key or page)"
        case (.some, nil):
            return "\(row) has no checksum (its checksum was lost, or the row was written behind the journal's back)"
        case (.some, .some):
            return "\(row) does not match its checksum (the row or its checksum was damaged)"
        }
    }

    /// Records the checksum of a row change (nil value: the row was deleted).
    static func record(_ txn: LMDBWriteTransaction, _ db: LMDBDatabase, _ table: StateTable, _ rowKey: [UInt8],
                       _ value: [UInt8]?) throws {
        if let value {
            try txn.put(db, key(table, rowKey), sum(table, rowKey, value))
        } else {
            try txn.delete(db, key(table, rowKey))
        }
    }

    /// Gives every state row its checksum and sets the marker, unless the marker says they are
    /// kept. One pass over the state, in the first write transaction after checksums were not
    /// kept (a journal from before them, or written by an older build since).
    static func prepare(_ txn: LMDBWriteTransaction, _ journal: Journal, _ db: LMDBDatabase) throws {
        guard try !ready(txn, meta: journal.meta) else { return }
        try txn.drop(db)
        for table in StateTable.allCases {
            var rows: [([UInt8], [UInt8])] = []
            try txn.forEach(journal.tables[table]!, from: nil, reverse: false) { k, v in
                rows.append((Array(k), Array(v)))
                return true
            }
            for (k, v) in rows { try txn.put(db, key(table, k), sum(table, k, v)) }
        }
        try mark(txn, meta: journal.meta)
    }

    /// Every row against its checksum and every checksum against its row (verify).
    static func audit(_ txn: LMDBReadable, _ journal: Journal, _ db: LMDBDatabase) throws -> [String] {
        var state = MemoryState()
        for table in StateTable.allCases {
            try txn.forEach(journal.tables[table]!, from: nil, reverse: false) { k, v in
                state.tables[table]![Array(k)] = Array(v)
                return true
            }
        }
        var sums: [[UInt8]: [UInt8]] = [:]
        try txn.forEach(db, from: nil, reverse: false) { k, v in
            sums[Array(k)] = Array(v)
            return true
        }
        return problems(state, sums)
    }

    /// The same over rows already read (recover reads them without liblmdb).
    static func problems(_ state: MemoryState, _ sums: [[UInt8]: [UInt8]]) -> [String] {
        var sums = sums
        var out: [String] = []
        for table in StateTable.allCases {
            for (k, v) in (state.tables[table] ?? [:]).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                let ck = key(table, k)
                if let p = problem(table, k, v, sums[ck]) { out.append(p) }
                sums[ck] = nil
            }
        }
        for k in sums.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let nul = k.firstIndex(of: 0), let table = StateTable(rawValue: String(decoding: k[..<nul], as: UTF8.self)) else {
                out.append("checksum entry \"\(Verifier.printable(k))\" names no state table")
                continue
            }
            if let p = problem(table, Array(k[(nul + 1)...]), nil, sums[k]) { out.append(p) }
        }
        return out
    }
}
