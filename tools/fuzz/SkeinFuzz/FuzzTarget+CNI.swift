// One CNI invocation: the environment and stdin (`CNIRequest`), the skein config in it
// (`SkeinConfig`), and the built-in plugins' configs that the reducer parses from its delegates.

import SkeinModel

extension FuzzTarget {
    /// The environment a well-formed ADD has, used when the input carries none.
    static let defaultEnv = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "fuzz", "CNI_NETNS": "/var/run/netns/fuzz",
                             "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"]

    /// The input's environment and stdin: "K=V" lines up to the first NUL byte, then stdin. An
    /// input without a NUL is all stdin, under `defaultEnv`.
    public static func splitRequest(_ input: [UInt8]) -> (env: [String: String], stdin: [UInt8]) {
        guard let nul = input.firstIndex(of: 0) else { return (defaultEnv, input) }
        var env: [String: String] = [:]
        for line in input[..<nul].split(separator: 0x0A) {
            guard let eq = line.firstIndex(of: 0x3D) else { continue }
            env[String(decoding: line[..<eq], as: UTF8.self)] = String(decoding: line[(eq + 1)...], as: UTF8.self)
        }
        return (env, Array(input[(nul + 1)...]))
    }

    static func cniRequest(_ input: [UInt8], _ outcome: inout FuzzOutcome) {
        let (env, stdin) = splitRequest(input)
        guard let r = try? CNIRequest.parse(env: env, stdin: stdin) else { return }
        outcome.accepted = true
        if r.command == .version { return }
        outcome.check(CNIVersion.supported.contains(r.cniVersion), "cni-request: accepted cniVersion \(r.cniVersion)")
        outcome.check(r.config.object != nil, "cni-request: accepted a config that is not an object")
        outcome.check(r.config["name"]?.string.map(Rule.isCNIName) == true, "cni-request: accepted network name \(r.config["name"] ?? .null)")
        if [.add, .del, .check].contains(r.command) { attachmentEnv(r, env, &outcome) }
        if (try? SkeinConfig.parse(r.config)) != nil { skeinConfigProperties(r.config, &outcome) }
    }

    /// What an ADD/DEL/CHECK names must be safe as a journal key, a link name and a path.
    static func attachmentEnv(_ r: CNIRequest, _ env: [String: String], _ outcome: inout FuzzOutcome) {
        let cid = r.containerID?.value
        outcome.check(cid.map(Rule.isCNIName) == true, "cni-request: accepted CNI_CONTAINERID \(cid ?? "nil")")
        outcome.check(cid == env["CNI_CONTAINERID"], "cni-request: container ID \(cid ?? "nil") is not the env's")
        let ifname = r.ifname?.value
        outcome.check(ifname.map(Rule.isIfname) == true, "cni-request: accepted CNI_IFNAME \(ifname.debugDescription)")
        if let netns = r.netns {
            outcome.check(netns.utf8.first == 0x2F && !netns.utf8.contains(0) && netns.utf8.count <= 4096,
                          "cni-request: accepted CNI_NETNS \(netns.debugDescription)")
        } else {
            outcome.check(r.command == .del, "cni-request: \(r.command) without CNI_NETNS")
        }
        for (k, v) in r.args {
            outcome.check(!k.isEmpty && !k.contains("=") && !k.contains(";") && !v.contains(";") && !v.contains("="),
                          "cni-request: CNI_ARGS pair \(k.debugDescription)=\(v.debugDescription)")
        }
    }

    static func skeinConfig(_ input: [UInt8], _ outcome: inout FuzzOutcome) {
        guard let json = try? JSON.parse(input) else { return }
        _ = try? GCRequest.parse(json)
        guard (try? SkeinConfig.parse(json)) != nil else { return }
        outcome.accepted = true
        skeinConfigProperties(json, &outcome)
    }

    /// An accepted skein config: its paths confined, its delegates runnable, and each built-in
    /// plugin's own parser run on what the reducer would hand it.
    static func skeinConfigProperties(_ json: JSON, _ outcome: inout FuzzOutcome) {
        guard let c = try? SkeinConfig.parse(json) else { return }
        outcome.check(Rule.isConfinedPath(c.stateDir), "skein-config: accepted stateDir \(c.stateDir.debugDescription)")
        outcome.check(Rule.isCNIName(c.name), "skein-config: accepted name \(c.name.debugDescription)")
        for path in [c.kubeconfig, c.confDir, c.cniDir, c.binDir, c.nadDir, c.logFile, c.readinessIndicatorFile].compactMap({ $0 }) {
            outcome.check(!path.utf8.contains(0), "skein-config: accepted a path with a NUL byte")
        }
        for t in c.execTypes { outcome.check(Rule.isPlainType(t), "skein-config: accepted execTypes entry \(t.debugDescription)") }
        outcome.check(c.delegates.isEmpty != (c.clusterNetwork == nil), "skein-config: delegates and clusterNetwork both or neither")
        for d in c.delegates { delegateProperties(d, "skein-config", &outcome) }
        outcome.check((try? SkeinConfig.parse(json)) == c, "skein-config: parsing twice differs")
    }

    static func delegateProperties(_ d: DelegateConfig, _ what: String, _ outcome: inout FuzzOutcome) {
        outcome.check(Rule.isCNIName(d.name), "\(what): accepted delegate name \(d.name.debugDescription)")
        outcome.check(CNIVersion.supported.contains(d.cniVersion), "\(what): delegate cniVersion \(d.cniVersion)")
        outcome.check(!d.plugins.isEmpty && (d.isConflist || d.plugins.count == 1), "\(what): delegate with \(d.plugins.count) plugins")
        for p in d.plugins {
            let type = p["type"]?.string ?? ""
            outcome.check(Rule.isPlainType(type), "\(what): accepted plugin type \(type.debugDescription)")
            outcome.check(p["name"]?.string == d.name && p["cniVersion"]?.string == d.cniVersion,
                          "\(what): plugin name/cniVersion not injected")
            builtInPlugin(p, type: type, &outcome)
        }
    }

    /// The built-in types' parsers, as the reducer calls them; prevResult as CHECK reads it.
    static func builtInPlugin(_ p: JSON, type: String, _ outcome: inout FuzzOutcome) {
        switch type {
        case "bridge": _ = try? BridgeConfig.parse(plugin: p, envMAC: nil)
        case "macvlan": _ = try? MacvlanConfig.parse(plugin: p, envMAC: nil)
        case "ipvlan": _ = try? IPvlanConfig.parse(plugin: p)
        case "vlan": _ = try? VlanConfig.parse(plugin: p)
        case "host-device": _ = try? HostDeviceConfig.parse(plugin: p)
        case "ptp": _ = try? PtpConfig.parse(plugin: p)
        case "tuning":
            if let t = try? TuningConfig.parse(plugin: p, ifname: "eth0", envMAC: nil) {
                for s in t.sysctls { sysctlProperties(s.key, &outcome) }
            }
        default: break
        }
        if let prev = p["prevResult"] { _ = try? CNIResult.parse(prev) }
    }

    /// A sysctl is written under /proc/sys in the pod's netns: it must stay under net/, and a
    /// per-interface key may only name the attachment's own interface or all/default.
    static func sysctlProperties(_ path: String, _ outcome: inout FuzzOutcome) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let confined = parts.count >= 2 && parts[0] == "net" && !parts.contains { $0.isEmpty || $0 == "." || $0 == ".." }
        outcome.check(confined, "tuning: accepted sysctl path \(path.debugDescription)")
        if parts.count >= 5, parts[2] == "conf" || parts[2] == "neigh" {
            outcome.check(["eth0", "all", "default"].contains(parts[3]), "tuning: accepted sysctl \(path) of another interface")
        }
    }
}
