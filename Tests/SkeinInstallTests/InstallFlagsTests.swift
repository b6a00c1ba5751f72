import Testing
@testable import SkeinInstall
import SkeinModel

@Suite("Installer command line")
struct InstallFlagsTests {
    /// A value each flag accepts, so every table entry is exercised through the real parser.
    static func sample(_ flag: InstallFlag) -> String {
        switch flag.value {
        case nil: return ""
        case "DIR", "FILE": return "/x/y"
        case "N": return "7"
        case "URL": return "https://10.0.0.1:6443"
        case "NAME": return flag.name == "--conf-file-name" ? "01-skein.conflist" : "net-1"
        case "LEVEL": return "debug"
        case "BOOL": return "false"
        case "NS": return "kube-system"
        default: return "a,b"
        }
    }

    @Test func everyFlagInTheTableParsesForEachOfItsCommands() throws {
        for flag in InstallFlags.table {
            for command in flag.commands {
                var args = [command.rawValue, flag.name]
                if flag.value != nil { args.append(Self.sample(flag)) }
                let parsed = try InstallFlags.parse(args)
                #expect(parsed.options != InstallOptions(), "\(flag.name) changed nothing")
            }
            for command in InstallCommand.allCases where !flag.commands.contains(command) {
                #expect(throws: InstallError.self, "\(flag.name) accepted by \(command)") {
                    try InstallFlags.parse([command.rawValue, flag.name] + (flag.value == nil ? [] : [Self.sample(flag)]))
                }
            }
        }
    }

    @Test func bothValueForms() throws {
        let a = try InstallFlags.parse(["install", "--host-root=/host", "--cni-bin-dir", "/opt/cni/bin/", "--keep-running"])
        #expect(a.options.hostRoot == "/host")
        #expect(a.options.cniBinDir == "/opt/cni/bin")
        #expect(a.options.keepRunning)
    }

    @Test func configFlagsBecomeNetConfKeys() throws {
        let p = try InstallFlags.parse(["install", "--log-level=verbose", "--system-namespaces=kube-system,infra",
                                        "--global-namespaces=default,shared", "--default-networks=kube-system/sidecar,mon",
                                        "--namespace-isolation", "--log-to-stderr=true", "--nad-dir=/etc/skein/nads"])
        #expect(p.options.settings == JSONObject([
            ("logLevel", .string("verbose")),
            ("systemNamespaces", .array([.string("kube-system"), .string("infra")])),
            ("globalNamespaces", .string("default,shared")),
            ("defaultNetworks", .array([.string("kube-system/sidecar"), .string("mon")])),
            ("namespaceIsolation", .bool(true)),
            ("logToStderr", .bool(true)),
            ("nadDir", .string("/etc/skein/nads")),
        ]))
    }

    @Test(arguments: [
        ["install", "--cni-bin-dir", "opt/cni/bin"],
        ["install", "--cni-conf-dir=/etc/../tmp"],
        ["install", "--conf-file-name=00-skein.conf"],
        ["install", "--conf-file-name=../00-skein.conflist"],
        ["install", "--kubeconfig=/etc/cni/net.d/skein.json"],
        ["install", "--api-server=http://10.0.0.1"],
        ["install", "--wait-timeout-s=-1"],
        ["install", "--resync-interval-s=0"],
        ["install", "--log-level=trace"],
        ["install", "--system-namespaces=Kube"],
        ["install", "--default-networks=a,,b"],
        ["install", "--network-name=-x"],
        ["install", "--keep-running=yes"],
        ["install", "--wait-timeout-s"],
        ["install", "--cni-bin-dir=/a", "--cni-bin-dir=/b"],
        ["install", "--unknown"],
        ["install", "positional"],
        ["install-status", "--remove-binaries"],
        ["uninstall", "--keep-running"],
        ["reinstall"],
        [],
    ])
    func usageErrors(_ args: [String]) {
        do {
            _ = try InstallFlags.parse(args)
            Issue.record("accepted \(args)")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.exitCode == 2)
        }
    }

    @Test func helpNamesEveryFlagOfTheCommand() {
        for command in InstallCommand.allCases {
            let lines = InstallFlags.help(for: command).split(separator: "\n").map(String.init)
            for flag in InstallFlags.table {
                let listed = lines.contains { $0 == "  " + flag.name || $0.hasPrefix("  " + flag.name + " ") }
                #expect(listed == flag.commands.contains(command), "\(command.rawValue) --help and \(flag.name)")
            }
        }
        #expect(InstallCLI.main(["install", "--help"]) == 0)
        #expect(InstallCLI.main(["install", "--bogus"]) == 2)
        #expect(InstallCLI.main(["bogus"]) == 2)
    }
}
