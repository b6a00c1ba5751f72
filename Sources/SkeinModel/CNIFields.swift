// Typed reads of JSON object members with errors that name the key, shared by the CNI parsers.
// `null` reads as absent, as Go's decoder leaves the field at its zero value.

public struct CNIFields {
    public let object: JSONObject
    /// Prefix for messages, e.g. "ips[0]." or "delegates[1].".
    public let context: String
    /// 6 for results we decode, 7 for configs we validate.
    public let code: Int

    public init(_ object: JSONObject, context: String = "", code: Int) {
        self.object = object
        self.context = context
        self.code = code
    }

    /// Nil when `json` is not an object.
    public init?(_ json: JSON, context: String = "", code: Int) {
        guard let o = json.object else { return nil }
        self.init(o, context: context, code: code)
    }

    public func fail(_ key: String, _ expected: String, _ got: JSON) -> CNIError {
        CNIError(code: code, msg: "\(context)\(key) must be \(expected)", details: "got \(got.typeName)")
    }

    public func present(_ key: String) -> JSON? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    public func string(_ key: String) throws(CNIError) -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v.string else { throw fail(key, "a string", v) }
        return s
    }

    public func requiredString(_ key: String) throws(CNIError) -> String {
        guard let s = try string(key) else {
            throw CNIError(code: code, msg: "\(context)\(key) is required")
        }
        return s
    }

    public func int(_ key: String) throws(CNIError) -> Int? {
        guard let v = present(key) else { return nil }
        guard let n = v.int else { throw fail(key, "an integer", v) }
        return n
    }

    public func bool(_ key: String) throws(CNIError) -> Bool? {
        guard let v = present(key) else { return nil }
        guard let b = v.bool else { throw fail(key, "a boolean", v) }
        return b
    }

    public func array(_ key: String) throws(CNIError) -> [JSON]? {
        guard let v = present(key) else { return nil }
        guard let a = v.array else { throw fail(key, "an array", v) }
        return a
    }

    public func object(_ key: String) throws(CNIError) -> JSONObject? {
        guard let v = present(key) else { return nil }
        guard let o = v.object else { throw fail(key, "an object", v) }
        return o
    }

    public func strings(_ key: String) throws(CNIError) -> [String] {
        try optionalStrings(key) ?? []
    }

    /// nil when absent: for keys where an empty list and no list mean different things.
    public func optionalStrings(_ key: String) throws(CNIError) -> [String]? {
        guard let list = try array(key) else { return nil }
        var out: [String] = []
        for (i, item) in list.enumerated() {
            guard let s = item.string else { throw fail("\(key)[\(i)]", "a string", item) }
            out.append(s)
        }
        return out
    }

    /// Each element must be an object; `body` gets a reader whose messages name the element.
    public func objects<T>(_ key: String, _ body: (CNIFields) throws(CNIError) -> T) throws(CNIError) -> [T] {
        guard let list = try array(key) else { return [] }
        var out: [T] = []
        for (i, item) in list.enumerated() {
            guard let o = item.object else { throw fail("\(key)[\(i)]", "an object", item) }
            out.append(try body(CNIFields(o, context: "\(context)\(key)[\(i)].", code: code)))
        }
        return out
    }
}
