import SkeinModel

// Writing the network-status annotation through pods/status (the subresource node plugins are
// granted, as Multus does), with optimistic concurrency: the PUT carries the resourceVersion we
// read, a 409 means someone wrote in between, and we read again and re-apply.

extension KubeClient {
    /// Sets `metadata.annotations["k8s.v1.cni.cncf.io/network-status"] = value` on the pod.
    /// With `uid`, refuses (`.uidMismatch`) to touch a pod of the same name that is another pod.
    /// A missing pod is `.http(404)`. Returns the pod as stored after the write (or as read, when
    /// it already carried this value).
    @discardableResult
    public func setNetworkStatus(namespace: String, name: String, uid: String?, value: String) throws(KubeError) -> JSON {
        let path = try KubeClient.podPath(namespace: namespace, name: name)
        let deadline = Deadline.after(ms: options.callTimeoutMs)
        var conflicts = 0
        while true {
            guard case .found(let pod) = try get(path, deadline: deadline) else {
                throw KubeError(.http(404), "pod \(namespace)/\(name) not found")
            }
            if let uid, pod["metadata"]?["uid"]?.string != uid {
                throw KubeError(.uidMismatch, "pod \(namespace)/\(name) has UID \(pod["metadata"]?["uid"]?.string ?? "none"), not \(uid)")
            }
            if pod["metadata"]?["annotations"]?[KubeClient.networkStatusAnnotation]?.string == value { return pod }
            let body = try KubeClient.annotated(pod, value: value).serializedBytes()
            let response = try withRetries("PUT \(path)/status", deadline: deadline) { () throws(KubeError) -> HTTPResponse in
                try exchange("PUT", path + "/status", body: body, deadline: deadline)
            }
            switch response.status {
            case 200, 201:
                return try decodeObject(response, "PUT \(path)/status")
            case 409 where conflicts < options.maxConflictRetries:
                conflicts += 1
                trace?("PUT \(path)/status: conflict, re-reading the pod (\(conflicts) of \(options.maxConflictRetries))")
            default:
                throw statusError(response, "PUT \(path)/status")
            }
        }
    }

    /// The pod with the annotation set; everything else, resourceVersion included, as read.
    static func annotated(_ pod: JSON, value: String) throws(KubeError) -> JSON {
        guard case .object(var root) = pod, case .object(var meta)? = root["metadata"],
              meta["resourceVersion"]?.string != nil else {
            throw KubeError(.decode, "pod has no metadata.resourceVersion")
        }
        var annotations = meta["annotations"]?.object ?? JSONObject()
        annotations[networkStatusAnnotation] = .string(value)
        meta["annotations"] = .object(annotations)
        root["metadata"] = .object(meta)
        return .object(root)
    }
}

extension KubeClient {
    func decodeObject(_ response: HTTPResponse, _ what: String) throws(KubeError) -> JSON {
        let limits = JSONLimits(maxDepth: 128, maxBytes: options.maxResponseBytes)
        let value: JSON
        do { value = try JSON.parse(response.body, limits: limits) } catch {
            throw KubeError(.decode, "\(what): \(error)")
        }
        guard value.object != nil else { throw KubeError(.decode, "\(what): expected an object, got \(value.typeName)") }
        return value
    }

    /// A 404 naming our object is "not found". A 404 without a name is the API server not serving
    /// the resource at all — for NADs, the CRD is not installed — which is a setup error to report.
    func notFound(_ response: HTTPResponse, path: String) throws(KubeError) -> KubeResult<JSON> {
        let status = try? JSON.parse(response.body)
        if let status, status["kind"]?.string == "Status", status["details"]?["name"]?.string == nil {
            throw KubeError(.http(404), "GET \(path): the API server does not serve this resource: \(status["message"]?.string ?? "not found")")
        }
        return .notFound
    }

    /// The API server explains failures in a Status object's message; use it when there is one.
    func statusError(_ response: HTTPResponse, _ what: String) -> KubeError {
        let message = (try? JSON.parse(response.body))?["message"]?.string
            ?? String(decoding: response.body.prefix(200), as: UTF8.self)
        return KubeError(.http(response.status), "\(what): HTTP \(response.status)\(message.isEmpty ? "" : ": " + message)")
    }
}
