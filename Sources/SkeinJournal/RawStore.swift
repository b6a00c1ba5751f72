import Glibc

// A reader of an LMDB data file that does not use liblmdb. liblmdb trusts its pages: a damaged
// page header or node offset makes it abort on an assertion or fault, and a truncated file makes
// it die of SIGBUS. This reader checks every offset against the page and the file before using
// it, so that verify can say which page of which tree is damaged and recover can salvage what is
// still readable around it. Layout of LMDB 0.9 (the on-disk format, version 1) on a 64-bit
// little-endian host: page header 16 bytes, meta at 16 in pages 0 and 1, nodes of 8 bytes + key
// + data.

/// Something wrong in the data file, located as precisely as it can be.
public struct RawDamage: Equatable, Sendable, CustomStringConvertible {
    /// The tree ("events", "allocations", "LMDB main database", …) or "data.mdb" for the file itself.
    public var tree: String
    public var page: UInt64?
    public var message: String

    public var description: String {
        if let page { return "\(tree): page \(page): \(message)" }
        return "\(tree): \(message)"
    }

    /// One line per damage, except that the same damage on many pages of one tree (a truncated
    /// file, a damaged page count) is one line with the count.
    public static func summarized(_ all: [RawDamage]) -> [String] {
        var groups: [String: [RawDamage]] = [:]
        var order: [String] = []
        for d in all {
            let k = d.tree + "\u{0}" + d.message
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(d)
        }
        return order.flatMap { k -> [String] in
            let g = groups[k]!
            guard g.count > 3 else { return g.map(\.description) }
            let pages = g.prefix(3).compactMap(\.page).map(String.init).joined(separator: ", ")
            return ["\(g[0].tree): \(g.count) pages (\(pages), …): \(g[0].message)"]
        }
    }
}

/// One database record (LMDB's MDB_db): the root page and what the tree claims to hold.
public struct RawDB: Equatable, Sendable {
    public static let noPage = UInt64.max
    public var flags: UInt16
    public var depth: UInt16
    public var entries: UInt64
    public var root: UInt64
    public var isEmpty: Bool { root == RawDB.noPage }

    init(_ b: [UInt8], at o: Int) {
        flags = RawBytes.u16(b, o + 4)
        depth = RawBytes.u16(b, o + 6)
        entries = RawBytes.u64(b, o + 32)
        root = RawBytes.u64(b, o + 40)
    }
}

/// One of the two meta pages.
public struct RawMeta: Equatable, Sendable {
    public static let magic: UInt32 = 0xBEEF_C0DE
    public static let version: UInt32 = 1
    public var index: Int
    public var isMetaPage: Bool
    public var magic: UInt32
    public var version: UInt32
    public var pageSize: Int
    public var free: RawDB
    public var main: RawDB
    public var lastPage: UInt64
    public var txnID: UInt64

    init(_ b: [UInt8], index: Int) {
        self.index = index
        isMetaPage = RawBytes.u16(b, 10) & RawPage.meta != 0
        magic = RawBytes.u32(b, 16)
        version = RawBytes.u32(b, 20)
        pageSize = Int(RawBytes.u32(b, 40))
        free = RawDB(b, at: 40)
        main = RawDB(b, at: 88)
        lastPage = RawBytes.u64(b, 136)
        txnID = RawBytes.u64(b, 144)
    }

    /// What LMDB itself refuses, plus page sizes it would never write.
    var headerProblem: String? {
        if !isMetaPage { return "not a meta page (page flags damaged)" }
        if magic != RawMeta.magic { return "bad magic 0x\(String(magic, radix: 16)) (expected beefc0de)" }
        if version != RawMeta.version { return "format version \(version) (expected 1)" }
        if pageSize < 512 || pageSize > 65536 || pageSize & (pageSize - 1) != 0 { return "page size \(pageSize) is not a power of two in 512…65536" }
        return nil
    }
}

