import SkeinExecutor
import SkeinJournal
import SkeinKube
import SkeinMeta
import SkeinModel

// The meta-plugin's ADD: the pod's plan (the cluster network as CNI_IFNAME, the config's other
// delegates, defaultNetworks, then the networks annotation, as MetaPlan builds it), each attachment
// a full journaled ADD of its own under (containerID, its ifname), in order. The answer is the
// cluster network's result. A failure in attachment k DELs k-1…0 in reverse (journaled with cause
// rollback) and the error names the network and interface. A config with one delegate and no
// extra networks is exactly the single ADD it always was.

/// One attachment of the plan: what AddOperation journals and applies under its key, and the
/// plan entry it came from (for the log, rollback and network-status).
struct AttachmentTarget {
    let attachment: MetaAttachment
    let add: AddTarget

    var key: AttachmentKey { add.key }
}

struct MetaAddOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) -> JSON {
        if let file = ctx.config.readinessIndicatorFile {
            try Readiness.waitForFile(file, timeoutMs: try Readiness.timeoutMs(ctx.config.raw))
        }
        let source = NetworkSource(config: ctx.config)
        let plan = try buildPlan(source)
        Trace.mark("plan")
        // Every target first: a missing subnet.env or a bad plugin fails before anything is added.
        let targets = try plan.attachments.map(target)
        guard let netns = ctx.request.netns else { throw CNIError.invalidEnvironment("CNI_NETNS is required for ADD") }
        let executor = try AddOperation.openExecutor(netns)
        let journal = try ctx.openJournal()
        Trace.mark("journal-open")
        var done: [(target: AttachmentTarget, result: CNIResult)] = []
        for t in targets {
            let start = Clock.monotonicNs()
            Log.verbose("ADD \(t.key) network \(t.attachment.network): started")
            do {
                done.append((t, try AddOperation(ctx).run(t.add, journal: journal, executor: executor)))
                Log.verbose("ADD \(t.key) network \(t.attachment.network): done in \(elapsedMs(start)) ms")
            } catch {
                Log.error("ADD \(t.key) network \(t.attachment.network) failed after \(elapsedMs(start)) ms: \(error.msg) \(error.details)")
                throw rollback(done.map(\.target), failed: t, error, journal: journal, count: targets.count)
            }
        }
        writeNetworkStatus(done, source)
        let answer = done.first { $0.target.attachment.isDefault } ?? done[0]
        return answer.result.json(version: ctx.request.cniVersion)
    }

    func buildPlan(_ source: NetworkSource) throws(CNIError) -> MetaPlan {
        let annotations = try PodAnnotations.fetch(ctx, source: source)
        return try MetaPlan.build(config: ctx.config, podNamespace: ctx.pod?.namespace ?? "default",
                                  annotations: annotations, ifname: ctx.key.ifname) { (namespace, name) throws(CNIError) in
            try source.resolve(namespace: namespace, name: name)
        }
    }

    func target(_ a: MetaAttachment) throws(CNIError) -> AttachmentTarget {
        let execTypes = ctx.config.execTypes
        var plugins: [JSON] = []
        for p in a.pluginConfigs() {
            plugins.append(p["type"]?.string == Flannel.type && !execTypes.contains(Flannel.type) ? try flannel(p) : p)
        }
        let args = a.cniArgs(base: ctx.delegateCNIArgs)
        let facts = MetaFacts(skeinNetwork: ctx.config.name, cniIfname: ctx.key.ifname, nad: a.network, isDefault: a.isDefault,
                              dropDefaultRoute: a.dropDefaultRoute, defaultGateways: a.defaultGateways)
        var add = AddTarget(key: AttachmentKey(containerID: ctx.key.containerID, ifname: a.ifname),
                            network: a.delegate.name, plugins: plugins, cniArgs: args.isEmpty ? nil : args,
                            execTypes: execTypes, facts: facts.json)
        if a.dropDefaultRoute || !a.defaultGateways.isEmpty {
            add.defaultRoute = DefaultRouteChange(drop: a.dropDefaultRoute, gateways: a.defaultGateways)
        }
        return AttachmentTarget(attachment: a, add: add)
    }

    /// flannel's subnet.env turned into its bridge delegate now, before the request is journaled:
    /// the journal holds the expanded config, so DEL needs nothing else.
    func flannel(_ plugin: JSON) throws(CNIError) -> JSON {
        let path = try Flannel.subnetFile(plugin)
        guard let text = try LocalFiles.read(path) else {
            throw CNIError.tryAgainLater("flannel: \(path) does not exist (is flanneld running on this node?)")
        }
        let expanded = try Flannel.delegate(plugin, env: try FlannelSubnetEnv.parse(text, path: path))
        Log.debug("flannel: \(path) gives \(expanded.serialized())")
        return expanded
    }

    /// DEL of what was added, newest first; the error names the attachment that failed (for a
    /// plan of one, it stays the delegate's own error, as before the meta-plugin).
    func rollback(_ done: [AttachmentTarget], failed: AttachmentTarget, _ error: CNIError,
                  journal: Journal, count: Int) -> CNIError {
        var undone: [String] = []
        var stuck: [String] = []
        for t in done.reversed() {
            do throws(CNIError) {
                try DelOperation(ctx).delete(t.key, cause: .rollback, journal: journal)
                undone.append("\(t.key.ifname) (\(t.attachment.network))")
            } catch {
                Log.error("rollback of \(t.key) failed: \(error.msg) \(error.details)")
                stuck.append("\(t.key.ifname) (\(t.attachment.network)): \(error.msg)")
            }
        }
        guard count > 1 else { return error }
        var details = error.details.isEmpty ? [] : [error.details]
        if !undone.isEmpty { details.append("rolled back: " + undone.joined(separator: ", ")) }
        if !stuck.isEmpty { details.append("rollback failed, DEL will finish it: " + stuck.joined(separator: "; ")) }
        return CNIError(code: error.code, msg: "network \"\(failed.attachment.network)\" (\(failed.key.ifname)): \(error.msg)",
                        details: details.joined(separator: "; "))
    }

    /// network-status on the pod, when there is an API and a pod: best effort, as the attachment
    /// has succeeded whatever happens here.
    func writeNetworkStatus(_ done: [(target: AttachmentTarget, result: CNIResult)], _ source: NetworkSource) {
        guard source.usesKube, let pod = ctx.pod else { return }
        // The results are already rewritten for the default route: nothing left to apply.
        let entries = done.map { d -> (attachment: MetaAttachment, result: CNIResult) in
            var a = d.target.attachment
            a.dropDefaultRoute = false
            a.defaultGateways = []
            return (a, d.result)
        }
        let value = NetworkStatus.annotation(entries)
        let start = Clock.monotonicNs()
        do throws(CNIError) {
            let client = try source.kube()
            do throws(KubeError) {
                let uid = pod.uid.flatMap { $0.isEmpty ? nil : $0 }
                try client.setNetworkStatus(namespace: pod.namespace, name: pod.name, uid: uid, value: value)
            } catch {
                throw kubeFailure(error, "network-status of pod \(pod.namespace)/\(pod.name)")
            }
            Log.verbose("network-status of pod \(pod.namespace)/\(pod.name) written in \(elapsedMs(start)) ms")
        } catch {
            Log.error("network-status not written (the attachments stand): \(error.msg)")
        }
        Trace.mark("network-status")
    }
}

extension Context {
    /// The runtime's CNI_ARGS for the delegates, less SKEIN_NETWORKS (ours: a plugin that does not
    /// ignore unknown keys would refuse it).
    var delegateCNIArgs: String {
        guard let args = cniArgs else { return "" }
        guard request.arg(PodAnnotations.networksArg) != nil else { return args }
        return args.split(separator: ";").filter { !$0.hasPrefix(PodAnnotations.networksArg + "=") }.joined(separator: ";")
    }
}
