// One CNI invocation, parsed and validated from the environment and stdin. Pure: the caller reads
// the environment and stdin; checks that need the kernel (is CNI_NETNS really a netns?) happen later.

public struct CNIRequest: Sendable {
    public var command: CNICommand
    public var containerID: ContainerID?
    public var netns: String?
    public var ifname: InterfaceName?
    /// CNI_ARGS in the order given: later plugins may be sensitive to it, and keys may repeat.
    public var args: [(key: String, value: String)]
    /// CNI_PATH split on ':' with empty entries dropped.
    public var path: [String]
    /// The config version in use: the resolved `cniVersion` (or, for VERSION, the one asked about).
    public var cniVersion: String
    public var config: JSON
    public var rawConfig: [UInt8]

    /// The first value for `key`, as the reference LoadArgs sees a struct field.
    public func arg(_ key: String) -> String? {
        args.first(where: { $0.key == key })?.value
    }

    /// Linux PATH_MAX: a longer path cannot be opened anyway.
    public static let maxNetnsBytes = 4096

    /// Order of checks follows the reference skel, so that a request with several faults gets the same
    /// code: environment (4), stdin decode (6), network name (7), version (1).
    public static func parse(env: [String: String], stdin: [UInt8],
                             maxStdinBytes: Int = 1 << 20) throws(CNIError) -> CNIRequest {
        let command = try parseCommand(env["CNI_COMMAND"])
        let fields = try EnvFields(command: command, env: env)
        if command == .version {
            return versionRequest(fields: fields, stdin: stdin, maxStdinBytes: maxStdinBytes)
        }
        let config = try decodeConfig(stdin, maxBytes: maxStdinBytes)
        guard let nameJSON = config["name"] else { throw .invalidConfig("missing network name") }
        guard let name = nameJSON.string else {
            throw .decodingFailure("network name must be a string", details: "got \(nameJSON.typeName)")
        }
        try CNIName.validateNetworkName(name)
        let version = try CNIVersion.resolve(config: config)
        try checkCommandAllowed(command, version: version)
        return CNIRequest(command: command, containerID: fields.containerID, netns: fields.netns,
                          ifname: fields.ifname, args: fields.args, path: fields.path,
                          cniVersion: version.description, config: config, rawConfig: stdin)
    }

    /// An unknown command is an environment error (4) in the reference skel.
    static func parseCommand(_ raw: String?) throws(CNIError) -> CNICommand {
        guard let raw, !raw.isEmpty else {
            throw .invalidEnvironment("required env variables [CNI_COMMAND] missing")
        }
        guard let command = CNICommand(rawValue: raw) else {
            throw .invalidEnvironment("unknown CNI_COMMAND: \(raw)")
        }
        return command
    }

    /// Size first, so that an oversized stdin is never scanned. Oversize is code 6 (decoding failure):
    /// the document could not be decoded within our limits; the reference, reading through a length
    /// limit, would likewise fail in json.Unmarshal (code 6). A non-object is code 6 too, as the
    /// reference's unmarshal into a struct fails.
    static func decodeConfig(_ stdin: [UInt8], maxBytes: Int) throws(CNIError) -> JSON {
        guard stdin.count <= maxBytes else {
            throw .decodingFailure("network config on stdin is too large",
                                   details: "\(stdin.count) bytes, limit \(maxBytes)")
        }
        let json: JSON
        do {
            json = try JSON.parse(stdin, limits: JSONLimits(maxDepth: JSONLimits.default.maxDepth, maxBytes: maxBytes))
        } catch {
            throw .decodingFailure("error decoding network config", details: error.description)
        }
        guard json.object != nil else {
            throw .decodingFailure("network config must be a JSON object", details: "got \(json.typeName)")
        }
        return json
    }

    static func checkCommandAllowed(_ command: CNICommand, version: CNIVersion) throws(CNIError) {
        switch command {
        case .check where !version.allowsCheck:
            throw .incompatibleVersion("config version does not allow CHECK", details: "cniVersion \(version)")
        case .gc where !version.allowsGCAndStatus, .status where !version.allowsGCAndStatus:
            throw .incompatibleVersion("config version does not allow \(command.rawValue)", details: "cniVersion \(version)")
        default:
            return
        }
    }

