import SkeinModel

// The kubeconfig file as kubectl and client-go read it, limited to what a node plugin's kubeconfig
// uses: the current context's cluster (server, CA file or data, insecure-skip-tls-verify,
// tls-server-name) and user (token, tokenFile, client certificate and key, file or data). Relative
// paths are relative to the kubeconfig's directory. Where client-go gives one form precedence over
// another (`*-data` over the file, tokenFile over token), so do we.

extension KubeConfig {
    /// Reads and parses the kubeconfig at `path` (YAML or JSON).
    public static func load(kubeconfigPath path: String, context: String? = nil) throws(KubeError) -> KubeConfig {
        let text = String(decoding: try readFile(path, limit: 1 << 20), as: UTF8.self)
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        return try parse(kubeconfig: text, directory: dir.isEmpty ? "/" : dir, context: context, label: path)
    }

    /// `directory` anchors relative paths; `context` overrides `current-context`.
    public static func parse(kubeconfig text: String, directory: String, context: String? = nil,
                             label: String = "kubeconfig") throws(KubeError) -> KubeConfig {
        let doc = try document(text, label: label)
        guard let contextName = context ?? doc["current-context"]?.string, !contextName.isEmpty else {
            throw KubeError(.config, "\(label): no current-context")
        }
        let ctx = try entry(doc, "contexts", "context", named: contextName, label: label)
        guard let clusterName = ctx["cluster"]?.string else {
            throw KubeError(.config, "\(label): context \"\(contextName)\" names no cluster")
        }
        let cluster = try entry(doc, "clusters", "cluster", named: clusterName, label: label)
        let user = try ctx["user"]?.string.map { (name) throws(KubeError) -> JSON in
            try entry(doc, "users", "user", named: name, label: label)
        }
        let paths = PathResolver(directory: directory)
        guard let server = cluster["server"]?.string else {
            throw KubeError(.config, "\(label): cluster \"\(clusterName)\" has no server")
        }
        var tls = try clusterTLS(cluster, paths: paths, label: "\(label): cluster \"\(clusterName)\"")
        var token: BearerToken?
        if let user {
            let what = "\(label): user \"\(ctx["user"]?.string ?? "")\""
            tls.clientCertificate = try pem(user, "client-certificate", paths: paths, what: what)
            tls.clientKey = try pem(user, "client-key", paths: paths, what: what)
            token = try userToken(user, paths: paths, what: what)
            if token == nil && tls.clientCertificate == nil {
                try refuseUnsupportedAuth(user, what: what)
            }
        }
        return KubeConfig(server: try ServerURL.parse(server), tls: tls, token: token,
                          namespace: ctx["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 })
    }

    private static func document(_ text: String, label: String) throws(KubeError) -> JSON {
        // JSON is valid YAML, but a JSON kubeconfig gets exactly JSON's rules (and error offsets).
        if text.first(where: { !$0.isWhitespace }) == "{" {
            do { return try JSON.parse(text) } catch { throw KubeError(.config, "\(label): \(error)") }
        }
        do { return try YAML.parse(text) } catch { throw KubeError(.config, "\(label): \(error)") }
    }

    /// `list` is an array of `{name, <field>: {...}}`; returns the named one's `<field>`.
    private static func entry(_ doc: JSON, _ list: String, _ field: String, named name: String,
                              label: String) throws(KubeError) -> JSON {
        for item in doc[list]?.array ?? [] where item["name"]?.string == name {
            return item[field] ?? .object(JSONObject())
        }
        throw KubeError(.config, "\(label): no \(field) named \"\(name)\"")
    }

    private static func clusterTLS(_ cluster: JSON, paths: PathResolver, label: String) throws(KubeError) -> TLSSettings {
        let insecure: Bool
        switch cluster["insecure-skip-tls-verify"] {
        case nil, .null?: insecure = false
        case .bool(let b)?: insecure = b
        case .string(let s)? where s == "true" || s == "false": insecure = s == "true"
        default: throw KubeError(.config, "\(label): insecure-skip-tls-verify must be a boolean")
        }
        let ca = try pem(cluster, "certificate-authority", paths: paths, what: label)
        // As client-go: trusting a CA and trusting everything at once is a contradiction, not a choice.
        if insecure && ca != nil {
            throw KubeError(.config, "\(label): certificate-authority and insecure-skip-tls-verify together")
        }
        return TLSSettings(ca: ca, insecureSkipVerify: insecure, serverName: cluster["tls-server-name"]?.string)
    }

    /// `<key>-data` (base64 PEM) wins over `<key>` (a file path).
    private static func pem(_ obj: JSON, _ key: String, paths: PathResolver, what: String) throws(KubeError) -> PEMSource? {
        if let data = obj[key + "-data"]?.string, !data.isEmpty {
            guard let bytes = Base64.decode(data) else { throw KubeError(.config, "\(what): \(key)-data is not valid base64") }
            return .pem(bytes)
        }
        if let file = obj[key]?.string, !file.isEmpty { return .file(paths.resolve(file)) }
        return nil
    }

    private static func userToken(_ user: JSON, paths: PathResolver, what: String) throws(KubeError) -> BearerToken? {
        if let file = user["tokenFile"]?.string, !file.isEmpty { return .file(paths.resolve(file)) }
        if let token = user["token"]?.string, !token.isEmpty {
            let t = BearerToken.literal(token)
            _ = try t.read()
            return t
        }
        return nil
    }

    /// Credentials a CNI plugin cannot use: running an exec plugin from inside a pod's network setup
    /// would be slow and fragile. Saying so beats sending an anonymous request that fails with 401.
    private static func refuseUnsupportedAuth(_ user: JSON, what: String) throws(KubeError) {
        for key in ["exec", "auth-provider", "username", "password"] where user[key] != nil {
            throw KubeError(.config, "\(what): \(key) credentials are not supported; use token, tokenFile or a client certificate")
        }
    }
}

struct PathResolver {
    let directory: String

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (directory.hasSuffix("/") ? directory : directory + "/") + path
    }
}
