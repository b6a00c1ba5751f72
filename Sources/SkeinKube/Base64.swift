// Standard base64 (RFC 4648 §4), for kubeconfig `*-data` fields. Whitespace is skipped (PEM-style
// wrapped values occur in hand-written kubeconfigs); padding may be present or omitted, but
// anything else outside the alphabet makes the whole value invalid rather than silently dropped.

enum Base64 {
    private static let invalid: UInt8 = 0xFF

    private static let table: [UInt8] = {
        var t = [UInt8](repeating: invalid, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    /// The decoded bytes, or nil if `text` is not valid base64.
    static func decode(_ text: String) -> [UInt8]? {
        var sextets: [UInt8] = []
        sextets.reserveCapacity(text.utf8.count)
        var padding = 0
        for c in text.utf8 {
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            case UInt8(ascii: "="): padding += 1
            default:
                // Data after padding is not base64.
                guard padding == 0 else { return nil }
                let v = table[Int(c)]
                guard v != invalid else { return nil }
                sextets.append(v)
            }
        }
        let rest = sextets.count % 4
        // One leftover sextet cannot encode a byte; padding must complete the last quantum exactly.
        guard rest != 1, padding == 0 || (padding <= 2 && rest + padding == 4) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(sextets.count * 3 / 4)
        var i = 0
        while i + 4 <= sextets.count {
            let n = UInt32(sextets[i]) << 18 | UInt32(sextets[i + 1]) << 12 | UInt32(sextets[i + 2]) << 6 | UInt32(sextets[i + 3])
            out.append(UInt8(n >> 16))
            out.append(UInt8(n >> 8 & 0xFF))
            out.append(UInt8(n & 0xFF))
            i += 4
        }
        if rest >= 2 {
            var n = UInt32(sextets[i]) << 18 | UInt32(sextets[i + 1]) << 12
            if rest == 3 { n |= UInt32(sextets[i + 2]) << 6 }
            // Non-zero bits beyond the last byte mean the text was not produced by an encoder.
            guard n & (rest == 2 ? 0xFFFF : 0xFF) == 0 else { return nil }
            out.append(UInt8(n >> 16))
            if rest == 3 { out.append(UInt8(n >> 8 & 0xFF)) }
        }
        return out
    }
}
