// The GC input: which attachments the runtime still considers valid.

public struct GCAttachment: Hashable, Sendable {
    public var containerID: ContainerID
    public var ifname: InterfaceName

    public init(containerID: ContainerID, ifname: InterfaceName) {
        self.containerID = containerID
        self.ifname = ifname
    }
}

public struct GCRequest: Sendable, Equatable {
    /// Nil when the config carries neither key: "no list" must not be read as "nothing is valid",
    /// or a runtime that forgot the key would have every attachment released.
    public var validAttachments: Set<GCAttachment>?

    /// The spec-v1.1.0 tag named the key `cni.dev/attachments`; cni PR #1103 renamed it to
    /// `cni.dev/valid-attachments` and libcni now sends both, so we take the union.
    public static let keys = ["cni.dev/valid-attachments", "cni.dev/attachments"]

    /// Any malformed entry fails the whole GC (fail closed): a misread list could release addresses
    /// that live pods hold, while a refused GC only delays cleanup.
    public static func parse(_ config: JSON) throws(CNIError) -> GCRequest {
        var found = false
        var set = Set<GCAttachment>()
        for key in keys {
            guard let raw = config[key], !raw.isNull else { continue }
            found = true
            guard let list = raw.array else {
                throw .decodingFailure("\(key) must be an array", details: "got \(raw.typeName)")
            }
            for (i, item) in list.enumerated() {
                set.insert(try attachment(item, at: "\(key)[\(i)]"))
            }
        }
        return GCRequest(validAttachments: found ? set : nil)
    }

    static func attachment(_ item: JSON, at path: String) throws(CNIError) -> GCAttachment {
        guard let cid = item["containerID"]?.string, let ifn = item["ifname"]?.string else {
            throw .decodingFailure("\(path) must be an object with string containerID and ifname",
                                   details: item.serialized())
        }
        do {
            return GCAttachment(containerID: try ContainerID(validating: cid), ifname: try InterfaceName(validating: ifn))
        } catch {
            throw .invalidConfig("\(path): \(error.msg)", details: error.details)
        }
    }
}
