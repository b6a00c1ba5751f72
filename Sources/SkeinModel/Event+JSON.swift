// The journal's record format. Field order is fixed by these functions: the bytes are hashed,
// so an encoder change is a schema change (bump EventRecord.schemaVersion and keep decoding the old).

extension EventRecord {
    public func encoded() -> [UInt8] {
        var b = ObjectBuilder()
        b.set("seq", JSON.number(String(seq)))
        b.set("schema", schema)
        b.set("time", JSON.number(String(timeNs)))
        b.set("prev", prev)
        b.set("type", event.typeName)
        b.set("data", event.dataJSON())
        return b.json.serializedBytes()
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> EventRecord {
        let json: JSON
        do { json = try JSON.parse(bytes, limits: .stored) } catch { throw DecodeError("record", error.description) }
        let f = try Fields(json, path: "record")
        guard let seq = try f.raw("seq").uint64 else { throw DecodeError("record.seq", "expected an unsigned integer") }
        let schema = try f.int("schema")
        guard schema == EventRecord.schemaVersion else {
            throw DecodeError("record.schema", "unknown schema version \(schema) (this build reads \(EventRecord.schemaVersion))")
        }
        guard let t = try f.raw("time").int else { throw DecodeError("record.time", "expected an integer") }
        let prev = try f.string("prev")
        guard prev.utf8.count == 64, prev.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw DecodeError("record.prev", "expected 64 lowercase hex digits")
        }
        let event = try Event.decode(type: try f.string("type"), data: try f.raw("data"))
        return EventRecord(seq: seq, schema: schema, timeNs: Int64(t), prev: prev, event: event)
    }
}

extension EventRecord {
    /// The envelope's seq, schema and prev without decoding the event: records are written with
    /// a fixed field order (`{"seq":N,"schema":S,"time":T,"prev":"…",`), so a scan that only
    /// checks the chain (verify, over events a snapshot already covers) need not parse each one.
    /// nil when the bytes do not start that way; the caller then decodes fully for the error.
    public static func header(_ b: UnsafeRawBufferPointer) -> (seq: UInt64, schema: Int, prev: String)? {
        var i = 0
        func literal(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard i + n <= b.count else { return false }
            for k in 0..<n where b[i + k] != s.utf8Start[k] { return false }
            i += n
            return true
        }
        func number() -> UInt64? {
            var v: UInt64 = 0
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39, i - start < 20 {
                v = v &* 10 &+ UInt64(b[i] - 0x30)
                i += 1
            }
            return i > start ? v : nil
        }
        guard literal("{\"seq\":"), let seq = number(), literal(",\"schema\":"), let schema = number(),
              literal(",\"time\":") else { return nil }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard number() != nil, literal(",\"prev\":\""), i + 64 < b.count, b[i + 64] == UInt8(ascii: "\"") else { return nil }
        let prev = String(decoding: UnsafeRawBufferPointer(rebasing: b[i..<(i + 64)]), as: UTF8.self)
        return (seq, Int(schema), prev)
    }
}

extension Event {
    func dataJSON() -> JSON {
        switch self {
        case .addRequested(let r): return r.json
        case .addApplied(let o), .addFailed(let o), .delApplied(let o), .delFailed(let o): return o.json
        case .delRequested(let d): return d.json
        case .gcRequested(let g): return g.json
        case .snapshotTaken(let s): return .obj([("digest", .string(s.digest)), ("rows", .int(s.rows))])
        case .eventsPruned(let p): return .obj([("snapshot", .number(String(p.snapshot))), ("count", .int(p.count))])
        }
    }

