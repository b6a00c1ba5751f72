import Testing
@testable import SkeinKube

@Suite struct ServerURLTests {
    @Test func parsesHostsPortsAndPrefixes() throws {
        var u = try ServerURL.parse("https://10.96.0.1")
        #expect(u == ServerURL(scheme: .https, host: "10.96.0.1", port: 443))
        #expect(u.hostHeader == "10.96.0.1")
        u = try ServerURL.parse("https://api.example.com:6443/")
        #expect(u == ServerURL(scheme: .https, host: "api.example.com", port: 6443))
        #expect(u.hostHeader == "api.example.com:6443")
        u = try ServerURL.parse("https://[fd00::1]:6443/k8s/clusters/c-1//")
        #expect(u == ServerURL(scheme: .https, host: "fd00::1", port: 6443, pathPrefix: "/k8s/clusters/c-1"))
        #expect(u.hostHeader == "[fd00::1]:6443")
        u = try ServerURL.parse("http://127.0.0.1:8001")
        #expect(u == ServerURL(scheme: .http, host: "127.0.0.1", port: 8001))
        #expect(try ServerURL.inCluster(host: "fd00::1", port: "443") == ServerURL(scheme: .https, host: "fd00::1", port: 443))
        #expect(try ServerURL.inCluster(host: "10.0.0.1", port: "6443").description == "https://10.0.0.1:6443")
    }

    @Test func rejectsWhatIsNotAServerURL() {
        for bad in ["ftp://x", "10.0.0.1:443", "https://", "https://host:0", "https://host:70000", "https://host:x",
                    "https://[fd00::1", "https://[nothex::g]:1", "https://ho st", "https://host/a?b", "https://host/a b",
                    "https://[::1]x"] {
            #expect(throws: KubeError.self, "\(bad)") { try ServerURL.parse(bad) }
        }
    }
}

@Suite struct KubeNameTests {
    @Test func acceptsDNS1123Names() throws {
        try KubeName.checkLabel("kube-system", what: "namespace")
        try KubeName.checkLabel(String(repeating: "a", count: 63), what: "namespace")
        try KubeName.checkSubdomain("web-0", what: "pod")
        try KubeName.checkSubdomain("a.b-c.d0", what: "pod")
    }

    @Test func rejectsEverythingElse() {
        for bad in ["", "-a", "a-", "A", "a_b", "a/b", "..", ".", "a..b", "a%2f", "a?b", "a b", "é",
                    String(repeating: "a", count: 64)] {
            #expect(throws: KubeError(.invalidName, "namespace \"\(bad)\" is not a DNS-1123 label")) {
                try KubeName.checkLabel(bad, what: "namespace")
            }
        }
        for bad in ["", ".a", "a.", "a..b", "../x", "a/b", "a?b", String(repeating: "a.", count: 127) + "a"] {
            #expect(throws: KubeError.self, "\(bad)") { try KubeName.checkSubdomain(bad, what: "pod") }
        }
    }
}