enum RawBytes {
    static func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(u16(b, o)) | UInt32(u16(b, o + 2)) << 16 }
    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u32(b, o)) | UInt64(u32(b, o + 4)) << 32 }
}

/// Page and node flags (lmdb.h / mdb.c).
enum RawPage {
    static let branch: UInt16 = 0x01
    static let leaf: UInt16 = 0x02
    static let overflow: UInt16 = 0x04
    static let meta: UInt16 = 0x08
    static let header = 16
    static let nodeHeader = 8
    static let bigData: UInt16 = 0x01
    static let subData: UInt16 = 0x02
    static let dupData: UInt16 = 0x04
    static let integerKey: UInt16 = 0x08
}

/// The data file, read with pread: nothing is mapped, so nothing can fault.
public final class RawFile {
    let fd: Int32
    public let path: String
    public let size: Int

    public init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, op: "open(\(path))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw LMDBError(code: e, op: "fstat(\(path))")
        }
        self.path = path
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// `count` bytes at `offset`, or nil if the file is shorter (or the read fails).
    func read(_ offset: Int, _ count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= size - count else { return nil }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            done += n
        }
        return out
    }

    /// Both meta pages. The second one sits one page (meta 0's page size) in; when meta 0 is too
    /// damaged to say, the host page size is the best guess (LMDB writes that).
    public func metas() -> (RawMeta?, RawMeta?) {
        guard let first = read(0, 160) else { return (nil, nil) }
        let m0 = RawMeta(first, index: 0)
        let size = m0.headerProblem == nil ? m0.pageSize : Int(getpagesize())
        return (m0, read(size, 160).map { RawMeta($0, index: 1) })
    }
}

/// A view of the file through one meta page: its trees, walked with every offset checked.
public struct RawStore {
    public let file: RawFile
    public let meta: RawMeta
    /// The highest page number a pointer may name: the meta page's last page (what verify
    /// checks), or the file's last page (recover, when the meta page's count may be damaged).
    public let pageLimit: UInt64
    var pageSize: Int { meta.pageSize }

    public init(file: RawFile, meta: RawMeta, pageLimit: UInt64? = nil) {
        self.file = file
        self.meta = meta
        self.pageLimit = pageLimit ?? meta.lastPage
    }

    /// The page, checked: inside the file and the meta's last page, and carrying its own number.
    /// nil when not (the damage is added to `damage`).
    func page(_ pgno: UInt64, tree: String, _ damage: inout [RawDamage]) -> [UInt8]? {
        guard pgno >= 2, pgno <= pageLimit else {
            damage.append(RawDamage(tree: tree, page: pgno, message: "page number outside 2…\(pageLimit) (a damaged pointer)"))
            return nil
        }
        guard let b = file.read(Int(pgno) * pageSize, pageSize) else {
            damage.append(RawDamage(tree: tree, page: pgno, message: "beyond the end of data.mdb (\(file.size) bytes): the file was truncated"))
            return nil
        }
        guard RawBytes.u64(b, 0) == pgno else {
            damage.append(RawDamage(tree: tree, page: pgno, message: "the page says it is page \(RawBytes.u64(b, 0)) (damaged or misplaced)"))
            return nil
        }
        return b
    }

    /// The named databases (the main database's entries): name → record.
    public func namedDatabases() -> (databases: [String: RawDB], damage: [RawDamage]) {
        var out: [String: RawDB] = [:]
        var bad: [RawDamage] = []
        let tree = "LMDB main database"
        let damage = walk(tree, meta.main, subData: true) { key, value in
            guard value.count == 48 else {
                bad.append(RawDamage(tree: tree, page: nil, message: "the record of \"\(String(decoding: key, as: UTF8.self))\" is \(value.count) bytes, not 48"))
                return true
            }
            out[String(decoding: key, as: UTF8.self)] = RawDB(value, at: 0)
            return true
        }
        return (out, damage + bad)
    }
}
