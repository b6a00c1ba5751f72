// The "type": "skein" network config: Multus' NetConf keys with Multus' defaults, plus Skein's own
// `stateDir`, `nadDir` and `execTypes`. Keys Multus has but Skein does not act on (logOptions,
// retryDeleteOnError, auxiliaryCNIChainName, …) are accepted and stay in `raw`.

/// One delegate network: a conf or a conflist, plugins ready for a delegate's stdin.
public struct DelegateConfig: Equatable, Sendable {
    /// The config's own name, else the fallback (the Skein network's name, or the NAD's).
    public var name: String
    public var cniVersion: String
    /// Plugin objects with `name` and `cniVersion` injected, ready to send on a delegate's stdin.
    public var plugins: [JSON]
    public var isConflist: Bool

    public init(name: String, cniVersion: String, plugins: [JSON], isConflist: Bool) {
        self.name = name; self.cniVersion = cniVersion; self.plugins = plugins; self.isConflist = isConflist
    }

    /// A conf (has `type`) or a conflist (has `plugins`), as found in a Skein config's `delegates`, a
    /// NAD's `spec.config` or a file in `confDir`. `fallbackName`/`fallbackVersion` stand in for a
    /// missing `name`/`cniVersion`; `context` prefixes error messages (e.g. "delegates[1].").
    public static func parse(_ json: JSON, fallbackName: String, fallbackVersion: String,
                             context: String = "") throws(CNIError) -> DelegateConfig {
        let what = context.isEmpty ? "network config" : String(context.dropLast())
        guard let f = CNIFields(json, context: context, code: 7) else {
            throw .invalidConfig("\(what) must be an object", details: "got \(json.typeName)")
        }
        let name = try f.string("name") ?? fallbackName
        try CNIName.validateNetworkName(name, key: context + "name")
        var version = fallbackVersion
        if f.present("cniVersion") != nil || f.present("cniVersions") != nil {
            version = try CNIVersion.resolve(config: json).description
        }
        let isList = f.present("plugins") != nil
        if isList && f.present("type") != nil {
            throw .invalidConfig("\(what) has both type and plugins; it must be one plugin or one conflist")
        }
        let plugins: [JSON]
        if isList {
            plugins = try f.objects("plugins") { (p) throws(CNIError) -> JSON in
                try SkeinConfig.injected(p, name: name, version: version)
            }
            guard !plugins.isEmpty else { throw .invalidConfig("\(context)plugins must not be empty") }
        } else if f.present("type") != nil {
            plugins = [try SkeinConfig.injected(f, name: name, version: version)]
        } else {
            throw .invalidConfig("\(what) has neither type nor plugins")
        }
        return DelegateConfig(name: name, cniVersion: version, plugins: plugins, isConflist: isList)
    }
}

/// The `"type": "skein"` config: Multus' NetConf keys, typed, plus Skein's own.
public struct SkeinConfig: Equatable, Sendable {
    /// Multus' `logLevel` values, most verbose first.
    public enum LogLevel: String, Sendable, CaseIterable { case debug, verbose, error, panic }

    public var cniVersion: String
    public var name: String
    public var stateDir: String
    /// The config's own delegates (Multus' `delegates`); empty when `clusterNetwork` names the cluster network.
    public var delegates: [DelegateConfig]
    /// A NAD name (in `multusNamespace`), a CNI network name in `confDir`, or a file or directory path.
    public var clusterNetwork: String?
    /// Attached after the cluster network to pods outside `systemNamespaces` (only with `clusterNetwork`).
    public var defaultNetworks: [String]
    public var kubeconfig: String?
    public var confDir: String
    /// Multus' cache directory: accepted for compatibility, unused (the journal replaces the cache).
    public var cniDir: String?
    public var binDir: String
    public var systemNamespaces: [String]
    public var multusNamespace: String
    public var namespaceIsolation: Bool
    /// Namespaces whose NADs any pod may use under `namespaceIsolation`.
    public var globalNamespaces: [String]
    public var readinessIndicatorFile: String?
    public var logFile: String?
    public var logLevel: LogLevel
    public var logToStderr: Bool
    public var capabilities: JSONObject
    /// What the runtime passed for the capabilities above (portMappings, bandwidth, …).
    public var runtimeConfig: JSONObject
    /// A directory of NAD YAML/JSON files, used instead of (or without) the Kubernetes API.
    public var nadDir: String?
    /// Plugin types to exec from CNI_PATH even though Skein has them built in.
    public var execTypes: [String]
    /// The whole config as received.
    public var raw: JSON

