import SkeinModel

// The two files the installer writes from scratch. Both are a function of the options, the
// environment and the default network only, byte for byte, so an unchanged input is an unchanged
// file (the installer compares bytes to decide whether to write).

enum GeneratedFiles {
    /// Skein's network config list. `clusterNetwork` is the default network's file by absolute node
    /// path, as Multus' auto-configuration writes it: the binary reads that file on every ADD (no
    /// API lookup, no copy that could go stale), so this file changes only when the default
    /// network's cniVersion, capabilities or file name do.
    static func conflist(_ network: DefaultNetwork, options: InstallOptions) -> [UInt8] {
        var plugin = JSONObject()
        plugin["type"] = .string("skein")
        plugin["clusterNetwork"] = .string(joinPath(options.cniConfDir, network.fileName))
        if options.writeKubeconfig { plugin["kubeconfig"] = .string(options.kubeconfig) }
        plugin["stateDir"] = .string(options.stateDir)
        for pair in options.settings.pairs { plugin[pair.key] = pair.value }
        if !network.capabilities.isEmpty {
            plugin["capabilities"] = .object(JSONObject(network.capabilities.map { ($0, JSON.bool(true)) }))
        }
        var list = JSONObject()
        if let v = network.cniVersion { list["cniVersion"] = v }
        if let v = network.cniVersions { list["cniVersions"] = v }
        list["name"] = .string(options.networkName)
        list["plugins"] = .array([.object(plugin)])
        return Array((JSON.object(list).pretty() + "\n").utf8)
    }

    /// The API server as pods (and, through kube-proxy or its replacement, the node) reach it:
    /// the in-cluster `kubernetes` service, unless --api-server says otherwise.
    static func serverURL(_ options: InstallOptions, environment: [String: String]) throws(InstallError) -> String {
        if let url = options.apiServer { return url }
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw InstallError(.usage, "KUBERNETES_SERVICE_HOST is not set: run in a pod, or give --api-server (or --no-kubeconfig)")
        }
        let port = environment["KUBERNETES_SERVICE_PORT"] ?? "443"
        guard let n = Int(port), (1...65535).contains(n), port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw InstallError(.usage, "KUBERNETES_SERVICE_PORT is not a port number: \"\(port)\"")
        }
        let allowed = host.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: ":")
        }
        guard allowed else { throw InstallError(.usage, "KUBERNETES_SERVICE_HOST is not a host name or address: \"\(host)\"") }
        // An IPv6 literal needs brackets in a URL, or its colons read as the port's.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "https://" + authority
    }

    /// A kubeconfig naming the token *file*: client code reads `tokenFile` on every request (each
    /// CNI call is a new process), so a rotated token is used as soon as the installer copies it,
    /// with no rewrite of this file and nothing inlined to expire.
    static func kubeconfig(server: String, caPath: String, tokenPath: String) -> [UInt8] {
        func q(_ s: String) -> String { JSON.string(s).serialized() }  // a JSON string is a YAML double-quoted scalar
        let text = """
        # Written by `skein install`. The token and CA are copies of the skein DaemonSet pod's
        # service-account files, refreshed by the installer while it runs.
        apiVersion: v1
        kind: Config
        clusters:
          - name: skein
            cluster:
              server: \(q(server))
              certificate-authority: \(q(caPath))
        users:
          - name: skein
            user:
              tokenFile: \(q(tokenPath))
        contexts:
          - name: skein
            context:
              cluster: skein
              user: skein
        current-context: skein

        """
        return Array(text.utf8)
    }
}
