import SkeinModel

// Repair of a single damaged event. The chain records every event's SHA-256 in the next event's
// prev (the newest one's in the head), so a candidate that hashes to that value is the original
// record, byte for byte: a repair is proven, never guessed. Tried: for a record whose own prev
// field was damaged, that field rewritten to the previous event's hash; each single flipped bit;
// then, for records up to 1 KiB, each single byte changed to another printable character (the
// records are ASCII JSON). Each candidate is hashed from the SHA-256 state at the start of its
// 64-byte block, so a record of n bytes costs about 8n (bits) or 95n (bytes) hashes of n/2 bytes.

extension ChainScan {
    /// Attempts at most this many records: a widely damaged file is not searched for hours.
    static let maxRepairs = 64
    static let maxByteSearch = 1024

    /// Repairs every record that is not vouched for by its neighbours, where a neighbour says
    /// what its hash must be; updates the entries.
    mutating func repairAll(head: JournalHead?) -> [ChainRepair] {
        var repairs: [ChainRepair] = []
        var attempts = 0
        for j in entries.indices {
            let e = entries[j]
            let expectPrev: Digest? = e.seq == 1 ? Digest.genesis
                : (j > 0 && entries[j - 1].seq + 1 == e.seq && entries[j - 1].problem == nil ? entries[j - 1].hash : nil)
            let target: Digest?
            if j + 1 < entries.count {
                target = entries[j + 1].seq == e.seq + 1 ? entries[j + 1].prev : nil
            } else {
                target = head.flatMap { $0.seq == e.seq ? Digest(hex: $0.hash) : nil }
            }
            let fine = e.problem == nil && expectPrev.map { e.prev == $0 } != false && target.map { e.hash == $0 } != false
            // A record its successor vouches for is intact: the break is in the one before it.
            guard !fine, let target, e.hash != target, let bytes = suspects[e.seq], attempts < ChainScan.maxRepairs else { continue }
            attempts += 1
            let accept: ([UInt8]) -> Bool = { candidate in
                guard let r = try? EventRecord.decode(candidate), r.seq == e.seq else { return false }
                return expectPrev.map { Digest(hex: r.prev) == $0 } ?? true
            }
            guard let (fixed, note) = ChainScan.repair(bytes, target: target, expectPrev: expectPrev, accept: accept) else { continue }
            entries[j] = ChainEntry(seq: e.seq, bytes: fixed)
            suspects[e.seq] = fixed
            repairs.append(ChainRepair(seq: e.seq, bytes: fixed, note: note))
        }
        return repairs
    }

    /// The original of `bytes`, if one small change of it hashes to `target` and is accepted.
    static func repair(_ bytes: [UInt8], target: Digest, expectPrev: Digest?,
                       accept: ([UInt8]) -> Bool) -> ([UInt8], String)? {
        if let expectPrev, let fixed = withPrev(bytes, expectPrev), Digest(SHA256.hash(fixed)) == target, accept(fixed) {
            return (fixed, "its prev field was damaged and is restored")
        }
        for allBytes in bytes.count <= maxByteSearch ? [false, true] : [false] {
            if let (offset, value) = search(bytes, target: target, allBytes: allBytes, accept: accept) {
                var fixed = bytes
                fixed[offset] = value
                let what = allBytes ? "one changed byte" : "one flipped bit"
                return (fixed, "\(what) at byte \(offset) restored (0x\(String(bytes[offset], radix: 16)) → 0x\(String(value, radix: 16)))")
            }
        }
        return nil
    }

    /// `bytes` with the 64 hex digits after `"prev":"` replaced by `prev`.
    static func withPrev(_ bytes: [UInt8], _ prev: Digest) -> [UInt8]? {
        let marker = Array("\"prev\":\"".utf8)
        guard let at = (0..<max(0, min(bytes.count - marker.count, 128))).first(where: { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }),
              at + marker.count + 64 <= bytes.count else { return nil }
        var fixed = bytes
        fixed.replaceSubrange((at + marker.count)..<(at + marker.count + 64), with: Array(prev.hex.utf8))
        return fixed == bytes ? nil : fixed
    }

    /// Single-position changes, hashed from the SHA-256 state at the start of their 64-byte block
    /// (the prefix before it is hashed once): on average half a record per candidate.
    static func search(_ bytes: [UInt8], target: Digest, allBytes: Bool,
                       accept: ([UInt8]) -> Bool) -> (Int, UInt8)? {
        let values: [UInt8] = allBytes ? (0x20...0x7E).map { UInt8($0) } : (0..<8).map { UInt8(1) << $0 }
        var prefix = SHA256()
        var start = 0
        while start < bytes.count {
            let end = min(start + 64, bytes.count)
            var tail = Array(bytes[start...])
            for i in start..<end {
                let original = bytes[i]
                for value in values {
                    // Bits: value is the mask. Bytes: value is the candidate, single bits done.
                    let candidate = allBytes ? value : original ^ value
                    if allBytes && (candidate ^ original).nonzeroBitCount <= 1 { continue }
                    tail[i - start] = candidate
                    var h = prefix
                    tail.withUnsafeBytes { h.update($0) }
                    if Digest(h.finalize()) == target {
                        var fixed = bytes
                        fixed[i] = candidate
                        if accept(fixed) { return (i, candidate) }
                    }
                }
                tail[i - start] = original
            }
            prefix.update(Array(bytes[start..<end]))
            start = end
        }
        return nil
    }
}