    public static let defaultStateDir = "/var/lib/skein"
    public static let defaultConfDir = "/etc/cni/multus/net.d"
    public static let defaultBinDir = "/opt/cni/bin"

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
        let clusterNetwork = try nonEmpty(f, "clusterNetwork")
        let delegates = try parseDelegates(f, clusterNetwork: clusterNetwork, name: name, version: version)
        var c = SkeinConfig(cniVersion: version, name: name, stateDir: stateDir, delegates: delegates,
                            clusterNetwork: clusterNetwork, defaultNetworks: try f.strings("defaultNetworks"),
                            kubeconfig: try path(f, "kubeconfig"), confDir: try path(f, "confDir") ?? defaultConfDir,
                            cniDir: try path(f, "cniDir"), binDir: try path(f, "binDir") ?? defaultBinDir,
                            systemNamespaces: ["kube-system"], multusNamespace: "kube-system",
                            namespaceIsolation: try f.bool("namespaceIsolation") ?? false, globalNamespaces: ["default"],
                            readinessIndicatorFile: try path(f, "readinessindicatorfile"), logFile: try path(f, "logFile"),
                            logLevel: try logLevel(f), logToStderr: try f.bool("logToStderr") ?? true,
                            capabilities: try f.object("capabilities") ?? JSONObject(),
                            runtimeConfig: try f.object("runtimeConfig") ?? JSONObject(),
                            nadDir: try path(f, "nadDir"), execTypes: try execTypes(f), raw: config)
        if f.present("systemNamespaces") != nil { c.systemNamespaces = try f.strings("systemNamespaces") }
        if let ns = try nonEmpty(f, "multusNamespace") { c.multusNamespace = ns }
        if let global = try globalNamespaces(f) { c.globalNamespaces = global }
        return c
    }

    /// Multus requires one of the two; with both it silently ignores `delegates`, which Skein refuses instead.
    static func parseDelegates(_ f: CNIFields, clusterNetwork: String?, name: String,
                               version: String) throws(CNIError) -> [DelegateConfig] {
        guard let list = try f.array("delegates") else {
            guard clusterNetwork != nil else { throw .invalidConfig("one of delegates or clusterNetwork is required") }
            return []
        }
        guard clusterNetwork == nil else {
            throw .invalidConfig("delegates and clusterNetwork are exclusive; set one of them")
        }
        guard !list.isEmpty else { throw .invalidConfig("delegates must not be empty") }
        var delegates: [DelegateConfig] = []
        for (i, item) in list.enumerated() {
            delegates.append(try parseDelegate(item, index: i, parentName: name, parentVersion: version))
        }
        return delegates
    }

    static func nonEmpty(_ f: CNIFields, _ key: String) throws(CNIError) -> String? {
        guard let s = try f.string(key), !s.isEmpty else { return nil }
        return s
    }

    /// Paths reach C as NUL-terminated strings: an embedded NUL would silently shorten them.
    static func path(_ f: CNIFields, _ key: String) throws(CNIError) -> String? {
        guard let s = try nonEmpty(f, key) else { return nil }
        guard !s.utf8.contains(0) else { throw .invalidConfig("\(key) contains a NUL byte") }
        return s
    }

    static func logLevel(_ f: CNIFields) throws(CNIError) -> LogLevel {
        guard let s = try nonEmpty(f, "logLevel") else { return .panic }
        guard let level = LogLevel(rawValue: s.lowercased()) else {
            throw .invalidConfig("logLevel must be one of debug, verbose, error, panic", details: s)
        }
        return level
    }

    /// Multus reads a comma-separated string; an array is accepted too. Empty means the default.
    static func globalNamespaces(_ f: CNIFields) throws(CNIError) -> [String]? {
        guard let v = f.present("globalNamespaces") else { return nil }
        if let s = v.string {
            let list = s.split(separator: ",").map { String($0.trimmingBlanks()) }.filter { !$0.isEmpty }
            return list.isEmpty ? nil : list
        }
        guard v.array != nil else {
            throw .invalidConfig("globalNamespaces must be a comma-separated string or an array of strings",
                                 details: "got \(v.typeName)")
        }
        let list = try f.strings("globalNamespaces")
        return list.isEmpty ? nil : list
    }

    static func execTypes(_ f: CNIFields) throws(CNIError) -> [String] {
        let types = try f.strings("execTypes")
        for (i, type) in types.enumerated() { try validatePluginType(type, key: "execTypes[\(i)]") }
        return types
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
        try DelegateConfig.parse(item, fallbackName: parentName, fallbackVersion: parentVersion,
                                 context: "delegates[\(index)].")
    }

    /// libcni's buildOneConfig overwrites every plugin's `name` and `cniVersion` with the list's,
    /// so a delegate sees exactly what it would see under libcni.
    static func injected(_ f: CNIFields, name: String, version: String) throws(CNIError) -> JSON {
        try validatePluginType(try f.requiredString("type"), key: f.context + "type")
        // The IPAM type names an executable too (the plugin execs it from CNI_PATH).
        if let ipamType = f.object["ipam"]?["type"]?.string, !ipamType.isEmpty {
            try validatePluginType(ipamType, key: f.context + "ipam.type")
        }
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

extension Substring {
    /// Go's strings.TrimSpace, which Multus applies to each `globalNamespaces` entry.
    fileprivate func trimmingBlanks() -> Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return self[first...last]
    }
}
