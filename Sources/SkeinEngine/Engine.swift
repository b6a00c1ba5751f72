import Glibc
import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// The engine: parse → validate → journal the request (durable) → plan → apply → journal the outcome
// → answer. It is the only place that maps module errors to CNI codes.

public struct EngineOutput {
    public var stdout: [UInt8]
    public var exitCode: Int32
}

/// Plugin-specific CNI error codes (100+), documented in README.md.
public enum SkeinCode {
    /// The kernel refused a netlink operation (details carry the errno text).
    public static let kernel = 100
    /// The address pool cannot serve the request (exhausted, or the requested address is held).
    public static let pool = 101
    /// The journal could not be opened, read or written.
    public static let journal = 102
    /// A plugin exec'ed from CNI_PATH could not be run to the end: not found, not executable,
    /// timed out (killed), died without a CNI error, or wrote too much. A plugin that answers with
    /// a CNI error keeps its own code.
    public static let delegate = 103
}

public enum Engine {
    public static func run(env: [String: String], stdin: [UInt8]) -> EngineOutput {
        Trace.start(env)
        defer { Trace.flush() }
        var version = CNIVersion.latest
        do throws(CNIError) {
            // VERSION must answer even with an empty or version-less stdin.
            if env["CNI_COMMAND"] == "VERSION" {
                let requested = (try? JSON.parse(stdin))?["cniVersion"]?.string
                return EngineOutput(stdout: CNIVersion.versionResult(requested: requested).serializedBytes() + [10], exitCode: 0)
            }
            let request = try CNIRequest.parse(env: env, stdin: stdin)
            version = request.cniVersion
            let config = try SkeinConfig.parse(request.config)
            Log.configure(config)
            Trace.mark("parse")
            let ctx = try Context(request: request, config: config, env: env)
            let result = try dispatch(ctx)
            let out = result.map { $0.serializedBytes() + [10] } ?? []
            return EngineOutput(stdout: out, exitCode: 0)
        } catch {
            // Errors found before the config was decoded (a bad environment) still answer in the
            // config's version when it has a supported one; only this failure path parses twice.
            if version == CNIVersion.latest, let v = (try? JSON.parse(stdin))?["cniVersion"]?.string,
               CNIVersion.supported.contains(v) {
                version = v
            }
            return EngineOutput(stdout: error.json(version: version).serializedBytes() + [10], exitCode: 1)
        }
    }

    static func dispatch(_ ctx: Context) throws(CNIError) -> JSON? {
        switch ctx.request.command {
        // Every config goes through the meta-plugin's plan; one delegate and no extra networks
        // is a plan of one attachment, the plain ADD.
        case .add: return try MetaAddOperation(ctx).run()
        case .del: try DelOperation(ctx).run(); return nil
        case .check: try CheckOperation(ctx).run(); return nil
        case .gc: try GCOperation(ctx).run(); return nil
        case .status: try status(ctx); return nil
        case .version: return CNIVersion.versionResult(requested: ctx.request.cniVersion)
        }
    }

    /// STATUS: 0 when the journal is writable, 50 otherwise. An empty transaction would commit
    /// without touching the disk, so a probe row is written, deleted and flushed: a full disk or
    /// an I/O error shows up here rather than in the next ADD.
    static func status(_ ctx: Context) throws(CNIError) {
        // A damaged journal that makes liblmdb abort answers 102 here too, as for every other command.
        Context.installFaultGuard(stateDir: ctx.stateDir, cniVersion: ctx.request.cniVersion)
        do {
            let journal = try Journal(stateDir: ctx.stateDir)
            try journal.probeWrite()
        } catch {
            throw CNIError.notAvailable("skein cannot write its journal in \(ctx.stateDir)", details: "\(error)")
        }
    }
}

/// Everything one invocation knows, validated once.
struct Context {
    let request: CNIRequest
    let config: SkeinConfig
    let stateDir: String
    let failpoints: Failpoints
    let process: ProcessRef
    let retention: RetentionPolicy
    /// CNI_ARGS exactly as given (nil when unset), for the plugins we exec.
    let cniArgs: String?
    /// How long one exec'ed plugin may run (`execTimeoutMs`).
    let execTimeoutMs: Int
    /// PATH handed to exec'ed plugins.
    let hostPATH: String