    static func decode(type: String, data: JSON) throws(DecodeError) -> Event {
        switch type {
        case "addRequested": return .addRequested(try AddRequested(json: data))
        case "addApplied": return .addApplied(try Outcome(json: data))
        case "addFailed": return .addFailed(try Outcome(json: data))
        case "delRequested": return .delRequested(try DelRequested(json: data))
        case "delApplied": return .delApplied(try Outcome(json: data))
        case "delFailed": return .delFailed(try Outcome(json: data))
        case "gcRequested": return .gcRequested(try GCRequested(json: data))
        case "snapshotTaken":
            let f = try Fields(data, path: "snapshotTaken")
            return .snapshotTaken(SnapshotTaken(digest: try f.string("digest"), rows: try f.int("rows")))
        case "eventsPruned":
            let f = try Fields(data, path: "eventsPruned")
            guard let s = try f.raw("snapshot").uint64 else { throw DecodeError("eventsPruned.snapshot", "expected an unsigned integer") }
            return .eventsPruned(EventsPruned(snapshot: s, count: try f.int("count")))
        default: throw DecodeError("record.type", "unknown event type \"\(type)\"")
        }
    }
}

extension AttachmentKey {
    public var json: JSON { .obj([("containerID", .string(containerID)), ("ifname", .string(ifname))]) }

    public init(json: JSON, path: String) throws(DecodeError) {
        let f = try Fields(json, path: path)
        self.init(containerID: try f.string("containerID"), ifname: try f.string("ifname"))
    }
}

extension PodRef {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("namespace", namespace)
        b.set("name", name)
        b.set("uid", uid)
        return b.json
    }

    public init(json: JSON, path: String) throws(DecodeError) {
        let f = try Fields(json, path: path)
        self.init(namespace: try f.string("namespace"), name: try f.string("name"), uid: try f.optString("uid"))
    }
}

extension ProcessRef {
    public var json: JSON { .obj([("pid", .int(pid)), ("start", .number(String(startTime)))]) }

    public init(json: JSON, path: String) throws(DecodeError) {
        let f = try Fields(json, path: path)
        guard let start = try f.raw("start").uint64 else { throw DecodeError("\(path).start", "expected an integer") }
        self.init(pid: Int32(truncatingIfNeeded: try f.int("pid")), startTime: start)
    }
}

extension AddRequested {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("key", key.json)
        b.set("network", network)
        b.set("netns", netns)
        b.set("pod", pod?.json)
        b.set("process", process.json)
        b.set("plugin", plugin)
        if !requestedIPs.isEmpty { b.set("requestedIPs", JSON.array(requestedIPs.map { .string($0.description) })) }
        b.set("cniArgsMAC", cniArgsMAC)
        if !chained.isEmpty { b.set("chained", JSON.array(chained)) }
        b.set("cniArgs", cniArgs)
        if !execTypes.isEmpty { b.set("execTypes", JSON.array(execTypes.map { .string($0) })) }
        b.set("facts", facts)
        b.set("decision", decision?.json)
        b.set("refusal", refusal.map { JSON.obj([("code", .int($0.code)), ("message", .string($0.message))]) })
        return b.json
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "addRequested")
        var ips: [IPAddress] = []
        for v in try f.array("requestedIPs") {
            guard let s = v.string, let ip = IPAddress(s) else { throw DecodeError("addRequested.requestedIPs", "invalid IP") }
            ips.append(ip)
        }
        let decision = f.has("decision") ? try AddDecision(json: try f.raw("decision")) : nil
        var refusal: Refusal?
        if f.has("refusal") {
            let rf = try Fields(try f.raw("refusal"), path: "addRequested.refusal")
            refusal = Refusal(code: try rf.int("code"), message: try rf.string("message"))
        }
        self.init(key: try AttachmentKey(json: try f.raw("key"), path: "addRequested.key"),
                  network: try f.string("network"), netns: try f.string("netns"),
                  pod: f.has("pod") ? try PodRef(json: try f.raw("pod"), path: "addRequested.pod") : nil,
                  process: try ProcessRef(json: try f.raw("process"), path: "addRequested.process"),
                  plugin: try f.raw("plugin"), requestedIPs: ips, cniArgsMAC: try f.optString("cniArgsMAC"),
                  chained: try f.array("chained"), cniArgs: try f.optString("cniArgs"),
                  execTypes: try f.array("execTypes").compactMap(\.string), facts: f.has("facts") ? try f.raw("facts") : nil)
        self.decision = decision
        self.refusal = refusal
    }
}

