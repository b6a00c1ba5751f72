// A snapshot of the state tables, for retention: once events before a snapshot are pruned, replay
// and verification start from it. Its digest is recorded in the hash chain (a snapshotTaken event),
// so a stored snapshot is trusted only if its rows still hash to that digest.

public struct StateRow: Equatable, Sendable {
    public var table: StateTable
    public var key: [UInt8]
    public var value: [UInt8]

    public init(table: StateTable, key: [UInt8], value: [UInt8]) {
        self.table = table
        self.key = key
        self.value = value
    }
}

/// SHA-256 over the rows in canonical order: tables in `StateTable.allCases` order, keys in
/// bytewise order (LMDB's), each row length-prefixed so no two row sets can collide.
public struct StateDigest {
    var hasher = SHA256()
    public private(set) var rows = 0

    public init() {}

    /// Rows must arrive in canonical order.
    public mutating func add(_ table: StateTable, _ key: some Collection<UInt8>, _ value: some Collection<UInt8>) {
        hasher.update(Array(table.rawValue.utf8) + [0])
        hasher.update(StateDigest.length(key.count))
        hasher.update(Array(key))
        hasher.update(StateDigest.length(value.count))
        hasher.update(Array(value))
        rows += 1
    }

    public mutating func finalize() -> String { SHA256.hex(hasher.finalize()) }

    static func length(_ n: Int) -> [UInt8] {
        let v = UInt32(truncatingIfNeeded: n)
        return [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    public static func of(_ state: MemoryState) -> (digest: String, rows: Int) {
        var d = StateDigest()
        for table in StateTable.allCases {
            let rows = state.tables[table] ?? [:]
            for key in rows.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) { d.add(table, key, rows[key]!) }
        }
        return (d.finalize(), d.rows)
    }
}

public struct Snapshot: Equatable, Sendable {
    /// The seq of the snapshotTaken event that records this snapshot's digest.
    public var seq: UInt64
    /// That event's `prev`: the chain anchor once the events before it are pruned.
    public var prev: String
    public var digest: String
    public var rows: [StateRow]

    public init(seq: UInt64, prev: String, digest: String, rows: [StateRow]) {
        self.seq = seq
        self.prev = prev
        self.digest = digest
        self.rows = rows
    }

    public var state: MemoryState {
        var s = MemoryState()
        for r in rows { s.tables[r.table]![r.key] = r.value }
        return s
    }

    public func encoded() -> [UInt8] {
        let rowsJSON = rows.map { r -> JSON in
            .array([.string(r.table.rawValue), .string(Hex.encode(r.key)), .string(Hex.encode(r.value))])
        }
        return JSON.obj([("seq", .number(String(seq))), ("prev", .string(prev)), ("digest", .string(digest)),
                         ("rows", .array(rowsJSON))]).serializedBytes()
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Snapshot {
        let json: JSON
        do { json = try JSON.parse(bytes, limits: .stored) } catch { throw DecodeError("snapshot", error.description) }
        let f = try Fields(json, path: "snapshot")
        guard let seq = try f.raw("seq").uint64 else { throw DecodeError("snapshot.seq", "expected an unsigned integer") }
        var rows: [StateRow] = []
        for r in try f.array("rows") {
            guard let a = r.array, a.count == 3, let t = a[0].string.flatMap(StateTable.init(rawValue:)),
                  let k = a[1].string.flatMap(Hex.decode), let v = a[2].string.flatMap(Hex.decode) else {
                throw DecodeError("snapshot.rows", "expected [table, hex key, hex value]")
            }
            rows.append(StateRow(table: t, key: k, value: v))
        }
        return Snapshot(seq: seq, prev: try f.string("prev"), digest: try f.string("digest"), rows: rows)
    }
}

public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String { SHA256.hex(bytes) }

    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
