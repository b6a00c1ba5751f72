// Decoding helpers shared by the event, record and state codecs. A decode failure names the field,
// so that `skein-journal verify` can say exactly what is wrong with a record.

public struct DecodeError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

public struct Fields {
    public let object: JSONObject
    public let path: String

    public init(_ json: JSON, path: String) throws(DecodeError) {
        guard case .object(let o) = json else { throw DecodeError(path, "expected an object, got \(json.typeName)") }
        self.object = o
        self.path = path
    }

    public func has(_ key: String) -> Bool {
        guard let v = object[key] else { return false }
        return !v.isNull
    }

    public func raw(_ key: String) throws(DecodeError) -> JSON {
        guard let v = object[key] else { throw DecodeError("\(path).\(key)", "missing") }
        return v
    }

    public func string(_ key: String) throws(DecodeError) -> String {
        guard let s = try raw(key).string else { throw DecodeError("\(path).\(key)", "expected a string") }
        return s
    }

    public func optString(_ key: String) throws(DecodeError) -> String? {
        has(key) ? try string(key) : nil
    }

    public func int(_ key: String) throws(DecodeError) -> Int {
        guard let i = try raw(key).int else { throw DecodeError("\(path).\(key)", "expected an integer") }
        return i
    }

    public func optInt(_ key: String) throws(DecodeError) -> Int? {
        has(key) ? try int(key) : nil
    }

    public func bool(_ key: String, default d: Bool = false) throws(DecodeError) -> Bool {
        guard has(key) else { return d }
        guard let b = try raw(key).bool else { throw DecodeError("\(path).\(key)", "expected a boolean") }
        return b
    }

    public func array(_ key: String) throws(DecodeError) -> [JSON] {
        guard has(key) else { return [] }
        guard let a = try raw(key).array else { throw DecodeError("\(path).\(key)", "expected an array") }
        return a
    }

    public func ip(_ key: String) throws(DecodeError) -> IPAddress {
        let s = try string(key)
        guard let ip = IPAddress(s) else { throw DecodeError("\(path).\(key)", "invalid IP address \"\(s)\"") }
        return ip
    }

    public func optIP(_ key: String) throws(DecodeError) -> IPAddress? {
        has(key) ? try ip(key) : nil
    }

    public func cidr(_ key: String) throws(DecodeError) -> IPNetwork {
        let s = try string(key)
        guard let n = IPNetwork(s) else { throw DecodeError("\(path).\(key)", "invalid CIDR \"\(s)\"") }
        return n
    }

    public func mac(_ key: String) throws(DecodeError) -> MACAddress? {
        guard has(key) else { return nil }
        let s = try string(key)
        guard let m = MACAddress(s) else { throw DecodeError("\(path).\(key)", "invalid MAC \"\(s)\"") }
        return m
    }

    public func uint32(_ key: String) throws(DecodeError) -> UInt32? {
        guard has(key) else { return nil }
        guard let v = try raw(key).uint64, v <= UInt64(UInt32.max) else {
            throw DecodeError("\(path).\(key)", "expected an unsigned 32-bit integer")
        }
        return UInt32(v)
    }
}

/// Builds an object, leaving out nil members (absent and null are the same to our decoders).
public struct ObjectBuilder {
    public var object = JSONObject()
    public init() {}

    public mutating func set(_ key: String, _ value: JSON?) {
        if let value { object.pairs.append((key: key, value: value)) }
    }
    public mutating func set(_ key: String, _ value: String?) { set(key, value.map { JSON.string($0) }) }
    public mutating func set(_ key: String, _ value: Int?) { set(key, value.map { JSON.int($0) }) }
    public mutating func set(_ key: String, _ value: UInt32?) { set(key, value.map { JSON.int($0) }) }
    public mutating func set(_ key: String, _ value: Bool) { set(key, JSON.bool(value)) }
    public mutating func setIfTrue(_ key: String, _ value: Bool) { if value { set(key, JSON.bool(true)) } }

    public var json: JSON { .object(object) }
}
