import Testing
import SkeinModel
@testable import SkeinMeta

private func parse(_ text: String, namespace: String = "pods") throws -> [NetworkSelection] {
    try NetworkSelection.parse(text, defaultNamespace: namespace)
}

/// The CNIError `text` raises, or nil when it parses.
private func failure(_ text: String) -> CNIError? {
    do { _ = try NetworkSelection.parse(text, defaultNamespace: "pods"); return nil } catch { return error }
}

@Suite struct NetworkSelectionTests {
    // MARK: - Comma form

    @Test func commaForm() throws {
        let s = try parse(" macvlan-conf , other/ipvlan-def@net7,bridge@eth1 ")
        #expect(s.map(\.networkName) == ["pods/macvlan-conf", "other/ipvlan-def", "pods/bridge"])
        #expect(s.map(\.interface) == [nil, "net7", "eth1"])
        #expect(s.allSatisfy { $0.ips.isEmpty && $0.mac == nil && $0.defaultRoute == nil && $0.cniArgs == nil })
    }

    @Test func emptyNamespaceAndInterfaceMeanDefaults() throws {
        #expect(try parse("/a,b@") == [NetworkSelection(namespace: "pods", name: "a"), NetworkSelection(namespace: "pods", name: "b")])
    }

    @Test func theSameNetworkMayAppearTwice() throws {
        #expect(try parse("a,a").map(\.networkName) == ["pods/a", "pods/a"])
    }

    @Test(arguments: ["", "   ", "\n"])
    func emptyAnnotationSelectsNothing(_ text: String) throws {
        #expect(try parse(text).isEmpty)
    }

    @Test(arguments: [
        ("a,,b", "empty element"),
        ("a,", "empty element"),
        ("x/y/z", "more than one '/'"),
        ("a@b@c", "more than one '@'"),
        ("Upper", "DNS-1123"),
        ("a_b", "DNS-1123"),
        ("-a", "DNS-1123"),
        ("a-", "DNS-1123"),
        ("Ns/a", "namespace"),
        ("ns/", "network name is missing"),
        ("@eth1", "network name is missing"),
        ("a@abcdefghijklmnop", "interface name"),
        ("a@..", "interface name"),
        ("a@.", "interface name"),
        ("a@e:1", "interface name"),
        (String(repeating: "a", count: 64), "DNS-1123"),
    ])
    func commaFormErrors(_ text: String, _ fragment: String) {
        let error = failure(text)
        #expect(error?.code == 7, "\(text)")
        #expect(error.map { ($0.msg + " " + $0.details).contains(fragment) } == true, "\(String(describing: error))")
    }

    @Test func commaErrorNamesTheElement() {
        let error = failure("good,Bad")
        #expect(error?.msg.contains("\"Bad\"") == true)
        #expect(error?.msg.contains(NetworkSelection.annotationKey) == true)
    }

    @Test func sixtyThreeCharactersIsALabel() throws {
        let name = String(repeating: "a", count: 63)
        #expect(try parse(name).first?.name == name)
    }

    // MARK: - JSON form

