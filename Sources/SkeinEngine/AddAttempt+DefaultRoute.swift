import SkeinExecutor
import SkeinModel

// The pod's default route as the meta-plugin decided it (the networks annotation's
// `default-route`): applied in the pod once the attachment's chain has run, and the result
// rewritten to match before it is journaled — so CHECK, DEL, network-status and the runtime all
// see what the pod really has.

/// Drop this interface's default routes (IPv4 and IPv6), then add one via each gateway.
struct DefaultRouteChange: Equatable {
    var drop: Bool
    var gateways: [IPAddress]

    /// `result` as the pod has it after the change.
    func rewrite(_ result: CNIResult) -> CNIResult {
        var r = result
        if drop { r.routes.removeAll { $0.dst.prefixLength == 0 } }
        for gw in gateways {
            r.routes.append(CNIResult.Route(dst: IPNetwork(gw.isV4 ? "0.0.0.0/0" : "::/0")!, gw: gw))
        }
        return r
    }
}

extension AddAttempt {
    /// A kernel failure undoes the whole attachment, like any failure before the outcome.
    func changeDefaultRoute(_ change: DefaultRouteChange, _ result: CNIResult) throws(CNIError) -> CNIResult {
        do {
            try executor.replaceDefaultRoutes(ifname: record.key.ifname, dropExisting: change.drop, gateways: change.gateways)
        } catch {
            let e = kernelError(error, "ADD \(record.key): changing the default route failed")
            rollback(e, execRan: record.exec.count, execPrev: result)
            throw e
        }
        Trace.mark("default-route")
        return change.rewrite(result)
    }
}
