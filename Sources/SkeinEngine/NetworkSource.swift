import SkeinKube
import SkeinMeta
import SkeinModel

// Where the networks of one ADD come from, behind MetaPlan's one resolver: `nadDir` (every NAD file
// read once, on first use), the Kubernetes API when `kubeconfig` is set, and — for clusterNetwork and
// defaultNetworks only, in Multus' order — a conf/conflist of that name in confDir, a directory
// (its first config), or a file path. A NAD with no spec.config means the conf of its name in confDir.
final class NetworkSource {
    let config: SkeinConfig
    /// Built on first use: a plan that needs no lookup never reads a kubeconfig.
    private var kubeClient: KubeClient?
    private var nads: NADDirectory?
    private var confFiles: [(name: String, text: String)]?

    init(config: SkeinConfig) {
        self.config = config
    }

    var usesKube: Bool { config.kubeconfig != nil }

    func kube() throws(CNIError) -> KubeClient {
        if let kubeClient { return kubeClient }
        guard let path = config.kubeconfig else { preconditionFailure("kube() without a kubeconfig") }
        do throws(KubeError) {
            let client = try KubeClient(config: try KubeConfig.load(kubeconfigPath: path))
            client.trace = { Log.verbose("kube API: \($0)") }
            kubeClient = client
            return client
        } catch {
            throw kubeFailure(error, "kubeconfig \(path)")
        }
    }

    /// MetaPlan's resolver.
    func resolve(namespace: String, name: String) throws(CNIError) -> DelegateConfig {
        let clusterLevel = namespace == config.multusNamespace
            && (name == config.clusterNetwork || config.defaultNetworks.contains(name))
        if name.contains("/") {
            guard clusterLevel else { throw notFound(namespace, name) }
            return try fromPath(name)
        }
        if let nad = try definition(namespace: namespace, name: name) {
            switch nad.config {
            case .delegate(let d): return d
            case .fromConfDir:
                guard let d = try ConfDirectory.find(nad.name, files: try confDirFiles(), fallbackVersion: config.cniVersion) else {
                    throw CNIError.invalidConfig("NetworkAttachmentDefinition \(nad.networkName) has no spec.config and confDir \(config.confDir) has no network named \(nad.name)")
                }
                return d
            }
        }
        if clusterLevel, let d = try ConfDirectory.find(name, files: try confDirFiles(), fallbackVersion: config.cniVersion) {
            return d
        }
        throw notFound(namespace, name)
    }

    /// The NAD from nadDir, else from the API; nil when neither has it.
    func definition(namespace: String, name: String) throws(CNIError) -> NetworkAttachmentDefinition? {
        if config.nadDir != nil, let nad = try nadDirectory().definition(namespace: namespace, name: name) { return nad }
        guard usesKube, KubeName.isLabel(namespace), KubeName.isSubdomain(name) else { return nil }
        let found: KubeResult<JSON>
        let client = try kube()
        do throws(KubeError) { found = try client.getNAD(namespace: namespace, name: name) } catch {
            throw kubeFailure(error, "GET NetworkAttachmentDefinition \(namespace)/\(name)")
        }
        guard case .found(let object) = found else { return nil }
        return try NetworkAttachmentDefinition.parse(object: object, defaultNamespace: namespace, fallbackVersion: config.cniVersion)
    }

    func nadDirectory() throws(CNIError) -> NADDirectory {
        if let nads { return nads }
        let dir = config.nadDir ?? ""
        let files = try LocalFiles.readAll(dir, where: NADDirectory.isCandidate) ?? []
        let index = NADDirectory(files: files, fallbackVersion: config.cniVersion)
        for p in index.problems { Log.error("nadDir \(dir): \(p.file): \(p.error.msg) \(p.error.details)") }
        nads = index
        return index
    }

    func confDirFiles() throws(CNIError) -> [(name: String, text: String)] {
        if let confFiles { return confFiles }
        let files = try LocalFiles.readAll(config.confDir, where: ConfDirectory.isCandidate) ?? []
        confFiles = files
        return files
    }

    /// clusterNetwork given as a path: a directory (its first config by name) or one file.
    func fromPath(_ path: String) throws(CNIError) -> DelegateConfig {
        let files: [(name: String, text: String)]
        if LocalFiles.isDirectory(path) {
            files = try LocalFiles.readAll(path, where: ConfDirectory.isCandidate) ?? []
        } else if let text = try LocalFiles.read(path) {
            files = [(String(path.split(separator: "/").last ?? ""), text)]
        } else {
            files = []
        }
        guard let d = try ConfDirectory.find(nil, files: files, fallbackVersion: config.cniVersion) else {
            throw CNIError.invalidConfig("clusterNetwork \(path): no .conf, .conflist or .json network config there")
        }
        return d
    }

    func notFound(_ namespace: String, _ name: String) -> CNIError {
        var looked: [String] = []
        if let dir = config.nadDir { looked.append("nadDir \(dir)") }
        if usesKube { looked.append("the Kubernetes API") }
        if namespace == config.multusNamespace && (name == config.clusterNetwork || config.defaultNetworks.contains(name)) {
            looked.append("confDir \(config.confDir)")
        }
        let problems = (nads?.problems ?? []).map { "\($0.file): \($0.error.msg)" }
        return CNIError.invalidConfig("network \(namespace)/\(name) not found",
                                      details: "looked in " + (looked.isEmpty ? "nothing (set nadDir or kubeconfig)" : looked.joined(separator: ", "))
                                          + (problems.isEmpty ? "" : "; unusable files: " + problems.joined(separator: "; ")))
    }
}

/// A Kubernetes API failure as the runtime should read it: the temporary ones (unreachable,
/// timeout, 429, 5xx) are code 11 so that kubelet retries; a bad kubeconfig or name is code 7.
func kubeFailure(_ error: KubeError, _ what: String) -> CNIError {
    let msg = "\(what): \(error.message)"
    switch error.kind {
    case .unreachable, .timeout: return .tryAgainLater(msg)
    case .http(let status) where status == 429 || (500...599).contains(status): return .tryAgainLater(msg)
    case .config, .invalidName: return .invalidConfig(msg)
    case .decode: return .decodingFailure(msg)
    case .tls, .http, .uidMismatch: return .ioFailure(msg)
    }
}
