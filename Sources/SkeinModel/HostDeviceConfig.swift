// The built-in `host-device` delegate's config: the reference plugin's schema
// (plugins/main/host-device). The config only selects the device; the engine resolves the
// selector in the host before the request is journaled and records what it found as a fact.

public struct HostDeviceConfig: Equatable, Sendable {
    public enum Selector: Equatable, Sendable, CustomStringConvertible {
        case device(String)
        case hwaddr(MACAddress)
        /// An absolute path under /sys/devices/; the first network device below its `net` directory.
        case kernelPath(String)
        /// From `pciBusID`, or runtimeConfig `deviceID`, which overrides it as in the reference.
        case pciBusID(String)

        public var description: String {
            switch self {
            case .device(let name): return "device \(name)"
            case .hwaddr(let mac): return "hwaddr \(mac)"
            case .kernelPath(let path): return "kernelpath \(path)"
            case .pciBusID(let id): return "pciBusID \(id)"
            }
        }
    }

    /// The reference tries the keys in this order and uses the first that is set.
    public var selector: Selector
    public var ipam: JSON?

    public static func parse(plugin: JSON) throws(CNIError) -> HostDeviceConfig {
        let f = try PluginConfig.fields(plugin, type: "host-device")
        // The reference decodes this exported field too; DPDK devices have no netdev to move.
        if try f.bool("DPDKMode") == true { throw PluginConfig.unsupported("host-device", "DPDKMode", .bool(true)) }
        return HostDeviceConfig(selector: try selector(f), ipam: try PluginConfig.ipam(f))
    }

    static func selector(_ f: CNIFields) throws(CNIError) -> Selector {
        if let name = try PluginConfig.interfaceName(f, "device") { return .device(name) }
        if let text = try f.string("hwaddr"), !text.isEmpty {
            guard let mac = MACAddress(text) else {
                throw .invalidConfig("hwaddr is not a MAC address of the form aa:bb:cc:dd:ee:ff", details: text)
            }
            return .hwaddr(mac)
        }
        if let path = try f.string("kernelpath"), !path.isEmpty {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard path.hasPrefix("/sys/devices/"), !parts.contains(".."), !parts.contains(".") else {
                throw .invalidConfig("kernel device path \"\(path)\" must be absolute and begin with /sys/devices/")
            }
            return .kernelPath(path)
        }
        let deviceID = try PluginConfig.nested(f, ["runtimeConfig"])?.string("deviceID") ?? ""
        let pci = deviceID.isEmpty ? try f.string("pciBusID") ?? "" : deviceID
        if !pci.isEmpty {
            // Becomes a path component under /sys/bus/pci/devices.
            guard !pci.contains("/"), pci != ".", pci != ".." else { throw .invalidConfig("invalid PCI address", details: pci) }
            return .pciBusID(pci)
        }
        throw .invalidConfig(#"specify either "device", "hwaddr", "kernelpath" or "pciBusID""#)
    }
}
