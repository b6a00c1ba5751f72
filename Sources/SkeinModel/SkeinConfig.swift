// The "type": "skein" network config: Multus' NetConf keys, plus Skein's own `stateDir` and `nadDir`.
// Only what this layer acts on is typed; every other Multus key stays in `raw` for later work.

public struct DelegateConfig: Equatable, Sendable {
    /// The delegate's own name, else its conflist's name, else the Skein network's name.
    public var name: String
    public var cniVersion: String
    /// Plugin objects with `name` and `cniVersion` injected, ready to send on a delegate's stdin.
    public var plugins: [JSON]
    public var isConflist: Bool

    public init(name: String, cniVersion: String, plugins: [JSON], isConflist: Bool) {
        self.name = name; self.cniVersion = cniVersion; self.plugins = plugins; self.isConflist = isConflist
    }
}

public struct SkeinConfig: Equatable, Sendable {
    public var cniVersion: String
    public var name: String
    public var stateDir: String
    public var delegates: [DelegateConfig]
    /// The whole config as received, for keys a later layer implements (clusterNetwork, kubeconfig, …).
    public var raw: JSON

    public static let defaultStateDir = "/var/lib/skein"

    /// Multus keys accepted and kept in `raw` but not acted on yet.
    public static let deferredKeys = [
        "clusterNetwork", "defaultNetworks", "kubeconfig", "confDir", "cniDir", "binDir", "systemNamespaces",
        "multusNamespace", "namespaceIsolation", "globalNamespaces", "readinessindicatorfile", "logFile",
        "logLevel", "logToStderr", "capabilities", "runtimeConfig", "nadDir",
    ]

    public static func parse(_ config: JSON) throws(CNIError) -> SkeinConfig {
        guard let f = CNIFields(config, code: 7) else {
            throw .invalidConfig("network config must be a JSON object", details: "got \(config.typeName)")
        }
        let version = try CNIVersion.resolve(config: config).description
        let name = try f.requiredString("name")
        try CNIName.validateNetworkName(name)
        _ = try f.string("type")
        let stateDir = try f.string("stateDir") ?? defaultStateDir
        try validateStateDir(stateDir)
        guard let list = try f.array("delegates") else {
            if f.present("clusterNetwork") != nil {
                throw .unsupportedField("clusterNetwork is not supported yet; use delegates")
            }
            throw .invalidConfig("delegates is required")
        }
        guard !list.isEmpty else { throw .invalidConfig("delegates must not be empty") }
        var delegates: [DelegateConfig] = []
        for (i, item) in list.enumerated() {
            delegates.append(try parseDelegate(item, index: i, parentName: name, parentVersion: version))
        }
        return SkeinConfig(cniVersion: version, name: name, stateDir: stateDir, delegates: delegates, raw: config)
    }

    /// The journal lives here; a relative or ".."-bearing path could put it somewhere the
    /// operator did not mean, and a NUL would be cut short by the C layer below.
    public static func validateStateDir(_ dir: String) throws(CNIError) {
        guard dir.utf8.first == UInt8(ascii: "/") else { throw .invalidConfig("stateDir must be an absolute path", details: dir) }
        guard !dir.utf8.contains(0) else { throw .invalidConfig("stateDir contains a NUL byte") }
        guard !dir.split(separator: "/").contains("..") else {
            throw .invalidConfig("stateDir must not contain \"..\" components", details: dir)
        }
    }

    /// An element is a single plugin config (has `type`) or a conflist (has `plugins`), as Multus accepts.
    static func parseDelegate(_ item: JSON, index: Int, parentName: String,
                              parentVersion: String) throws(CNIError) -> DelegateConfig {
        let ctx = "delegates[\(index)]."
        guard let f = CNIFields(item, context: ctx, code: 7) else {
            throw .invalidConfig("delegates[\(index)] must be an object", details: "got \(item.typeName)")
        }
        let name = try f.string("name") ?? parentName
        try CNIName.validateNetworkName(name, key: ctx + "name")
        var version = parentVersion
        if f.present("cniVersion") != nil || f.present("cniVersions") != nil {
            version = try CNIVersion.resolve(config: item).description
        }
        let isList = f.present("plugins") != nil
        if isList && f.present("type") != nil {
            throw .invalidConfig("\(ctx.dropLast()) has both type and plugins; it must be one plugin or one conflist")
        }
        let plugins: [JSON]
        if isList {
            plugins = try f.objects("plugins") { (p) throws(CNIError) -> JSON in
                try injected(p, name: name, version: version)
            }
            guard !plugins.isEmpty else { throw .invalidConfig("\(ctx)plugins must not be empty") }
        } else if f.present("type") != nil {
            plugins = [try injected(f, name: name, version: version)]
        } else {
            throw .invalidConfig("\(ctx.dropLast()) has neither type nor plugins")
        }
        return DelegateConfig(name: name, cniVersion: version, plugins: plugins, isConflist: isList)
    }

    /// libcni's buildOneConfig overwrites every plugin's `name` and `cniVersion` with the list's,
    /// so a delegate sees exactly what it would see under libcni.
    static func injected(_ f: CNIFields, name: String, version: String) throws(CNIError) -> JSON {
        try validatePluginType(try f.requiredString("type"), key: f.context + "type")
        var o = f.object
        o["name"] = .string(name)
        o["cniVersion"] = .string(version)
        return .object(o)
    }

    /// `type` names an executable looked up in CNI_PATH: a '/' or ".." would escape it, and a NUL
    /// would truncate the path handed to exec.
    public static func validatePluginType(_ type: String, key: String = "type") throws(CNIError) {
        guard !type.isEmpty else { throw .invalidConfig("\(key) must not be empty") }
        guard !type.utf8.contains(UInt8(ascii: "/")), !type.utf8.contains(0), !type.contains(".."), type != "." else {
            throw .invalidConfig("\(key) must be a plain executable name", details: type)
        }
    }
}
