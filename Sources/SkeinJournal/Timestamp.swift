// Time and byte encodings the history needs, written here because the tools link no Foundation:
// RFC 3339 (UTC, nanoseconds) from and to the journal's integer nanoseconds, and base64.

public enum Timestamp {
    /// "2026-11-29T05:41:32.123456789Z": always nine fraction digits, so the text round-trips to
    /// the exact integer the journal holds.
    public static func rfc3339(_ ns: Int64) -> String {
        var secs = ns / 1_000_000_000
        var frac = ns % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
        var days = secs / 86_400
        var sod = secs % 86_400
        if sod < 0 { sod += 86_400; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
            + ".\(pad(frac, 9))Z"
    }

    /// RFC 3339 ("2026-11-29T14:03:00Z", fraction and ±HH:MM offset allowed) or Unix seconds
    /// ("1764424980", fraction allowed) → nanoseconds since the epoch.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        if !b.isEmpty, b.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) { return unixSeconds(b) }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[13] == UInt8(ascii: ":"),
              b[16] == UInt8(ascii: ":"), [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(b[10]),
              let y = number(b, 0, 4), let mo = number(b, 5, 2), let d = number(b, 8, 2),
              let h = number(b, 11, 2), let mi = number(b, 14, 2), let s = number(b, 17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var i = 19
        var frac: Int64 = 0
        if b[i] == UInt8(ascii: ".") {
            var scale: Int64 = 100_000_000
            i += 1
            while i < b.count, isDigit(b[i]) {
                frac += Int64(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        guard i < b.count, let offset = zoneOffset(Array(b[i...])) else { return nil }
        let secs = days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
        return secs * 1_000_000_000 + frac
    }

    static func unixSeconds(_ b: [UInt8]) -> Int64? {
        let parts = b.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(String(decoding: parts[0], as: UTF8.self)) else { return nil }
        var frac: Int64 = 0
        if parts.count == 2 {
            let digits = Array(parts[1].prefix(9))
            guard let f = Int64(String(decoding: digits, as: UTF8.self)) else { return nil }
            frac = f
            for _ in digits.count..<9 { frac *= 10 }
        }
        return whole * 1_000_000_000 + frac
    }

    /// "Z" → 0, "+HH:MM"/"-HH:MM" → seconds east of UTC.
    static func zoneOffset(_ b: [UInt8]) -> Int64? {
        if b == [UInt8(ascii: "Z")] || b == [UInt8(ascii: "z")] { return 0 }
        guard b.count == 6, b[3] == UInt8(ascii: ":"), let h = number(b, 1, 2), let m = number(b, 4, 2) else { return nil }
        switch b[0] {
        case UInt8(ascii: "+"): return h * 3600 + m * 60
        case UInt8(ascii: "-"): return -(h * 3600 + m * 60)
        default: return nil
        }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    static func number(_ b: [UInt8], _ at: Int, _ len: Int) -> Int64? {
        var v: Int64 = 0
        for i in at..<(at + len) {
            guard isDigit(b[i]) else { return nil }
            v = v * 10 + Int64(b[i] - 0x30)
        }
        return v
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days-from-civil / civil-from-days (proleptic Gregorian, day 0 = 1970-01-01).
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}

public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let reverse: [UInt8] = {
        var r = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { r[Int(c)] = UInt8(i) }
        return r
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            for k in 0..<4 {
                out.append(k <= n ? alphabet[Int((v >> (18 - 6 * UInt32(k))) & 63)] : UInt8(ascii: "="))
            }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict: padded, canonical (the unused bits of the last symbol must be zero), so one byte
    /// sequence has exactly one text and an edited character cannot decode to the same bytes.
    public static func decode(_ text: String) -> [UInt8]? {
        let b = Array(text.utf8)
        guard b.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(b.count / 4 * 3)
        var i = 0
        while i < b.count {
            let last = i + 4 == b.count
            let pads = last ? b[i..<(i + 4)].reversed().prefix { $0 == UInt8(ascii: "=") }.count : 0
            guard pads <= 2 else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = b[i + k]
                let d: UInt8 = k >= 4 - pads ? 0 : reverse[Int(c)]
                guard d != 0xFF else { return nil }
                v = v << 6 | UInt32(d)
            }
            let bytes = [UInt8(v >> 16), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
            if pads == 1 && bytes[2] != 0 || pads == 2 && (bytes[1] != 0 || bytes[2] != 0) { return nil }
            out.append(contentsOf: bytes.prefix(3 - pads))
            i += 4
        }
        return out
    }
}
