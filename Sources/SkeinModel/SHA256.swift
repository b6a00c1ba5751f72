// SHA-256 (FIPS 180-4) in pure Swift: SkeinModel must not depend on Glibc, Foundation or a crypto library,
// yet needs content digests (journal chaining, config fingerprints). Streaming, block-at-a-time, no heap
// traffic per byte.

/// Streaming SHA-256. `update` any number of times, then `finalize` once (which also resets the hasher).
public struct SHA256: Sendable {
    private var state: State = .initial
    /// Pending bytes of an incomplete block; always 64 bytes long, `pendingCount` of them meaningful.
    private var pending: [UInt8] = [UInt8](repeating: 0, count: 64)
    private var pendingCount = 0
    /// Total message length in bytes (the padding encodes it in bits, modulo 2^64).
    private var length: UInt64 = 0

    public init() {}

    /// One-shot digest.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Lowercase hexadecimal rendering of any byte string.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            digits.withUTF8Buffer { table in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = table[Int(byte >> 4)]
                    out[2 * i + 1] = table[Int(byte & 0x0f)]
                }
            }
            return bytes.count * 2
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The fast path every other overload funnels into: whole blocks are hashed straight from `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        length &+= UInt64(bytes.count)
        var rest = bytes[...]
        if pendingCount > 0 {
            let take = min(64 - pendingCount, rest.count)
            let start = pendingCount
            pending.withUnsafeMutableBytes { dst in
                UnsafeMutableRawBufferPointer(rebasing: dst[start ..< start + take])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            }
            pendingCount += take
            rest = rest.dropFirst(take)
            guard pendingCount == 64 else { return }
            pending.withUnsafeBytes { SHA256.compress(&state, blocks: $0) }
            pendingCount = 0
        }
        let whole = rest.count & ~63
        if whole > 0 {
            SHA256.compress(&state, blocks: UnsafeRawBufferPointer(rebasing: rest.prefix(whole)))
        }
        let tail = rest.count - whole
        if tail > 0 {
            pending.withUnsafeMutableBytes { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.suffix(tail)))
            }
            pendingCount = tail
        }
    }

    /// Generic input: contiguous storage takes the fast path; anything else is staged 64 bytes at a time
    /// into the fixed pending block (stores, never appends).
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done != nil { return }
        var chunk = [UInt8](repeating: 0, count: 256)
        var used = 0
        for byte in bytes {
            chunk[used] = byte
            used += 1
            if used == chunk.count {
                chunk.withUnsafeBytes { update($0) }
                used = 0
            }
        }
        chunk.withUnsafeBytes { update(UnsafeRawBufferPointer(rebasing: $0.prefix(used))) }
    }

    /// Pads, returns the 32-byte digest, and resets the hasher so the value can be reused.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        // 0x80, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        let padCount = pendingCount < 56 ? 56 - pendingCount : 120 - pendingCount
        var padding = [UInt8](repeating: 0, count: padCount + 8)
        padding[0] = 0x80
        for i in 0 ..< 8 {
            padding[padCount + i] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64(i)))
        }
        update(padding)
        let words = [state.a, state.b, state.c, state.d, state.e, state.f, state.g, state.h]
        let digest = [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            for (i, word) in words.enumerated() {
                out[4 * i] = UInt8(truncatingIfNeeded: word >> 24)
                out[4 * i + 1] = UInt8(truncatingIfNeeded: word >> 16)
                out[4 * i + 2] = UInt8(truncatingIfNeeded: word >> 8)
                out[4 * i + 3] = UInt8(truncatingIfNeeded: word)
            }
            count = 32
        }
        self = SHA256()
        return digest
    }
}

extension SHA256 {
    /// The eight working words; named fields rather than an array to keep them in registers.
    struct State {
        var a, b, c, d, e, f, g, h: UInt32

        static let initial = State(
            a: 0x6a09_e667, b: 0xbb67_ae85, c: 0x3c6e_f372, d: 0xa54f_f53a,
            e: 0x510e_527f, f: 0x9b05_688c, g: 0x1f83_d9ab, h: 0x5be0_cd19)
    }

    @inline(__always)
    static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// Hashes `blocks.count / 64` consecutive blocks. The message schedule lives in a stack buffer.
    static func compress(_ state: inout State, blocks: UnsafeRawBufferPointer) {
        precondition(blocks.count % 64 == 0)
        roundConstants.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                var offset = 0
                while offset < blocks.count {
                    for t in 0 ..< 16 {
                        w[t] = UInt32(bigEndian: blocks.loadUnaligned(fromByteOffset: offset + 4 * t, as: UInt32.self))
                    }
                    for t in 16 ..< 64 {
                        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }
                    rounds(&state, w: UnsafeBufferPointer(w), k: k)
                    offset += 64
                }
            }
        }
    }

    @inline(__always)
    static func rounds(_ state: inout State, w: UnsafeBufferPointer<UInt32>, k: UnsafeBufferPointer<UInt32>) {
        var s = state
        for t in 0 ..< 64 {
            let s1 = rotr(s.e, 6) ^ rotr(s.e, 11) ^ rotr(s.e, 25)
            let ch = (s.e & s.f) ^ (~s.e & s.g)
            let t1 = s.h &+ s1 &+ ch &+ k[t] &+ w[t]
            let s0 = rotr(s.a, 2) ^ rotr(s.a, 13) ^ rotr(s.a, 22)
            let maj = (s.a & s.b) ^ (s.a & s.c) ^ (s.b & s.c)
            let t2 = s0 &+ maj
            s.h = s.g; s.g = s.f; s.f = s.e; s.e = s.d &+ t1
            s.d = s.c; s.c = s.b; s.b = s.a; s.a = t1 &+ t2
        }
        state.a &+= s.a; state.b &+= s.b; state.c &+= s.c; state.d &+= s.d
        state.e &+= s.e; state.f &+= s.f; state.g &+= s.g; state.h &+= s.h
    }

    static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]
}
