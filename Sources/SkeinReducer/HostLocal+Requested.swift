// Requested addresses, gathered from the three places the reference's LoadIPAMConfig reads.

import SkeinModel

extension HostLocal {
    /// The union, in the reference's order and without duplicates, of `IP=` in CNI_ARGS
    /// (comma separated, a Skein extension: the reference takes one), `args.cni.ips` and
    /// `runtimeConfig.ips` (the "ips" capability) in the plugin's config. Each entry may carry
    /// a "/prefix"; it must be a valid prefix for the address's family and is then dropped,
    /// as the reference does (the result's prefix always comes from the range's subnet).
    public static func requestedIPs(config: JSON, cniArgs: [(String, String)]) throws(IPAMError) -> [IPAddress] {
        var texts: [(source: String, text: String)] = []
        for (key, value) in cniArgs where key == "IP" {
            // An empty item ("IP=" or a trailing comma) requests nothing, as Go reads "" as no IP.
            for item in value.split(separator: ",") {
                texts.append(("CNI_ARGS IP", String(item)))
            }
        }
        for (path, value) in [("args.cni.ips", config["args"]?["cni"]?["ips"]),
                              ("runtimeConfig.ips", config["runtimeConfig"]?["ips"])] {
            guard let items = try IPAMFields.array(value, context: path) else { continue }
            for (i, item) in items.enumerated() {
                guard let text = item.string else {
                    throw IPAMError(.invalidConfig, "\(path)[\(i)] must be a string, not \(item.typeName)")
                }
                texts.append((path, text))
            }
        }
        var result: [IPAddress] = []
        for (source, text) in texts {
            guard let ip = parseRequested(text) else {
                throw IPAMError(.invalidConfig, "\(source): cannot understand ip \"\(text)\"")
            }
            if !result.contains(ip) { result.append(ip) }
        }
        return result
    }

    static func parseRequested(_ text: String) -> IPAddress? {
        let trimmed = text.trimmingSpaces
        if trimmed.contains("/") { return IPNetwork(trimmed)?.address }
        return IPAddress(trimmed)
    }
}

extension String {
    /// CNI_ARGS values are split by hand in callers; tolerate "IP=a, b".
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