    /// The reference skel does not even read stdin for VERSION, so a missing or broken one is not an
    /// error; when it does carry a string `cniVersion`, the spec says to echo it.
    static func versionRequest(fields: EnvFields, stdin: [UInt8], maxStdinBytes: Int) -> CNIRequest {
        let config = (try? decodeConfig(stdin, maxBytes: maxStdinBytes)) ?? .null
        let asked = config["cniVersion"]?.string ?? CNIVersion.latest
        return CNIRequest(command: .version, containerID: nil, netns: nil, ifname: nil, args: [],
                          path: fields.path, cniVersion: asked, config: config, rawConfig: stdin)
    }
}

/// The environment variables, required per command as the spec's table says (SPEC.md "Parameters").
/// Unlike the reference skel we do not require CNI_PATH for ADD/DEL/CHECK/STATUS: the spec marks it
/// optional there, and only GC needs it.
struct EnvFields {
    var containerID: ContainerID?
    var netns: String?
    var ifname: InterfaceName?
    var args: [(key: String, value: String)] = []
    var path: [String] = []

    init(command: CNICommand, env: [String: String]) throws(CNIError) {
        func value(_ key: String) -> String? {
            guard let v = env[key], !v.isEmpty else { return nil }   // empty counts as unset, as in skel
            return v
        }
        let attach = [CNICommand.add, .del, .check].contains(command)
        var missing: [String] = []
        // Like skel: present values are validated in order as they are met; missing ones are reported together.
        if attach {
            if let v = value("CNI_CONTAINERID") { containerID = try ContainerID(validating: v) } else { missing.append("CNI_CONTAINERID") }
            if let v = value("CNI_NETNS") {
                netns = try EnvFields.validateNetns(v)
            } else if command != .del {
                missing.append("CNI_NETNS")   // DEL may come after the netns is gone
            }
            if let v = value("CNI_IFNAME") { ifname = try InterfaceName(validating: v) } else { missing.append("CNI_IFNAME") }
            if let v = value("CNI_ARGS") { args = try EnvFields.parseArgs(v) }
        }
        if let v = value("CNI_PATH") {
            path = v.split(separator: ":").map(String.init)
        } else if command == .gc {
            missing.append("CNI_PATH")
        }
        if !missing.isEmpty {
            throw .invalidEnvironment("required env variables [\(missing.joined(separator: ","))] missing")
        }
    }

    /// Syntax only; whether the path is a network namespace is an I/O question for the executor.
    static func validateNetns(_ v: String) throws(CNIError) -> String {
        guard v.utf8.first == UInt8(ascii: "/") else {
            throw .invalidEnvironment("CNI_NETNS must be an absolute path", details: v)
        }
        guard !v.utf8.contains(0) else { throw .invalidEnvironment("CNI_NETNS contains a NUL byte") }
        guard v.utf8.count <= CNIRequest.maxNetnsBytes else {
            throw .invalidEnvironment("CNI_NETNS is too long", details: "\(v.utf8.count) bytes, limit \(CNIRequest.maxNetnsBytes)")
        }
        return v
    }

    /// "K=V;K2=V2". The reference skel passes CNI_ARGS through unparsed; plugins parse it with
    /// `types.LoadArgs`, which refuses any part that does not split into exactly two on '='
    /// (so "A=B;" and "A=B=C" are errors). We match that and also refuse an empty key. Code 4:
    /// it is a malformed environment variable.
    static func parseArgs(_ raw: String) throws(CNIError) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        for pair in raw.split(separator: ";", omittingEmptySubsequences: false) {
            let kv = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard kv.count == 2 else { throw .invalidEnvironment("CNI_ARGS: invalid pair \"\(pair)\"") }
            guard !kv[0].isEmpty else { throw .invalidEnvironment("CNI_ARGS: empty key in pair \"\(pair)\"") }
            out.append((key: String(kv[0]), value: String(kv[1])))
        }
        return out
    }
}
