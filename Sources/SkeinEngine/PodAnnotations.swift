import SkeinKube
import SkeinMeta
import SkeinModel

// The pod's annotations, which say what networks it wants. With a kubeconfig and the pod named in
// CNI_ARGS (K8S_POD_NAMESPACE/K8S_POD_NAME), from the API, as Multus reads them: a pod that is not
// there fails the ADD (Multus' getPod: "error getting pod"; code 11 here, so kubelet retries), and
// so does a pod whose UID is not K8S_POD_UID (a stateful set's successor, say), unless it is the
// mirror of a static pod. Without an API (nadDir: podman, edge nodes, tests): the runtimeConfig
// capability `podAnnotations` (annotation → value), and CNI_ARGS `SKEIN_NETWORKS`, the networks
// annotation's comma form, which takes precedence over podAnnotations' one.
enum PodAnnotations {
    static let networksArg = "SKEIN_NETWORKS"
    static let capability = "podAnnotations"

    static func fetch(_ ctx: Context, source: NetworkSource) throws(CNIError) -> [String: String] {
        if source.usesKube, let pod = ctx.pod {
            return try fromAPI(pod, client: try source.kube())
        }
        return try local(ctx)
    }

    static func fromAPI(_ pod: PodRef, client: KubeClient) throws(CNIError) -> [String: String] {
        let what = "pod \(pod.namespace)/\(pod.name)"
        let found: KubeResult<JSON>
        do throws(KubeError) { found = try client.getPod(namespace: pod.namespace, name: pod.name) } catch {
            throw kubeFailure(error, "GET \(what)")
        }
        guard case .found(let object) = found else {
            throw CNIError.tryAgainLater("\(what) not found in the Kubernetes API",
                                         details: "the ADD fails as Multus' does; kubelet retries while the pod exists")
        }
        let annotations = try strings(object["metadata"]?["annotations"], "\(what) metadata.annotations")
        let uid = object["metadata"]?["uid"]?.string
        if let want = pod.uid, !want.isEmpty, uid != want, !isStatic(annotations) {
            throw CNIError.tryAgainLater("\(what) has UID \(uid ?? "none"), not \(want) (K8S_POD_UID): it is another pod of that name")
        }
        Log.debug("\(what): \(annotations.count) annotation(s) from the API")
        return annotations
    }

    /// A static pod's mirror in the API has a UID of its own; its config source says so.
    static func isStatic(_ annotations: [String: String]) -> Bool {
        guard let source = annotations["kubernetes.io/config.source"] else { return false }
        return source != "api"
    }

    static func local(_ ctx: Context) throws(CNIError) -> [String: String] {
        var out = try strings(ctx.config.runtimeConfig[capability], "runtimeConfig.\(capability)")
        if let networks = ctx.request.arg(networksArg) {
            out[NetworkSelection.annotationKey] = networks
        }
        return out
    }

    static func strings(_ value: JSON?, _ what: String) throws(CNIError) -> [String: String] {
        guard let value, !value.isNull else { return [:] }
        guard let object = value.object else { throw CNIError.invalidConfig("\(what) must be an object", details: "got \(value.typeName)") }
        var out: [String: String] = [:]
        for (key, v) in object.pairs {
            guard let s = v.string else { throw CNIError.invalidConfig("\(what)[\"\(key)\"] must be a string", details: "got \(v.typeName)") }
            out[key] = s
        }
        return out
    }
}
