import SkeinModel

// loopback: the container's `lo` brought up (DEL sets it down again, as the reference does). The
// reference result names `lo` whatever CNI_IFNAME is, with the all-zero MAC, and lists the
// addresses the kernel puts on it when it comes up: 127.0.0.1/8 and ::1/128. They are reported,
// never held.

enum LoopbackAttachment {
    static let addresses = [IPNetwork("127.0.0.1/8")!, IPNetwork("::1/128")!]

    static func build(_ r: AddRequested) throws(BuildFailure) -> AddDecision {
        guard r.plugin.object != nil else { throw .invalid("loopback config must be a JSON object") }
        let lo = LinkSpec(name: "lo", namespace: .container, kind: .loopback, up: true)
        return AddDecision(pluginType: "loopback", spec: AttachmentSpec(links: [lo]),
                           addresses: addresses.map { HeldAddress(address: $0, gateway: nil) }, cursors: [:],
                           resultRoutes: [], dns: nil, holdsAddresses: false)
    }
}
