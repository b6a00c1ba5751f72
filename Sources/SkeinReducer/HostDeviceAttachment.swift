import SkeinModel

// host-device: an existing device moved from the host into the container, renamed to
// CNI_IFNAME and brought up, with IPAM's addresses and routes if the config has IPAM. The engine
// resolved the selector (device, hwaddr, kernelpath, pciBusID, runtimeConfig.deviceID) before the
// request was journaled and recorded the device it found as the fact "hostDevice"; the spec
// carries it as the origin that DEL restores (name, MAC, MTU), even when the netns is gone.

enum HostDeviceAttachment {
    static func build(_ r: AddRequested, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in try HostDeviceConfig.parse(plugin: r.plugin) }
        let origin = try origin(r, conf.selector)
        let link = LinkSpec(name: r.key.ifname, namespace: .container, kind: .hostDevice(origin))
        let addressing = try conf.ipam.map { ipam throws(BuildFailure) in try Attachments.address(r, ipam: ipam, lookup: lookup) }
        // Layer 2 only, the reference prints just the interface (no DNS).
        return Attachments.single(r, type: "host-device", link, addressing, arpNotify: false,
                                  dns: addressing == nil ? nil : dnsOf(r.plugin))
    }

    static func origin(_ r: AddRequested, _ selector: HostDeviceConfig.Selector) throws(BuildFailure) -> HostDeviceOrigin {
        guard let fact = r.facts?["hostDevice"], !fact.isNull else {
            throw .invalid("failed to find host device: \(selector): device not found")
        }
        let origin: HostDeviceOrigin
        do {
            origin = try HostDeviceOrigin(json: fact)
        } catch {
            throw .invalid("host-device: the observed device is malformed: \(error.description)")
        }
        // The fact must answer this selector; a mismatch means it was observed for another config.
        let matches: Bool
        switch selector {
        case .device(let name): matches = name == origin.name
        case .hwaddr(let mac): matches = origin.mac == mac
        case .kernelPath, .pciBusID: matches = true
        }
        guard matches else { throw .invalid("host-device: observed device \(origin.name) does not match \(selector)") }
        return origin
    }
}
