import SkeinModel

// What one `skein install | install-status | uninstall` run is asked to do.
//
// Two kinds of paths, never mixed: *node paths* are paths as the node (and so the `skein` binary
// the runtime execs there) sees them — they are what the generated config and kubeconfig contain —
// and are reached through `hostRoot`, where the node's filesystem is mounted in this container;
// *container paths* (sources, the pod's service-account files) are read as they are.

public enum InstallCommand: String, CaseIterable, Sendable {
    case install
    case status = "install-status"
    case uninstall
}

public struct InstallOptions: Equatable, Sendable {
    /// Where the node's root is visible: "/" on the node itself, "/host" in the DaemonSet.
    public var hostRoot = "/"
    public var cniBinDir = "/opt/cni/bin"
    public var cniConfDir = "/etc/cni/net.d"
    public var confFileName = "00-skein.conflist"
    /// Node path of the kubeconfig; nil means `<cniConfDir>/skein.d/skein.kubeconfig`.
    public var kubeconfigPath: String?
    public var writeKubeconfig = true
    /// Container directory holding `skein` and `skein-journal`; nil means this executable's own.
    public var sourceDir: String?
    public var tokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    public var caFile = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    /// nil: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
    public var apiServer: String?
    public var waitTimeoutS = 600
    public var keepRunning = false
    public var resyncIntervalS = 30
    public var removeBinaries = false
    public var networkName = "skein-cni-network"
    public var stateDir = SkeinConfig.defaultStateDir
    /// Multus NetConf keys set from flags, in flag-table order, copied into the plugin object.
    public var settings = JSONObject()

    public init() {}

    public static let binaries = ["skein", "skein-journal"]
    public static let defaultKubeconfigDirName = "skein.d"

    public var kubeconfig: String {
        kubeconfigPath ?? joinPath(joinPath(cniConfDir, InstallOptions.defaultKubeconfigDirName), "skein.kubeconfig")
    }

    /// The service-account token and CA copies live beside the kubeconfig, under names the runtime
    /// never loads as network configs (it reads only *.conf, *.conflist and *.json).
    public var tokenCopy: String { joinPath(parentDirectory(kubeconfig), "skein.token") }
    public var caCopy: String { joinPath(parentDirectory(kubeconfig), "skein-ca.crt") }
    public var confPath: String { joinPath(cniConfDir, confFileName) }

    /// Checks what a single flag cannot: relations between values.
    func validate() throws(InstallError) {
        let ext = kubeconfig.split(separator: ".").last.map(String.init) ?? ""
        if ["conf", "conflist", "json"].contains(ext) {
            throw InstallError(.usage, "--kubeconfig \(kubeconfig): a .\(ext) file in a CNI config directory is read as a "
                + "network config; use another extension")
        }
        if kubeconfig == confPath {
            throw InstallError(.usage, "--kubeconfig must not be the network config file")
        }
    }
}

/// `a` + "/" + `b`, without doubling a slash.
func joinPath(_ a: String, _ b: String) -> String {
    a.hasSuffix("/") ? a + b : a + "/" + b
}

func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
