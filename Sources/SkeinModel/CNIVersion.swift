// CNI spec versions: which ones Skein speaks, and how a config's version is chosen.

public struct CNIVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Strictly "a.b.c" with decimal parts: the reference compares versions as strings against its
    /// supported list, so "1.0" or "v1.0.0" never match anything and are better refused early.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var values: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 9, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let n = Int(part) else { return nil }
            values.append(n)
        }
        self.init(values[0], values[1], values[2])
    }

    public var description: String { "\(major).\(minor).\(patch)" }

    public static func < (a: CNIVersion, b: CNIVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    /// 0.1.0 and 0.2.0 results have a different shape (ip4/ip6 objects) that no NAD in use still needs.
    public static let supported: [String] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    public static let latest = "1.1.0"

    /// CHECK arrived in 0.4.0; the reference skel refuses it below that with code 1.
    public var allowsCheck: Bool { self >= CNIVersion(0, 4, 0) }
    /// GC and STATUS arrived in 1.1.0; the reference skel refuses them below that with code 1.
    public var allowsGCAndStatus: Bool { self >= CNIVersion(1, 1, 0) }

    /// Code 1 with the reference skel's wording ("incompatible CNI versions", details naming both sides).
    public static func validate(_ text: String) throws(CNIError) -> CNIVersion {
        guard supported.contains(text), let v = CNIVersion(text) else {
            throw .incompatibleVersion("incompatible CNI versions",
                                       details: "config is \"\(text)\", plugin supports \(supportedList)")
        }
        return v
    }

    static var supportedList: String { "[" + supported.map { "\"\($0)\"" }.joined(separator: " ") + "]" }

    /// The version a config asks for. A 1.1 config may list `cniVersions`; the runtime must pick the
    /// highest of the union with `cniVersion`, so we pick the highest one we support (libcni likewise
    /// skips versions newer than its own). A missing `cniVersion` means "0.1.0" to the reference
    /// (`create.DecodeVersion`), which Skein does not speak: code 1. A non-string one fails the
    /// reference's JSON decode: code 6.
    public static func resolve(config: JSON) throws(CNIError) -> CNIVersion {
        var candidates: [String] = []
        if let raw = config["cniVersion"] {
            guard let s = raw.string else {
                throw .decodingFailure("cniVersion must be a string", details: "got \(raw.typeName)")
            }
            candidates.append(s)
        }
        if let raw = config["cniVersions"] {
            guard let list = raw.array else {
                throw .invalidConfig("cniVersions must be an array of strings", details: "got \(raw.typeName)")
            }
            for (i, item) in list.enumerated() {
                guard let s = item.string else {
                    throw .invalidConfig("cniVersions[\(i)] must be a string", details: "got \(item.typeName)")
                }
                candidates.append(s)
            }
        }
        guard !candidates.isEmpty else {
            throw .incompatibleVersion("incompatible CNI versions",
                                       details: "config has no cniVersion (the reference reads that as \"0.1.0\"), plugin supports \(supportedList)")
        }
        let usable = candidates.filter { supported.contains($0) }.compactMap(CNIVersion.init)
        guard let best = usable.max() else {
            let shown = candidates.count == 1 ? "\"\(candidates[0])\"" : "\(candidates)"
            throw .incompatibleVersion("incompatible CNI versions", details: "config is \(shown), plugin supports \(supportedList)")
        }
        return best
    }

    /// The VERSION result: the spec says to echo the input's `cniVersion`; with none we state our own.
    public static func versionResult(requested: String?) -> JSON {
        .obj([
            ("cniVersion", .string(requested ?? latest)),
            ("supportedVersions", .array(supported.map { .string($0) })),
        ])
    }
}
