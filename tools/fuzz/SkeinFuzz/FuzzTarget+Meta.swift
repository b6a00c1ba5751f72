// What a pod's owner writes (the networks annotation) and what a namespace's owner writes (NADs):
// the two inputs of the meta-plugin that come from users rather than from the node's operator.

import SkeinMeta
import SkeinModel

extension FuzzTarget {
    /// The cluster network every fuzzed plan starts from, and the one delegate every NAD resolves to.
    static let clusterConfig: SkeinConfig? = try? SkeinConfig.parse(JSON.parse(
        #"{"cniVersion":"1.0.0","name":"cluster","type":"skein","delegates":[{"type":"bridge","ipam":{"type":"host-local","subnet":"10.0.0.0/24"}}]}"#))
    static let nadDelegate: DelegateConfig? = try? DelegateConfig.parse(
        JSON.parse(#"{"cniVersion":"1.0.0","name":"net","type":"macvlan","master":"eth9","capabilities":{"ips":true,"mac":true}}"#),
        fallbackName: "net", fallbackVersion: "1.0.0")

    /// Input: the networks annotation, optionally followed by a NUL and the default-network annotation.
    static func networkSelection(_ input: [UInt8], _ outcome: inout FuzzOutcome) {
        let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let networks = String(decoding: parts[0], as: UTF8.self)
        guard let selections = try? NetworkSelection.parse(networks, defaultNamespace: "pods") else { return }
        outcome.accepted = true
        for s in selections { selectionProperties(s, &outcome) }
        if !networks.contains(where: { $0 == "[" || $0 == "{" || $0 == "\"" }) {
            let rendered = selections.map { s in "\(s.namespace)/\(s.name)" + (s.interface.map { "@" + $0 } ?? "") }
            let again = try? NetworkSelection.parse(rendered.joined(separator: ","), defaultNamespace: "pods")
            outcome.check(again == selections, "network-selection: the comma form does not round-trip: \(rendered)")
        }
        var annotations = [NetworkSelection.annotationKey: networks]
        if parts.count == 2 { annotations[NetworkSelection.defaultNetworkAnnotationKey] = String(decoding: parts[1], as: UTF8.self) }
        plan(annotations, selections.count, &outcome)
    }

    static func selectionProperties(_ s: NetworkSelection, _ outcome: inout FuzzOutcome) {
        outcome.check(KubeName.isLabel(s.name) && KubeName.isLabel(s.namespace),
                      "network-selection: accepted \(s.namespace.debugDescription)/\(s.name.debugDescription)")
        if let i = s.interface { outcome.check(Rule.isIfname(i), "network-selection: accepted interface \(i.debugDescription)") }
        for ip in s.ips {
            outcome.check((ip.contains("/") ? IPNetwork(ip) != nil : IPAddress(ip) != nil), "network-selection: accepted ip \(ip.debugDescription)")
        }
        if let mac = s.mac { outcome.check(mac == mac.lowercased() && !mac.contains(";"), "network-selection: accepted mac \(mac.debugDescription)") }
    }

    /// The plan over the selections, every network resolving to one macvlan delegate: the pod's
    /// interfaces must be distinct valid names, and each delegate's CNI_ARGS well formed.
    static func plan(_ annotations: [String: String], _ count: Int, _ outcome: inout FuzzOutcome) {
        guard let config = clusterConfig, let delegate = nadDelegate else {
            outcome.violations.append("network-selection: the fixed cluster config does not parse")
            return
        }
        guard let plan = try? MetaPlan.build(config: config, podNamespace: "pods", annotations: annotations, ifname: "eth0",
                                             resolve: { (_: String, _: String) throws(CNIError) in delegate }) else { return }
        let names = plan.attachments.map(\.ifname)
        outcome.check(Set(names).count == names.count, "plan: interface names repeat: \(names)")
        outcome.check(names.allSatisfy(Rule.isIfname), "plan: invalid interface name in \(names)")
        outcome.check(plan.attachments.filter(\.isDefault).count == 1, "plan: \(plan.attachments.filter(\.isDefault).count) default attachments")
        for a in plan.attachments {
            _ = a.pluginConfigs()
            let args = a.cniArgs(base: "IgnoreUnknown=1;K8S_POD_NAMESPACE=pods")
            let wellFormed = args.split(separator: ";", omittingEmptySubsequences: false).allSatisfy { pair in
                pair.split(separator: "=", omittingEmptySubsequences: false).count == 2 && !pair.hasPrefix("=")
            }
            outcome.check(wellFormed, "plan: CNI_ARGS \(args.debugDescription) is not K=V;K=V")
        }
    }

    /// Input: one file's text, as nadDir holds it.
    static func nad(_ input: [UInt8], _ outcome: inout FuzzOutcome) {
        let text = String(decoding: input, as: UTF8.self)
        let directory = NADDirectory(files: [(name: "fuzz.yaml", text: text)], fallbackVersion: "1.0.0", defaultNamespace: "pods")
        for d in directory.definitions { nadProperties(d, &outcome) }
        guard let nad = try? NetworkAttachmentDefinition.parse(text, defaultNamespace: "pods", fallbackVersion: "1.0.0") else { return }
        outcome.accepted = true
        nadProperties(nad, &outcome)
        outcome.check(directory.definitions == [nad] && directory.problems.isEmpty,
                      "nad: parse accepts the file but NADDirectory holds \(directory.definitions.count) definition(s), \(directory.problems.count) problem(s)")
    }

    static func nadProperties(_ nad: NetworkAttachmentDefinition, _ outcome: inout FuzzOutcome) {
        outcome.check(KubeName.isSubdomain(nad.name) && KubeName.isLabel(nad.namespace),
                      "nad: accepted \(nad.namespace.debugDescription)/\(nad.name.debugDescription)")
        if case .delegate(let d) = nad.config { delegateProperties(d, "nad", &outcome) }
    }
}