    init(request: CNIRequest, config: SkeinConfig, env: [String: String]) throws(CNIError) {
        self.request = request
        self.config = config
        if let override = env["SKEIN_STATE_DIR"], !override.isEmpty {
            guard override.hasPrefix("/"), !override.split(separator: "/").contains("..") else {
                throw CNIError.invalidEnvironment("SKEIN_STATE_DIR must be an absolute path without \"..\": \(override)")
            }
            stateDir = override
        } else {
            stateDir = config.stateDir
        }
        failpoints = Failpoints(env["SKEIN_FAILPOINT"])
        process = ProcessIdentity.current()
        retention = try Context.retention(config.raw)
        cniArgs = env["CNI_ARGS"].flatMap { $0.isEmpty ? nil : $0 }
        execTimeoutMs = try Context.execTimeout(config.raw)
        hostPATH = env["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }

    /// `snapshotEvery` (default 10,000; 0 = never) and `retainEvents` (default 200,000; 0 = keep
    /// every event): a node's journal stays bounded while keeping weeks of history at usual churn.
    static func retention(_ raw: JSON) throws(CNIError) -> RetentionPolicy {
        func count(_ key: String, _ fallback: UInt64) throws(CNIError) -> UInt64 {
            guard let v = raw[key], !v.isNull else { return fallback }
            guard let n = v.uint64 else { throw CNIError.invalidConfig("\(key) must be a non-negative integer") }
            return n
        }
        let retain = try count("retainEvents", 200_000)
        return RetentionPolicy(snapshotEvery: try count("snapshotEvery", 10_000), retainEvents: retain == 0 ? nil : retain)
    }

    var key: AttachmentKey {
        AttachmentKey(containerID: request.containerID?.value ?? "", ifname: request.ifname?.value ?? "")
    }

    var pod: PodRef? {
        guard let ns = request.arg("K8S_POD_NAMESPACE"), let name = request.arg("K8S_POD_NAME") else { return nil }
        return PodRef(namespace: ns, name: name, uid: request.arg("K8S_POD_UID"))
    }

    /// The runtime hands runtimeConfig (ips, mac, portMappings, …) to skein, the plugin it execs.
    /// It reaches the delegate as libcni would hand it over: the entries for the capabilities the
    /// delegate declares, replacing the delegate's own runtimeConfig when there is at least one.
    func withRuntimeConfig(_ plugin: JSON) -> JSON {
        guard let given = config.raw["runtimeConfig"]?.object, !given.isEmpty,
              case .object(var p) = plugin, let caps = p["capabilities"]?.object else { return plugin }
        var runtime = JSONObject()
        for (k, v) in given.pairs where caps[k]?.bool == true { runtime[k] = v }
        guard !runtime.isEmpty else { return plugin }
        p["runtimeConfig"] = .object(runtime)
        return .object(p)
    }

    /// The network names this config's delegates attach: GC's rule for an attachment whose request
    /// carries no meta facts (see GCOperation.owns).
    var networks: Set<String> { Set(config.delegates.map(\.name)) }

    func openJournal() throws(CNIError) -> Journal {
        Context.installFaultGuard(stateDir: stateDir, cniVersion: request.cniVersion)
        do { return try Journal(stateDir: stateDir, policy: retention) } catch {
            throw CNIError(code: SkeinCode.journal, msg: "cannot open the journal in \(stateDir)", details: "\(error)")
        }
    }

    nonisolated(unsafe) private static var faultGuardInstalled = false

    /// liblmdb aborts or faults on some damaged pages (see JournalFaultGuard): the runtime then
    /// gets CNI error 102 saying so, prepared here, instead of a plugin that died without a word.
    /// Worded as skein-journal's own guard (tools/skein-journal/Recover.swift). Assembled as
    /// bytes rather than through CNIError.json and interpolation: it is prepared on every call
    /// and read only after a crash.
    static func installFaultGuard(stateDir: String, cniVersion: String) {
        guard !faultGuardInstalled else { return }
        faultGuardInstalled = true
        let dir = JSON.string(stateDir).serializedBytes().dropFirst().dropLast()
        var cause: [UInt8] = []
        cause += "skein crashed reading the journal in ".utf8
        cause += dir
        cause += " (a fault or a failed assertion in liblmdb: most likely a damaged page)".utf8
        var json: [UInt8] = []
        json.reserveCapacity(512)
        json += #"{"cniVersion":"#.utf8
        JSON.string(cniVersion).write(into: &json)
        json += #","code":"#.utf8
        json += String(SkeinCode.journal).utf8
        json += #","msg":"the journal in "#.utf8
        json += dir
        json += #" is damaged","details":""#.utf8
        json += cause
        json += "; run `skein-journal verify --state-dir ".utf8
        json += dir
        json += "`, then `skein-journal recover --state-dir ".utf8
        json += dir
        json += #"` as README.md describes (Journal corruption and recovery)"}"#.utf8
        json.append(10)
        cause.append(10)
        JournalFaultGuard.install(stdout: json, stderr: cause, exitCode: 1)
    }
}

func journalError(_ error: Error) -> CNIError {
    if let e = error as? CNIError { return e }
    return CNIError(code: SkeinCode.journal, msg: "journal write failed", details: "\(error)")
}

func kernelError(_ error: Error, _ what: String) -> CNIError {
    if let e = error as? CNIError { return e }
    return CNIError(code: SkeinCode.kernel, msg: "\(what): \(error)")
}
