// JSON and YAML: the document parsers every other input goes through.

import SkeinModel

extension FuzzTarget {
    static func json(_ input: [UInt8], _ outcome: inout FuzzOutcome) {
        guard let v = try? JSON.parse(input) else { return }
        outcome.accepted = true
        // Strings are validated and everything else is ASCII, so an accepted document is UTF-8.
        outcome.check(String(validating: input, as: UTF8.self) != nil, "json: accepted bytes that are not UTF-8")
        outcome.check(Rule.nesting(v) <= JSONLimits.default.maxDepth + 1,
                      "json: accepted nesting \(Rule.nesting(v)) beyond the limit \(JSONLimits.default.maxDepth)")
        Rule.roundTrips(v, "json", &outcome)
        // What skein writes it must read back under the limits it reads stdin with.
        outcome.check((try? JSON.parse(v.serializedBytes(), limits: JSONLimits(maxDepth: 64, maxBytes: 1 << 30))) == v,
                      "json: the serialization of an accepted document is refused under the same depth limit")
        duplicateKeys(v, &outcome)
    }

    /// The parser refuses duplicate keys; none may slip through (at any size of object).
    static func duplicateKeys(_ v: JSON, _ outcome: inout FuzzOutcome) {
        switch v {
        case .object(let o):
            outcome.check(Set(o.keys).count == o.pairs.count, "json: an object kept duplicate keys")
            for pair in o.pairs { duplicateKeys(pair.value, &outcome) }
        case .array(let a):
            for item in a { duplicateKeys(item, &outcome) }
        default:
            return
        }
    }

    /// YAML takes a String: invalid UTF-8 is repaired before it, as `String(decoding:)` does for a file.
    static func yaml(_ input: [UInt8], _ outcome: inout FuzzOutcome) {
        let text = String(decoding: input, as: UTF8.self)
        let all = try? YAML.parseAll(text)
        guard let v = try? YAML.parse(text) else {
            // parse refuses more than parseAll only for a stream of several documents.
            if let all { outcome.check(all.count > 1, "yaml: parse failed where parseAll read \(all.count) document(s)") }
            return
        }
        outcome.accepted = true
        guard let all else {
            outcome.violations.append("yaml: parse succeeded where parseAll failed")
            return
        }
        outcome.check(all.count <= 1 && (all.first ?? .null) == v, "yaml: parse and parseAll disagree")
        outcome.check(Rule.nesting(v) <= YAML.maxDepth + 1, "yaml: accepted nesting \(Rule.nesting(v)) beyond \(YAML.maxDepth)")
        // A NAD's or kubeconfig's values travel on as JSON: numbers must be JSON numbers, and so on.
        Rule.roundTrips(v, "yaml", &outcome)
        duplicateKeys(v, &outcome)
    }
}
