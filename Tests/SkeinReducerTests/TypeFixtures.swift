// Requests and decisions for the built-in type tests: pure, no state but an empty MemoryState.

import SkeinModel
import Testing
@testable import SkeinReducer

enum Fx {
    static let key = AttachmentKey(containerID: "c0ffee", ifname: "net1")
    static let netns = "/var/run/netns/pod-1"

    static func json(_ text: String) -> JSON { try! JSON.parse(text) }
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }
    static func net(_ s: String) -> IPNetwork { IPNetwork(s)! }
    static func mac(_ s: String) -> MACAddress { MACAddress(s)! }

    static var containerMAC: MACAddress { Naming.containerMAC(key, network: "blue") }
    static var hostMAC: MACAddress { Naming.hostMAC(key, network: "blue") }
    static var hostVeth: String { Naming.hostVeth(key, network: "blue") }

    static let hostLocal = #"{"type":"host-local","subnet":"10.9.0.0/24","routes":[{"dst":"192.168.0.0/16"}]}"#

    static func request(_ plugin: String, chained: [String] = [], ifname: String = "net1", facts: String? = nil,
                        cniArgs: String? = nil, envMAC: String? = nil, execTypes: [String] = [],
                        ips: [IPAddress] = []) -> AddRequested {
        AddRequested(key: AttachmentKey(containerID: key.containerID, ifname: ifname), network: "blue", netns: netns,
                     pod: nil, process: ProcessRef(pid: 7, startTime: 7), plugin: json(plugin), requestedIPs: ips,
                     cniArgsMAC: envMAC, chained: chained.map(json), cniArgs: cniArgs, execTypes: execTypes,
                     facts: facts.map(json))
    }

    /// The decision for `r` on an empty state; records an issue and returns nil when refused.
    static func decide(_ r: AddRequested, sourceLocation: SourceLocation = #_sourceLocation) -> AddDecision? {
        let out = Reducer.decide(r, state: MemoryState())
        if let refusal = out.refusal {
            Issue.record("refused: \(refusal.code) \(refusal.message)", sourceLocation: sourceLocation)
        }
        return out.decision
    }

    static func refusal(_ r: AddRequested, sourceLocation: SourceLocation = #_sourceLocation) -> Refusal? {
        let out = Reducer.decide(r, state: MemoryState())
        if out.decision != nil { Issue.record("not refused", sourceLocation: sourceLocation) }
        return out.refusal
    }

    /// The attachment row the decision makes, as the engine would see it after ADD.
    static func record(_ r: AddRequested, _ d: AddDecision) -> AttachmentRecord {
        AttachmentRecord(key: r.key, network: r.network, netns: r.netns, pluginType: d.pluginType, status: .active,
                         pod: nil, process: r.process, spec: d.spec, addresses: d.addresses, resultRoutes: d.resultRoutes,
                         dns: d.dns, result: nil, requestSeq: 1, updatedSeq: 1, lastError: nil, exec: d.exec, cniArgs: r.cniArgs)
    }

    /// The 1.1.0 result JSON for the decision, with `observed` MACs by link name.
    static func result(_ r: AddRequested, _ d: AddDecision, observed: [String: MACAddress] = [:]) -> String {
        ResultBuilder.result(record(r, d)) { observed[$0.name] }.json(version: "1.1.0").serialized()
    }
}
