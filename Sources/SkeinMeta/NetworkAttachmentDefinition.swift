// NetworkAttachmentDefinition objects (NPWG spec v1.3 §3): from the API (JSON) or from files a
// user wrote (YAML or JSON, as `kubectl apply` takes them), so the walkthrough's NADs work as is.

import SkeinModel

/// A NetworkAttachmentDefinition: its identity and the CNI config it attaches.
public struct NetworkAttachmentDefinition: Equatable, Sendable {
    /// Where the attachment's CNI config comes from.
    public enum Config: Equatable, Sendable {
        /// `spec.config`, a conf or a conflist (its missing `name` is the NAD's name).
        case delegate(DelegateConfig)
        /// No `spec.config`: the spec says to use the conflist/conf in confDir whose `name` is the
        /// NAD's name; the caller reads confDir (see `ConfDirectory`).
        case fromConfDir
    }

    public var namespace: String
    public var name: String
    public var annotations: [String: String]
    public var config: Config

    public static let apiVersion = "k8s.cni.cncf.io/v1"
    public static let kind = "NetworkAttachmentDefinition"

    public init(namespace: String, name: String, annotations: [String: String] = [:], config: Config) {
        self.namespace = namespace; self.name = name; self.annotations = annotations; self.config = config
    }

    /// "namespace/name", as Multus names the network.
    public var networkName: String { "\(namespace)/\(name)" }

    /// One NAD from JSON or YAML text. `defaultNamespace` applies when metadata has none (a file);
    /// `fallbackVersion` is the cniVersion for a config that has none (the Skein config's).
    public static func parse(_ text: String, defaultNamespace: String,
                             fallbackVersion: String) throws(CNIError) -> NetworkAttachmentDefinition {
        let objects = try objects(in: text)
        guard objects.count == 1 else {
            throw .invalidConfig("expected one NetworkAttachmentDefinition, found \(objects.count) objects")
        }
        return try parse(object: objects[0], defaultNamespace: defaultNamespace, fallbackVersion: fallbackVersion)
    }

    /// A NAD from an object already decoded (an API response, or one document of a file).
    public static func parse(object: JSON, defaultNamespace: String,
                             fallbackVersion: String) throws(CNIError) -> NetworkAttachmentDefinition {
        guard let o = object.object else {
            throw .invalidConfig("a NetworkAttachmentDefinition must be an object", details: "got \(object.typeName)")
        }
        let top = Members(o, context: "")
        guard try top.string("kind") == kind else {
            throw .invalidConfig("kind must be \(kind)", details: "got \(o["kind"]?.string ?? o["kind"]?.typeName ?? "nothing")")
        }
        guard try top.string("apiVersion") == apiVersion else {
            throw .invalidConfig("apiVersion must be \(apiVersion)", details: "got \(o["apiVersion"]?.string ?? "nothing")")
        }
        let metadata = Members(try top.object("metadata") ?? JSONObject(), context: "metadata.")
        let name = try metadata.string("name") ?? ""
        guard KubeName.isSubdomain(name) else {
            throw .invalidConfig("metadata.name must be a DNS-1123 subdomain", details: name.isEmpty ? "missing" : name)
        }
        var namespace = try metadata.string("namespace") ?? ""
        if namespace.isEmpty { namespace = defaultNamespace }
        guard KubeName.isLabel(namespace) else {
            throw .invalidConfig("NetworkAttachmentDefinition \(name): metadata.namespace must be a DNS-1123 label", details: namespace)
        }
        var nad = NetworkAttachmentDefinition(namespace: namespace, name: name, annotations: try annotations(metadata),
                                              config: .fromConfDir)
        let spec = Members(try top.object("spec") ?? JSONObject(), context: "spec.")
        if let text = try spec.string("config"), !text.trimmedWhitespace.isEmpty {
            nad.config = .delegate(try delegate(text, nad: nad, fallbackVersion: fallbackVersion))
        }
        return nad
    }

    static func annotations(_ metadata: Members) throws(CNIError) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in (try metadata.object("annotations") ?? JSONObject()).pairs {
            guard let s = value.string else { throw metadata.fail("annotations[\"\(key)\"]", "a string", value) }
            out[key] = s
        }
        return out
    }

    /// `spec.config` as libcni would load it, with the NAD's name injected when the config has none.
    static func delegate(_ text: String, nad: NetworkAttachmentDefinition,
                         fallbackVersion: String) throws(CNIError) -> DelegateConfig {
        let json: JSON
        do { json = try JSON.parse(text) } catch {
            throw .invalidConfig("NetworkAttachmentDefinition \(nad.networkName): spec.config is not valid JSON",
                                 details: error.description)
        }
        guard case .object(var config) = json else {
            throw .invalidConfig("NetworkAttachmentDefinition \(nad.networkName): spec.config must be a JSON object",
                                 details: "got \(json.typeName)")
        }
        if config["name"]?.string == "" { config["name"] = nil }
        return try DelegateConfig.parse(.object(config), fallbackName: nad.name, fallbackVersion: fallbackVersion,
                                        context: "NetworkAttachmentDefinition \(nad.networkName) spec.config.")
    }

    /// The objects in a file: a JSON document, or every YAML document; a `List` (what `kubectl get -o
    /// yaml` prints) contributes its items.
    public static func objects(in text: String) throws(CNIError) -> [JSON] {
        let documents: [JSON]
        let first = text.utf8.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        if first == UInt8(ascii: "{") {
            do { documents = [try JSON.parse(text)] } catch {
                throw .invalidConfig("invalid JSON", details: error.description)
            }
        } else {
            do { documents = try YAML.parseAll(text) } catch {
                throw .invalidConfig("invalid YAML at line \(error.line): \(error.message)")
            }
        }
        var out: [JSON] = []
        for document in documents {
            if let kind = document["kind"]?.string, kind.hasSuffix("List"), let items = document["items"]?.array {
                out += items
            } else {
                out.append(document)
            }
        }
        return out
    }
}
