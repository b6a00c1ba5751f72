// A seeded mutation fuzzer for where libFuzzer is not in the loop: the CI-scaled run in the test
// suite. It does what libFuzzer's mutators do without coverage feedback (bit flips, interesting
// bytes, dictionary tokens, range deletes, copies and splices, nesting), stacked 1–4 deep on an
// entry of the seed corpus, so every run with the same seed sees the same inputs.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, and good enough to drive a fuzzer.
public struct SplitMix64: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n (n > 0); the modulo bias is irrelevant here.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

public struct Mutator: Sendable {
    public let seeds: [[UInt8]]
    public let tokens: [[UInt8]]
    public let maxLength: Int
    var rng: SplitMix64

    /// Bytes that sit on parser decisions: quotes, escapes, brackets, separators, NUL, UTF-8 leads.
    static let interesting: [UInt8] = [0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x0A, 0x20, 0x2F, 0x2E,
                                       0x3D, 0x3B, 0x40, 0x27, 0x23, 0x2D, 0x7C, 0x3E, 0x26, 0x2A, 0x80, 0xC0, 0xED, 0xF4, 0xFF]

    public init(seeds: [[UInt8]], tokens: [[UInt8]], seed: UInt64, maxLength: Int = 4096) {
        precondition(!seeds.isEmpty, "the mutator needs at least one seed input")
        self.seeds = seeds
        self.tokens = tokens.isEmpty ? [[0x22]] : tokens
        self.maxLength = maxLength
        rng = SplitMix64(seed: seed)
    }

    /// The next input: a seed entry under 1–4 stacked mutations, at most `maxLength` bytes.
    public mutating func next() -> [UInt8] {
        var bytes = seeds[rng.below(seeds.count)]
        for _ in 0...rng.below(4) { mutate(&bytes) }
        if bytes.count > maxLength { bytes.removeLast(bytes.count - maxLength) }
        return bytes
    }

    mutating func mutate(_ b: inout [UInt8]) {
        let position = rng.below(b.count + 1)
        switch rng.below(9) {
        case 0 where !b.isEmpty: b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8))
        case 1 where !b.isEmpty: b[rng.below(b.count)] = Self.interesting[rng.below(Self.interesting.count)]
        case 2: b.insert(contentsOf: tokens[rng.below(tokens.count)], at: position)
        case 3 where !b.isEmpty:
            let r = range(in: b)
            b.replaceSubrange(r, with: tokens[rng.below(tokens.count)])
        case 4 where !b.isEmpty: b.removeSubrange(range(in: b))
        case 5 where !b.isEmpty: b.insert(contentsOf: Array(b[range(in: b)]), at: position)
        case 6:
            let other = seeds[rng.below(seeds.count)]
            b = Array(b[..<position]) + Array(other[rng.below(other.count + 1)...])
        case 7 where !b.isEmpty: nest(&b)
        default: b.insert(Self.interesting[rng.below(Self.interesting.count)], at: position)
        }
    }

    /// A random non-empty range of `b` (short ranges are likelier: most edits are local).
    mutating func range(in b: [UInt8]) -> Range<Int> {
        let start = rng.below(b.count)
        let length = 1 + rng.below(min(b.count - start, rng.below(4) == 0 ? 256 : 8))
        return start..<(start + length)
    }

    /// Wraps a range in a container, repeated: depth is what the depth limits are about.
    mutating func nest(_ b: inout [UInt8]) {
        let r = range(in: b)
        let wrappers: [([UInt8], [UInt8])] = [(Array("[".utf8), Array("]".utf8)), (Array("{\"k\":".utf8), Array("}".utf8)),
                                              (Array("- ".utf8), []), (Array("k:\n  ".utf8), [])]
        let (open, close) = wrappers[rng.below(wrappers.count)]
        let times = 1 + rng.below(rng.below(8) == 0 ? 80 : 3)
        var inner = Array(b[r])
        for _ in 0..<times { inner = open + inner + close }
        b.replaceSubrange(r, with: inner)
    }
}

/// libFuzzer's dictionary format: one `name="value"` or `"value"` per line, `#` comments, and the
/// escapes `\\`, `\"` and `\xNN` inside the quotes.
public enum FuzzDictionary {
    public static func parse(_ text: String) -> [[UInt8]] {
        text.split(separator: "\n").compactMap { line -> [UInt8]? in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard !trimmed.hasPrefix("#"), let open = trimmed.firstIndex(of: "\""), trimmed.last == "\"" else { return nil }
            let body = Array(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)].utf8)
            return unescape(body)
        }
    }

    static func unescape(_ body: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while i < body.count {
            guard body[i] == 0x5C else { out.append(body[i]); i += 1; continue }
            guard i + 1 < body.count else { return nil }
            if body[i + 1] == 0x78, i + 3 < body.count,
               let v = UInt8(String(decoding: body[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 4
            } else {
                out.append(body[i + 1])
                i += 2
            }
        }
        return out.isEmpty ? nil : out
    }
}
