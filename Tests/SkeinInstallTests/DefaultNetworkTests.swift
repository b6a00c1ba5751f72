import Testing
@testable import SkeinInstall
import SkeinModel

@Suite("Choosing the default network")
struct DefaultNetworkTests {
    /// A directory given as name → contents; nil contents = listed but gone when read.
    func search(_ files: [(String, String?)], own: String = "00-skein.conflist") throws(InstallError) -> Discovery {
        let table = Dictionary(files.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        return try DefaultNetworkSearch.search(names: files.map(\.0), own: own, directory: "/etc/cni/net.d") { name in
            table[name]!.map { Array($0.utf8) }
        }
    }

    @Test func theRuntimesOrderDecides() throws {
        let d = try search([
            ("20-b.conf", #"{"cniVersion":"0.4.0","name":"b","type":"bridge"}"#),
            ("10-a.json", #"{"cniVersion":"1.0.0","name":"a","type":"ptp","capabilities":{"ips":true}}"#),
            ("05-c.yaml", "not a config extension"),
            ("00-skein.conflist", #"{"cniVersion":"1.0.0","name":"skein-cni-network","plugins":[{"type":"skein"}]}"#),
        ])
        #expect(d == .found(DefaultNetwork(fileName: "10-a.json", cniVersion: .string("1.0.0"), cniVersions: nil, capabilities: ["ips"])))
    }

    @Test func byteOrderNotLocaleOrder() {
        #expect(DefaultNetworkSearch.configNames(["b.conf", "B.conf", "a.conflist", "_.json", "x.conf.bak"])
            == ["B.conf", "_.json", "a.conflist", "b.conf"])
    }

    @Test func metaPluginsAreSkippedAndVanishedFilesIgnored() throws {
        let d = try search([
            ("10-gone.conf", nil),
            ("20-multus.conf", #"{"cniVersion":"0.3.1","name":"m","type":"multus"}"#),
            ("30-chain.conflist", #"{"cniVersion":"0.3.1","name":"c","plugins":[{"type":"bridge"},{"type":"skein"}]}"#),
            ("40-cilium.conflist", #"{"cniVersion":"0.3.1","name":"cilium","plugins":[{"type":"cilium-cni"}]}"#),
        ])
        guard case .found(let n) = d else { Issue.record("\(d)"); return }
        #expect(n.fileName == "40-cilium.conflist")
        #expect(n.capabilities.isEmpty)
    }

    @Test func aHalfWrittenFirstConfigIsWaitedOutNotSkipped() throws {
        let d = try search([("10-flannel.conflist", #"{"name":"cbr0","plugi"#), ("20-ok.conf", #"{"cniVersion":"0.3.1","name":"x","type":"bridge"}"#)])
        #expect(d == .waiting("/etc/cni/net.d/10-flannel.conflist: not a JSON object (still being written?)"))
    }

    @Test func unusableVersionsAndShapesWait() throws {
        for (text, reason) in [
            (#"{"cniVersion":"0.2.0","name":"x","type":"bridge"}"#, "incompatible CNI versions"),
            (#"{"name":"x","type":"bridge"}"#, "incompatible CNI versions"),
            (#"{"cniVersion":"0.3.1","name":"x","plugins":[]}"#, "plugins must be a non-empty array"),
            (#"{"cniVersion":"0.3.1","name":"x"}"#, "has neither plugins nor type"),
            (#"{"cniVersion":"0.3.1","name":"x","plugins":[{"capabilities":{}}]}"#, "a plugin has no type"),
        ] {
            guard case .waiting(let why) = try search([("10-x.conf", text)]) else { Issue.record("not waiting: \(text)"); continue }
            #expect(why.contains(reason), "\(text): \(why)")
        }
    }

    @Test func cniVersionsIsCarriedWithCniVersion() throws {
        let d = try search([("10-x.conflist", #"{"cniVersion":"1.0.0","cniVersions":["1.0.0","1.1.0"],"name":"x","plugins":[{"type":"ptp","capabilities":{"portMappings":true,"dns":false}},{"type":"tuning","capabilities":{"mac":true}}]}"#)])
        #expect(d == .found(DefaultNetwork(fileName: "10-x.conflist", cniVersion: .string("1.0.0"),
                                           cniVersions: .array([.string("1.0.0"), .string("1.1.0")]),
                                           capabilities: ["mac", "portMappings"])))
    }

    @Test func anyConfigBeforeSkeinsIsAConflict() {
        for name in ["00-multus.conf", "00-calico.conflist", ".hidden.json"] {
            #expect(throws: InstallError.self) { try search([(name, "{}"), ("10-flannel.conflist", "{}")]) }
        }
        #expect(throws: Never.self) { try search([("00-skein.conflist.skein-tmp", "{}"), ("00-skein.conflist", "{}")]) }
    }
}