extension Outcome {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("key", key.json)
        b.set("requestSeq", requestSeq.map { JSON.number(String($0)) })
        b.set("cause", cause.rawValue)
        b.set("code", code)
        b.set("message", message)
        b.setIfTrue("released", released)
        b.set("result", result)
        b.set("durationMs", durationMs)
        return b.json
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "outcome")
        let causeText = try f.string("cause")
        guard let cause = EventCause(rawValue: causeText) else { throw DecodeError("outcome.cause", "unknown cause \"\(causeText)\"") }
        var requestSeq: UInt64?
        if f.has("requestSeq") {
            guard let v = try f.raw("requestSeq").uint64 else { throw DecodeError("outcome.requestSeq", "expected an unsigned integer") }
            requestSeq = v
        }
        self.init(key: try AttachmentKey(json: try f.raw("key"), path: "outcome.key"), requestSeq: requestSeq, cause: cause,
                  code: try f.optInt("code"), message: try f.optString("message"),
                  released: try f.bool("released"), result: f.has("result") ? try f.raw("result") : nil,
                  durationMs: try f.optInt("durationMs"))
    }
}

extension DelRequested {
    public var json: JSON {
        .obj([("key", key.json), ("cause", .string(cause.rawValue)), ("process", process.json)])
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "delRequested")
        let causeText = try f.string("cause")
        guard let cause = EventCause(rawValue: causeText) else { throw DecodeError("delRequested.cause", "unknown cause \"\(causeText)\"") }
        self.init(key: try AttachmentKey(json: try f.raw("key"), path: "delRequested.key"), cause: cause,
                  process: try ProcessRef(json: try f.raw("process"), path: "delRequested.process"))
    }
}

extension GCRequested {
    public var json: JSON {
        .obj([("valid", .array(valid.map(\.json))), ("stale", .array(stale.map(\.json)))])
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "gcRequested")
        var valid: [AttachmentKey] = []
        var stale: [AttachmentKey] = []
        for v in try f.array("valid") { valid.append(try AttachmentKey(json: v, path: "gcRequested.valid")) }
        for v in try f.array("stale") { stale.append(try AttachmentKey(json: v, path: "gcRequested.stale")) }
        self.init(valid: valid, stale: stale)
    }
}

extension AddDecision {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("type", pluginType)
        b.set("spec", spec.json)
        b.set("addresses", JSON.array(addresses.map(\.json)))
        b.set("cursors", JSON.array(cursors.sorted { $0.key < $1.key }.map {
            .obj([("rangeSet", .int($0.key)), ("ip", .string($0.value.description))])
        }))
        if !resultRoutes.isEmpty { b.set("routes", JSON.array(resultRoutes.map(\.json))) }
        b.set("dns", dns)
        if !holdsAddresses { b.set("unheld", true) }
        if !exec.isEmpty { b.set("exec", JSON.array(exec)) }
        return b.json
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "decision")
        var held: [HeldAddress] = []
        for a in try f.array("addresses") { held.append(try HeldAddress(json: a, path: "decision.addresses")) }
        var cursors: [Int: IPAddress] = [:]
        for c in try f.array("cursors") {
            let cf = try Fields(c, path: "decision.cursors")
            cursors[try cf.int("rangeSet")] = try cf.ip("ip")
        }
        var routes: [RouteSpec] = []
        for r in try f.array("routes") { routes.append(try RouteSpec(json: r, path: "decision.routes")) }
        self.init(pluginType: try f.string("type"), spec: try AttachmentSpec(json: try f.raw("spec")),
                  addresses: held, cursors: cursors, resultRoutes: routes, dns: f.has("dns") ? try f.raw("dns") : nil,
                  holdsAddresses: !(try f.bool("unheld")), exec: try f.array("exec"))
    }
}

extension HeldAddress {
    public var json: JSON {
        var o = ObjectBuilder()
        o.set("address", address.description)
        o.set("gateway", gateway?.description)
        return o.json
    }

    public init(json: JSON, path: String) throws(DecodeError) {
        let f = try Fields(json, path: path)
        self.init(address: try f.cidr("address"), gateway: try f.optIP("gateway"))
    }
}
