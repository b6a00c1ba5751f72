import Glibc
import SkeinModel

// Plugins exec'ed from CNI_PATH, as the CNI spec says a runtime execs a plugin: the binary named by
// `type`, the CNI_* environment, the config (with `prevResult`) on stdin, the result or error on
// stdout. Their results are journaled by the caller, so a DEL needs nothing but the journal.

/// One plugin of a chain that is exec'ed: its config as journaled (no prevResult), type and version.
struct ExecPlugin {
    let config: JSON
    let type: String
    let version: String

    init(_ config: JSON) throws(CNIError) {
        guard let type = config["type"]?.string else {
            throw CNIError.invalidConfig("an exec'ed plugin config has no \"type\"")
        }
        try SkeinConfig.validatePluginType(type)
        self.config = config
        self.type = type
        version = config["cniVersion"]?.string ?? CNIVersion.latest
    }

    /// The config with `prevResult` in the plugin's own version (which every plugin can read),
    /// or without one. Everything else goes through byte for byte as the config had it.
    func stdin(prevResult: CNIResult?) -> [UInt8] {
        guard case .object(var o) = config else { return config.serializedBytes() }
        o["prevResult"] = prevResult.map { $0.json(version: version) }
        return JSON.object(o).serializedBytes()
    }

    /// CHECK arrived in 0.4.0: older plugins are not asked (libcni would refuse to).
    var allowsCheck: Bool { CNIVersion(version).map(\.allowsCheck) ?? true }
}

/// The CNI environment of one invocation, CNI_COMMAND aside.
struct PluginTarget {
    var containerID: String
    /// Empty when there is no namespace to name (a DEL after the sandbox is gone).
    var netns: String
    var ifname: String
    var cniArgs: String
}

struct DelegateRunner {
    /// Directories searched in order for the plugin binary (CNI_PATH).
    let searchPath: [String]
    let timeoutMs: Int
    /// PATH for the plugin (some plugins run iptables, tc, …).
    let hostPATH: String

    /// The first executable regular file named `type` in the search path (libcni's FindInPath).
    func locate(_ type: String) throws(CNIError) -> String {
        for dir in searchPath {
            let path = (dir.hasSuffix("/") ? dir : dir + "/") + type
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 { return path }
        }
        throw CNIError(code: SkeinCode.delegate, msg: "plugin \"\(type)\" not found in CNI_PATH",
                       details: "searched \(searchPath) for an executable regular file")
    }

    /// ADD: the plugin's result, whatever version it printed.
    func add(_ plugin: ExecPlugin, _ target: PluginTarget, prevResult: CNIResult?) throws(CNIError) -> CNIResult {
        let out = try invoke(plugin, "ADD", target, prevResult: prevResult)
        let json: JSON
        do { json = try JSON.parse(out) } catch {
            throw CNIError.decodingFailure("\(plugin.type): ADD printed no valid JSON result", details: error.description)
        }
        do { return try CNIResult.parse(json) } catch {
            throw CNIError(code: error.code, msg: "\(plugin.type): ADD result not understood: \(error.msg)", details: error.details)
        }
    }

    func del(_ plugin: ExecPlugin, _ target: PluginTarget, prevResult: CNIResult?) throws(CNIError) {
        _ = try invoke(plugin, "DEL", target, prevResult: prevResult)
    }

    func check(_ plugin: ExecPlugin, _ target: PluginTarget, prevResult: CNIResult) throws(CNIError) {
        _ = try invoke(plugin, "CHECK", target, prevResult: prevResult)
    }

    /// Runs the plugin; its stdout on success. A failure carries the plugin's own code, msg and
    /// details (msg prefixed with its type), or says how it died when it printed no error.
    func invoke(_ plugin: ExecPlugin, _ command: String, _ target: PluginTarget,
                prevResult: CNIResult?) throws(CNIError) -> [UInt8] {
        let what = "\(plugin.type) \(command)"
        let path = try locate(plugin.type)
        let env = [
            "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + target.containerID, "CNI_NETNS=" + target.netns,
            "CNI_IFNAME=" + target.ifname, "CNI_ARGS=" + target.cniArgs,
            "CNI_PATH=" + searchPath.joined(separator: ":"), "PATH=" + hostPATH,
        ]
        let child = try ChildProcess.run(path, env: env, stdin: plugin.stdin(prevResult: prevResult),
                                         limits: ChildLimits(timeoutMs: timeoutMs), what: what)
        forwardStderr(child, what)
        switch child.exit {
        case .status(0): return child.stdout
        case .status(let code): throw failure(plugin, what, child, "exited with status \(code)")
        case .signal(let sig): throw failure(plugin, what, child, "was killed by signal \(sig)")
        }
    }

    /// The spec's error document when the plugin printed one; else how it ended, with the tail of
    /// its stderr (which holds the reason for a plugin that crashed).
    func failure(_ plugin: ExecPlugin, _ what: String, _ child: ChildResult, _ how: String) -> CNIError {
        if let doc = try? JSON.parse(child.stdout), let msg = doc["msg"]?.string {
            let code = doc["code"]?.int ?? SkeinCode.delegate
            return CNIError(code: code, msg: "\(plugin.type): \(msg)", details: doc["details"]?.string ?? "")
        }
        let tail = String(decoding: child.stderr.suffix(512), as: UTF8.self)
        return CNIError(code: SkeinCode.delegate, msg: "\(what) \(how) without a CNI error on stdout", details: tail)
    }

    /// A plugin's stderr is ours to log, never our stdout (which carries only our result).
    func forwardStderr(_ child: ChildResult, _ what: String) {
        guard !child.stderr.isEmpty else { return }
        var text = Array("skein: \(what) stderr:\n".utf8) + child.stderr
        if child.stderrTruncated { text += Array("\n[truncated]".utf8) }
        if text.last != 10 { text.append(10) }
        _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
