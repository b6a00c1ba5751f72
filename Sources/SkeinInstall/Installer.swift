import Glibc
import SkeinModel

// The node installer. Everything it does is "make these files hold these bytes": install writes
// the ones that differ, install-status reports them, a resync repeats install. The write order is
// binaries, then what the kubeconfig names, then the kubeconfig, then the network config, so the
// runtime never sees a config whose binary or credentials are not there yet.

/// One file's outcome, printed as "<action> <path>".
public struct FileReport: Equatable, Sendable {
    public enum Action: String, Sendable {
        case written, unchanged, modeFixed = "mode-fixed"  // install
        case ok, missing, differs                            // install-status
        case removed, absent, kept                           // uninstall
    }

    public let action: Action
    public let path: String
    public let note: String?

    public init(_ action: Action, _ path: String, note: String? = nil) {
        self.action = action
        self.path = path
        self.note = note
    }

    public var line: String { "\(action.rawValue) \(path)" + (note.map { " (\($0))" } ?? "") }
}

/// A file install wants on the node: node path, contents, mode.
struct PlannedFile {
    let path: String
    let content: Content
    let mode: mode_t
    /// For the directories install has to create on the way (the kubeconfig's holds a token).
    let directoryMode: mode_t
}

public struct Installer {
    public let options: InstallOptions
    public let environment: [String: String]
    /// Progress for the operator (stderr in the CLI); the reports are the result.
    public var log: (String) -> Void
    public var pollIntervalMs = 1000
    public var logIntervalMs = 5000

    public init(options: InstallOptions, environment: [String: String], log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.environment = environment
        self.log = log
    }

    /// Where a node path is, seen from here.
    func real(_ nodePath: String) -> String {
        options.hostRoot == "/" ? nodePath : options.hostRoot + nodePath
    }

    /// Copies the binaries and kubeconfig, waits for the default network, writes the config.
    public func install() throws(InstallError) -> [FileReport] {
        _ = try discover()  // a conflicting config fails the install before anything is written
        var reports = try apply(try supportFiles())
        let network = try waitForDefaultNetwork()
        log("default network: \(joinPath(options.cniConfDir, network.fileName))")
        reports += try apply([configFile(network)])
        return reports
    }

    /// What install would change, without changing it. Ready when every report is `.ok`.
    public func status() throws(InstallError) -> [FileReport] {
        var planned = try supportFiles()
        var reports: [FileReport] = []
        switch try discover() {
        case .found(let network): planned.append(configFile(network))
        case .waiting(let reason): reports.append(FileReport(.differs, options.confPath, note: "no default network: \(reason)"))
        }
        for file in planned {
            let path = real(file.path)
            if try !Files.matches(path, file.content) {
                reports.append(FileReport(Files.info(path) == nil ? .missing : .differs, file.path))
            } else if Files.info(path)?.mode != file.mode {
                reports.append(FileReport(.differs, file.path, note: "mode"))
            } else {
                reports.append(FileReport(.ok, file.path))
            }
        }
        return reports
    }

    /// One pass of install without waiting: while the default network config is missing or being
    /// rewritten, Skein's config stays as it is (removing it would be the failure this avoids).
    func resync() throws(InstallError) -> [FileReport] {
        var reports = try apply(try supportFiles())
        switch try discover() {
        case .found(let network): reports += try apply([configFile(network)])
        case .waiting(let reason): log("keeping \(options.confPath) as it is: \(reason)")
        }
        return reports
    }

    /// After install, with --keep-running: resync until SIGTERM or SIGINT, then return 0 leaving
    /// every file in place.
    public func keepRunning() -> Int32 {
        log("installed; re-checking every \(options.resyncIntervalS)s until stopped")
        while true {
            if let sig = Termination.pause(ms: options.resyncIntervalS * 1000) {
                log("signal \(sig): exiting. Skein's config and binaries stay installed: a node without them would "
                    + "start pods without their extra networks (uninstall with skein uninstall)")
                return 0
            }
            do {
                for report in try resync() where report.action != .unchanged { log(report.line) }
            } catch {
                log("re-check failed, will retry: \(error)")
            }
        }
    }

    func discover() throws(InstallError) -> Discovery {
        let dir = real(options.cniConfDir)
        guard let names = try Files.list(dir) else { return .waiting("\(options.cniConfDir) does not exist yet") }
        return try DefaultNetworkSearch.search(names: names, own: options.confFileName, directory: options.cniConfDir) {
            (name) throws(InstallError) -> [UInt8]? in try Files.read(joinPath(dir, name))
        }
    }

    func waitForDefaultNetwork() throws(InstallError) -> DefaultNetwork {
        let start = Termination.nowMs()
        let deadline = start + Int64(options.waitTimeoutS) * 1000
        var nextLog = start
        while true {
            let reason: String
            switch try discover() {
            case .found(let network): return network
            case .waiting(let why): reason = why
            }
            let now = Termination.nowMs()
            if now >= deadline {
                throw InstallError(.timeout, "no default network config after \(options.waitTimeoutS)s (\(reason)); "
                    + "install the cluster's pod network first: Skein attaches it as every pod's eth0")
            }
            if now >= nextLog {
                log("waiting for a default network config (\((now - start) / 1000)s of \(options.waitTimeoutS)s): \(reason)")
                nextLog = now + Int64(logIntervalMs)
            }
            if let sig = Termination.pause(ms: Int(min(Int64(pollIntervalMs), deadline - now))) {
                throw InstallError(.interrupted, "signal \(sig) while waiting for a default network config; Skein's config was not written")
            }
        }
    }
}
