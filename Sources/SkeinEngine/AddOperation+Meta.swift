import SkeinExecutor
import SkeinJournal
import SkeinMeta
import SkeinModel

// The meta-plugin's attachments (Engine+Meta.swift) through the one per-attachment ADD.
extension AddOperation {
    func run(_ t: AttachmentTarget, journal: Journal, executor: Executor) throws(CNIError) -> CNIResult {
        var target = AddTarget(key: t.key, network: t.network, plugins: t.plugins, cniArgs: t.cniArgs,
                               execTypes: t.execTypes, facts: t.facts.json)
        let a = t.attachment
        if a.dropDefaultRoute || !a.defaultGateways.isEmpty {
            target.defaultRoute = DefaultRouteChange(drop: a.dropDefaultRoute, gateways: a.defaultGateways)
        }
        return try run(target, journal: journal, executor: executor)
    }
}
