// The attachments of one container: a range scan of the attachments table, whose keys are
// "<containerID>/<ifname>" (neither part may contain '/'), so a meta-plugin DEL, CHECK or GC finds
// every interface of a pod without visiting anyone else's rows.

import SkeinModel

extension JournalReader {
    /// Every attachment row of `containerID`, in key order.
    public func attachments(containerID: String) throws -> [AttachmentRecord] {
        try JournalReader.attachments(txn, journal.tables[.attachments]!, containerID: containerID,
                                      checksums: checkedState().checksums)
    }

    /// With `checksums`, each row is checked against its checksum (RowChecksums).
    static func attachments(_ txn: LMDBReadable, _ db: LMDBDatabase, containerID: String,
                            checksums: LMDBDatabase? = nil) throws -> [AttachmentRecord] {
        try attachments(txn, db, prefix: Array(containerID.utf8) + [UInt8(ascii: "/")], checksums: checksums)
    }

    /// The attachment rows whose key starts with `prefix` (every row when nil), in key order,
    /// each checked against its checksum when `checksums` is set.
    static func attachments(_ txn: LMDBReadable, _ db: LMDBDatabase, prefix: [UInt8]?,
                            checksums: LMDBDatabase?) throws -> [AttachmentRecord] {
        var out: [AttachmentRecord] = []
        var failure: Error?
        try txn.forEach(db, from: prefix, reverse: false) { key, value in
            if let prefix, !(key.count >= prefix.count && zip(key, prefix).allSatisfy({ $0 == $1 })) { return false }
            do {
                let bytes = Array(value)
                if let checksums { try RowChecksums.check(txn, checksums, .attachments, Array(key), bytes) }
                out.append(try AttachmentRecord.decode(bytes))
            } catch {
                failure = error
                return false
            }
            return true
        }
        if let failure { throw failure }
        return out
    }
}

extension JournalWriter {
    /// The same scan inside a write transaction (the rows as this transaction sees them).
    public func attachments(containerID: String) throws -> [AttachmentRecord] {
        try JournalReader.attachments(txn, journal.tables[.attachments]!, containerID: containerID, checksums: state.checksums)
    }
}