    @Test func jsonFormAllKeys() throws {
        let s = try parse(#"""
            [{"name":"macvlan-conf","namespace":"net","interface":"data0","ips":["10.1.1.5/24","fd00::5"],
              "mac":"0A:58:0A:01:01:05","default-route":["10.1.1.1"],"cni-args":{"foo":"bar","n":1},
              "portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":"10.0.0.1"}],
              "bandwidth":{"ingressRate":1000,"ingressBurst":10,"egressRate":2000,"egressBurst":20},
              "infiniband-guid":"c2:11:22:33:44:55:66:77","deviceID":"0000:03:00.1","ipam-claim-reference":"claim",
              "unknownKey":true},
             {"name":"plain"}]
            """#)
        #expect(s.count == 2)
        let a = s[0]
        #expect(a.networkName == "net/macvlan-conf" && a.interface == "data0")
        #expect(a.ips == ["10.1.1.5/24", "fd00::5"] && a.mac == "0a:58:0a:01:01:05")
        #expect(a.defaultRoute == [IPAddress("10.1.1.1")!])
        #expect(a.cniArgs?["foo"]?.string == "bar" && a.cniArgs?["n"]?.int == 1)
        #expect(a.portMappings?.first?["hostPort"]?.int == 8080)
        #expect(a.bandwidth?["egressBurst"]?.int == 20)
        #expect(a.infinibandGUID == "c2:11:22:33:44:55:66:77" && a.deviceID == "0000:03:00.1")
        #expect(s[1] == NetworkSelection(namespace: "pods", name: "plain"))
    }

    @Test func deprecatedInterfaceRequest() throws {
        #expect(try parse(#"[{"name":"a","interfaceRequest":"old0"}]"#).first?.interface == "old0")
        #expect(try parse(#"[{"name":"a","interface":"new0","interfaceRequest":"old0"}]"#).first?.interface == "new0")
        #expect(try parse(#"[{"name":"a","interface":"","interfaceRequest":"old0"}]"#).first?.interface == "old0")
    }

    @Test func emptyDefaultRouteIsKeptApartFromAbsent() throws {
        #expect(try parse(#"[{"name":"a","default-route":[]}]"#).first?.defaultRoute == [])
        #expect(try parse(#"[{"name":"a","default-route":null}]"#).first?.defaultRoute == nil)
        #expect(try parse(#"[{"name":"a","namespace":""}]"#).first?.namespace == "pods")
    }

    @Test(arguments: [
        (#"{"name":"a"}"#, "JSON list"),
        (#"[{"name":"a"}"#, "not valid JSON"),
        (#"["a"]"#, "[0] must be an object"),
        (#"[{}]"#, "[0].name is missing"),
        (#"[{"name":"A"}]"#, "[0].name must be a DNS-1123"),
        (#"[{"name":"a","namespace":"x_y"}]"#, "[0].namespace"),
        (#"[{"name":"a"},{"name":"b","interface":"way-too-long-name"}]"#, "[1].interface"),
        (#"[{"name":"a","interface":"a/b"}]"#, "[0].interface"),
        (#"[{"name":"a","interface":"a b"}]"#, "[0].interface"),
        (#"[{"name":"a","ips":["10.1.1.300"]}]"#, "[0].ips[0]"),
        (#"[{"name":"a","ips":["10.1.1.1/33"]}]"#, "[0].ips[0]"),
        (#"[{"name":"a","ips":"10.1.1.1"}]"#, "[0].ips must be an array"),
        (#"[{"name":"a","ips":[1]}]"#, "[0].ips[0] must be a string"),
        (#"[{"name":"a","mac":"zz:00:00:00:00:01"}]"#, "[0].mac"),
        (#"[{"name":"a","mac":"01:00:5e:00:00:01"}]"#, "[0].mac"),
        (#"[{"name":"a","default-route":["10.1.1.0/24"]}]"#, "[0].default-route[0]"),
        (#"[{"name":"a","default-route":"10.1.1.1"}]"#, "[0].default-route must be an array"),
        (#"[{"name":"a","cni-args":[]}]"#, "[0].cni-args must be an object"),
        (#"[{"name":"a","portMappings":{}}]"#, "[0].portMappings must be an array"),
        (#"[{"name":"a","portMappings":[{"hostPort":"80"}]}]"#, "[0].portMappings[0].hostPort"),
        (#"[{"name":"a","portMappings":[{"containerPort":70000}]}]"#, "[0].portMappings[0].containerPort"),
        (#"[{"name":"a","portMappings":[{"hostIP":"x"}]}]"#, "[0].portMappings[0].hostIP"),
        (#"[{"name":"a","bandwidth":{"ingressRate":"1"}}]"#, "[0].bandwidth.ingressRate"),
        (#"[{"name":"a","bandwidth":{"egressRate":-1}}]"#, "[0].bandwidth.egressRate"),
        (#"[{"name":"a","infiniband-guid":"c2:11"}]"#, "[0].infiniband-guid"),
        (#"[{"name":"a","deviceID":7}]"#, "[0].deviceID"),
    ])
    func jsonFormErrors(_ text: String, _ fragment: String) {
        let error = failure(text)
        #expect(error?.code == 7, "\(text)")
        #expect(error?.msg.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test func jsonErrorsNameTheAnnotation() {
        #expect(failure(#"[{"name":"a","ips":["x"]}]"#)?.msg.hasPrefix("k8s.v1.cni.cncf.io/networks[0].ips[0]") == true)
    }

    @Test func labelAndSubdomainRules() {
        #expect(KubeName.isLabel("a") && KubeName.isLabel("a-b-1") && KubeName.isLabel("0"))
        #expect(!KubeName.isLabel("") && !KubeName.isLabel("a.b") && !KubeName.isLabel("é"))
        #expect(KubeName.isSubdomain("a.b-c.d") && !KubeName.isSubdomain("a..b") && !KubeName.isSubdomain(".a"))
        #expect(!KubeName.isSubdomain(String(repeating: "a.", count: 127) + "a"))
    }
}
