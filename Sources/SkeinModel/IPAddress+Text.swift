// Textual forms of IP addresses, over UTF-8 bytes so no Foundation is needed.

enum IPv4Text {
    /// Exactly four dot-separated decimal parts, 0...255, no leading zeros, no signs or spaces.
    static func parse(_ text: ArraySlice<UInt8>) -> UInt32? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = parseOctet(part) else { return nil }
            value = (value << 8) | octet
        }
        return value
    }

    private static func parseOctet(_ part: ArraySlice<UInt8>) -> UInt32? {
        guard (1...3).contains(part.count) else { return nil }
        if part.count > 1 && part.first == UInt8(ascii: "0") { return nil }
        var v: UInt32 = 0
        for c in part {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + UInt32(c - UInt8(ascii: "0"))
        }
        return v <= 255 ? v : nil
    }

    static func format(_ v: UInt32) -> String {
        "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
    }
}

enum IPv6Text {
    private static let colon = UInt8(ascii: ":")

    /// RFC 4291 §2.2: eight 16-bit hex groups; one "::" may stand for one or more zero
    /// groups; the last 32 bits may be written as a dotted quad.
    static func parse(_ text: [UInt8]) -> (UInt64, UInt64)? {
        guard !text.contains(UInt8(ascii: "%")) else { return nil }  // zone ids are not addresses
        var groups: [UInt16]
        if let gap = firstDoubleColon(text) {
            let head = text[..<gap], tail = text[(gap + 2)...]
            guard let h = parseGroups(head, allowIPv4Tail: false),
                  let t = parseGroups(tail, allowIPv4Tail: true),
                  h.count + t.count <= 7  // "::" must stand for at least one group
            else { return nil }
            groups = h + Array(repeating: 0, count: 8 - h.count - t.count) + t
        } else {
            guard let g = parseGroups(text[...], allowIPv4Tail: true), g.count == 8 else { return nil }
            groups = g
        }
        let hi = groups[0..<4].reduce(UInt64(0)) { ($0 << 16) | UInt64($1) }
        let lo = groups[4..<8].reduce(UInt64(0)) { ($0 << 16) | UInt64($1) }
        return (hi, lo)
    }

    private static func firstDoubleColon(_ text: [UInt8]) -> Int? {
        guard text.count >= 2 else { return nil }
        return (0..<(text.count - 1)).first { text[$0] == colon && text[$0 + 1] == colon }
    }

    /// Colon-separated groups with no empty group (so a second "::" or a stray leading or
    /// trailing colon fails here). An empty string is zero groups: the side of a "::".
    private static func parseGroups(_ text: ArraySlice<UInt8>, allowIPv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: colon, omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (i, part) in parts.enumerated() {
            if part.contains(UInt8(ascii: ".")) {
                guard allowIPv4Tail, i == parts.count - 1, let v4 = IPv4Text.parse(part) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xffff))
            } else {
                guard let g = parseHexGroup(part) else { return nil }
                groups.append(g)
            }
        }
        return groups.count <= 8 ? groups : nil
    }

    private static func parseHexGroup(_ part: ArraySlice<UInt8>) -> UInt16? {
        guard (1...4).contains(part.count) else { return nil }
        var v: UInt16 = 0
        for c in part {
            guard let d = hexValue(c) else { return nil }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more zero groups
    /// compressed (the first such run on a tie). §5: IPv4-mapped addresses keep the dotted
    /// tail, since that is how every tool (and the kernel's /proc files) shows them.
    static func format(_ hi: UInt64, _ lo: UInt64) -> String {
        let groups = (0..<8).map { i -> UInt16 in
            let word = i < 4 ? hi : lo
            return UInt16(truncatingIfNeeded: word >> (16 * UInt64(3 - i % 4)))
        }
        if hi == 0 && lo >> 32 == 0xffff {
            return "::ffff:" + IPv4Text.format(UInt32(truncatingIfNeeded: lo))
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let run = longestZeroRun(groups) else { return hex.joined(separator: ":") }
        let left = hex[..<run.lowerBound].joined(separator: ":")
        let right = hex[run.upperBound...].joined(separator: ":")
        return left + "::" + right
    }

    private static func longestZeroRun(_ groups: [UInt16]) -> Range<Int>? {
        var best: Range<Int>? = nil
        var i = 0
        while i < groups.count {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < groups.count && groups[j] == 0 { j += 1 }
            if j - i >= 2 && j - i > (best?.count ?? 0) { best = i..<j }
            i = j
        }
        return best
    }
}
