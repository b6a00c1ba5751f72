import Foundation
import Testing
@testable import SkeinInstall
import SkeinModel

// The walkthrough's NADs and pods in deploy/examples, and the copies deploy/README.md shows: each
// NAD's config is accepted by Skein's own parsers, and the README shows what the files hold.

@Suite("deploy/ examples and README")
struct ExamplesTests {
    static let exampleFiles = ["nad-bridge.yml", "nad-macvlan.yml", "nad-ipvlan.yml", "nad-host-device.yml", "pods.yml"]

    func examples() throws -> [JSON] {
        try Self.exampleFiles.flatMap { try manifest("deploy/examples/" + $0) }
    }

    /// Fenced blocks of one language in deploy/README.md.
    func readmeBlocks(_ language: String) throws -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in try contents(ofRepoFile: "deploy/README.md").split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```" + language { current = [] }
            else if current != nil, line == "```" { blocks.append(current!.joined(separator: "\n") + "\n"); current = nil }
            else if current != nil { current!.append(line) }
        }
        return blocks
    }

    @Test func theWalkthroughsNADsParseAsSkeinDelegates() throws {
        let nads = try examples().filter { $0["kind"]?.string == "NetworkAttachmentDefinition" }
        #expect(Set(nads.compactMap { $0["metadata"]?["name"]?.string }) == ["bridge-conf", "macvlan-conf", "ipvlan-def", "host-device"])
        var types: [String] = []
        for nad in nads {
            let name = try #require(nad["metadata"]?["name"]?.string)
            let config = try JSON.parse(#require(nad["spec"]?["config"]?.string))
            let delegate = try DelegateConfig.parse(config, fallbackName: name, fallbackVersion: CNIVersion.latest)
            let plugin = try #require(delegate.plugins.first)
            let type = try #require(plugin["type"]?.string)
            types.append(type)
            switch type {
            case "bridge": _ = try BridgeConfig.parse(plugin: plugin)
            case "macvlan": _ = try MacvlanConfig.parse(plugin: plugin)
            case "ipvlan": _ = try IPvlanConfig.parse(plugin: plugin)
            case "host-device": _ = try HostDeviceConfig.parse(plugin: plugin)
            default: Issue.record("unexpected type \(type) in \(name)")
            }
        }
        #expect(Set(types) == ["bridge", "macvlan", "ipvlan", "host-device"])
    }

    @Test func podsAskForAnExampleNetwork() throws {
        let all = try examples()
        let nadNames = Set(all.filter { $0["kind"]?.string == "NetworkAttachmentDefinition" }.compactMap { $0["metadata"]?["name"]?.string })
        let pods = all.filter { $0["kind"]?.string == "Pod" }
        #expect(pods.count == 2)
        for pod in pods {
            let networks = try #require(pod["metadata"]?["annotations"]?["k8s.v1.cni.cncf.io/networks"]?.string)
            for entry in networks.split(separator: ",") {
                let name = entry.trimmingCharacters(in: .whitespaces).split(separator: "@")[0].split(separator: "/").last.map(String.init)
                #expect(name.map(nadNames.contains) == true, "\(entry) is one of the examples")
            }
        }
    }

    @Test func readmeYAMLIsTheExamples() throws {
        let blocks = try readmeBlocks("yaml")
        #expect(blocks.count == Self.exampleFiles.count)
        for (block, file) in zip(blocks, Self.exampleFiles) {
            #expect(block == (try contents(ofRepoFile: "deploy/examples/" + file)), "README block vs examples/\(file)")
        }
    }

    /// The config the README shows is byte for byte what the installer writes for a flannel network.
    @Test func readmeShowsTheGeneratedConfig() throws {
        let console = try #require(try readmeBlocks("console").first)
        let shown = try #require(console.components(separatedBy: "$ cat /etc/cni/net.d/00-skein.conflist\n").last?
            .components(separatedBy: "$ ls -l").first)
        let flannel = DefaultNetwork(fileName: "10-flannel.conflist", cniVersion: .string("0.3.1"), cniVersions: nil,
                                     capabilities: ["portMappings"])
        #expect(String(decoding: GeneratedFiles.conflist(flannel, options: InstallOptions()), as: UTF8.self) == shown)
    }
}
