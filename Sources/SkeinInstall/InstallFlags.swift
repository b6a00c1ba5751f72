import SkeinModel

// The command line of `skein install | install-status | uninstall`. The table is public so that a
// test can hold every manifest that runs the installer to it: a flag the DaemonSet passes and the
// binary does not know would crash-loop every node.

public struct InstallFlag: Sendable {
    public let name: String
    /// The value's placeholder in help ("DIR"); nil for a switch, which takes no value.
    public let value: String?
    public let commands: Set<InstallCommand>
    /// The key of the generated Skein config this flag sets, if it sets one.
    public let configKey: String?
    public let help: String
}

public struct ParsedCommand: Equatable, Sendable {
    public var command: InstallCommand
    public var options: InstallOptions
    public var help: Bool
}

public enum InstallFlags {
    static let all: Set<InstallCommand> = [.install, .status, .uninstall]
    static let generate: Set<InstallCommand> = [.install, .status]

    public static let table: [InstallFlag] = [
        InstallFlag(name: "--host-root", value: "DIR", commands: all, configKey: nil,
                    help: "where the node's root filesystem is mounted in this container (default /); every node path below is reached through it"),
        InstallFlag(name: "--cni-bin-dir", value: "DIR", commands: all, configKey: nil,
                    help: "node path of the CNI plugin directory (default /opt/cni/bin)"),
        InstallFlag(name: "--cni-conf-dir", value: "DIR", commands: all, configKey: nil,
                    help: "node path of the CNI config directory the runtime reads (default /etc/cni/net.d)"),
        InstallFlag(name: "--conf-file-name", value: "NAME", commands: all, configKey: nil,
                    help: "Skein's config file in that directory (default 00-skein.conflist); it must sort before every other config there"),
        InstallFlag(name: "--kubeconfig", value: "FILE", commands: all, configKey: "kubeconfig",
                    help: "node path of the kubeconfig written for the skein binary (default <cni-conf-dir>/skein.d/skein.kubeconfig)"),
        InstallFlag(name: "--no-kubeconfig", value: nil, commands: generate, configKey: nil,
                    help: "write no kubeconfig and no kubeconfig key (a node without a cluster, NADs from --nad-dir)"),
        InstallFlag(name: "--source-dir", value: "DIR", commands: generate, configKey: nil,
                    help: "container directory holding skein and skein-journal (default: this executable's directory)"),
        InstallFlag(name: "--token-file", value: "FILE", commands: generate, configKey: nil,
                    help: "service-account token to copy (default /var/run/secrets/kubernetes.io/serviceaccount/token)"),
        InstallFlag(name: "--ca-file", value: "FILE", commands: generate, configKey: nil,
                    help: "API server CA bundle to copy (default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)"),
        InstallFlag(name: "--api-server", value: "URL", commands: generate, configKey: nil,
                    help: "https URL of the API server as the node reaches it (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)"),
        InstallFlag(name: "--wait-timeout-s", value: "N", commands: [.install], configKey: nil,
                    help: "how long to wait for a default network config before failing (default 600)"),
        InstallFlag(name: "--keep-running", value: nil, commands: [.install], configKey: nil,
                    help: "after installing, stay: re-check every --resync-interval-s (token rotation, a changed default "
                        + "network), exit 0 on SIGTERM leaving everything installed"),
        InstallFlag(name: "--resync-interval-s", value: "N", commands: [.install], configKey: nil,
                    help: "seconds between re-checks with --keep-running (default 30)"),
        InstallFlag(name: "--remove-binaries", value: nil, commands: [.uninstall], configKey: nil,
                    help: "also remove skein and skein-journal (by default they stay, so the runtime can still run DEL for existing pods)"),
        InstallFlag(name: "--network-name", value: "NAME", commands: generate, configKey: "name",
                    help: "the network name of Skein's config (default skein-cni-network)"),
        InstallFlag(name: "--state-dir", value: "DIR", commands: generate, configKey: "stateDir",
                    help: "node path of the journal directory (default /var/lib/skein)"),
        InstallFlag(name: "--log-level", value: "LEVEL", commands: generate, configKey: "logLevel",
                    help: "debug, verbose, error or panic"),
        InstallFlag(name: "--log-file", value: "FILE", commands: generate, configKey: "logFile",
                    help: "node path of a log file"),
        InstallFlag(name: "--log-to-stderr", value: "BOOL", commands: generate, configKey: "logToStderr",
                    help: "true or false"),
        InstallFlag(name: "--readiness-indicator-file", value: "FILE", commands: generate, configKey: "readinessindicatorfile",
                    help: "node path of a file that must exist before pods get networks"),
        InstallFlag(name: "--multus-namespace", value: "NS", commands: generate, configKey: "multusNamespace",
                    help: "namespace of the cluster-wide NADs (Multus default kube-system)"),
        InstallFlag(name: "--system-namespaces", value: "NS,...", commands: generate, configKey: "systemNamespaces",
                    help: "namespaces whose pods get no default networks"),
        InstallFlag(name: "--default-networks", value: "NET,...", commands: generate, configKey: "defaultNetworks",
                    help: "NADs ([namespace/]name) every pod gets after the cluster network"),
        InstallFlag(name: "--namespace-isolation", value: nil, commands: generate, configKey: "namespaceIsolation",
                    help: "pods may use only NADs of their own namespace (and --global-namespaces)"),
        InstallFlag(name: "--global-namespaces", value: "NS,...", commands: generate, configKey: "globalNamespaces",
                    help: "namespaces whose NADs every pod may use under --namespace-isolation"),
        InstallFlag(name: "--nad-dir", value: "DIR", commands: generate, configKey: "nadDir",
                    help: "node path of a directory of NAD YAML/JSON files (use without a cluster)"),
    ]

    /// `arguments[0]` is the command; options may be `--name value` or `--name=value`.
    public static func parse(_ arguments: [String]) throws(InstallError) -> ParsedCommand {
        guard let first = arguments.first, let command = InstallCommand(rawValue: first) else {
            throw InstallError(.usage, "expected a command (install, install-status, uninstall)")
        }
        var parsed = ParsedCommand(command: command, options: InstallOptions(), help: false)
        var seen: Set<String> = []
        var i = 1
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if arg == "-h" || arg == "--help" { parsed.help = true; continue }
            let (name, inline) = splitOption(arg)
            guard name.hasPrefix("--"), let flag = table.first(where: { $0.name == name }) else {
                throw InstallError(.usage, "unknown option \"\(arg)\" (see skein \(command.rawValue) --help)")
            }
            guard flag.commands.contains(command) else {
                throw InstallError(.usage, "\(name) is not an option of skein \(command.rawValue)")
            }
            guard seen.insert(name).inserted else { throw InstallError(.usage, "\(name) given twice") }
            var value = ""
            if flag.value == nil {
                guard inline == nil else { throw InstallError(.usage, "\(name) takes no value") }
            } else if let inline {
                value = inline
            } else {
                guard i < arguments.count else { throw InstallError(.usage, "\(name) needs a value") }
                value = arguments[i]
                i += 1
            }
            try apply(flag, value, to: &parsed.options)
        }
        if !parsed.help { try parsed.options.validate() }
        return parsed
    }

    static func splitOption(_ arg: String) -> (String, String?) {
        guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else { return (arg, nil) }
        return (String(arg[..<eq]), String(arg[arg.index(after: eq)...]))
    }
}
