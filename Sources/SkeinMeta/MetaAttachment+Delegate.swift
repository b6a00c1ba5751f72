// What one delegate receives: its plugin configs as libcni builds them (buildOneConfig +
// injectRuntimeConfig) with Multus' `args.cni` injection, and its CNI_ARGS.

import SkeinModel

extension MetaAttachment {
    /// Every plugin of the delegate, ready for stdin (the engine still adds `prevResult` in a chain).
    public func pluginConfigs() -> [JSON] {
        delegate.plugins.map(pluginConfig)
    }

    /// `args.cni` gets the selection's cni-args (overriding same-named keys, as Multus merges them);
    /// `runtimeConfig` is replaced by the capability arguments the plugin declares in
    /// `capabilities`, and left as written when it declares none we have (libcni's rule).
    public func pluginConfig(_ plugin: JSON) -> JSON {
        guard case .object(var p) = plugin else { return plugin }
        if let extra = argsCNI, !extra.isEmpty {
            var args = p["args"]?.object ?? JSONObject()
            var cni = args["cni"]?.object ?? JSONObject()
            for (key, value) in extra.pairs { cni[key] = value }
            args["cni"] = .object(cni)
            p["args"] = .object(args)
        }
        if let capabilities = p["capabilities"]?.object {
            var runtime = JSONObject()
            for (name, enabled) in capabilities.pairs where enabled.bool == true {
                if let value = runtimeConfig[name] { runtime[name] = value }
            }
            if !runtime.isEmpty { p["runtimeConfig"] = .object(runtime) }
        }
        return .object(p)
    }

    /// CNI_ARGS for the delegate: `base` (the runtime's) with this attachment's MAC=/IP= replacing
    /// any of the same keys, and IgnoreUnknown so that plugins which do not read them still run.
    public func cniArgs(base: String) -> String {
        guard !cniArgs.isEmpty else { return base }
        let replaced = Set(cniArgs.map { String($0.prefix { $0 != "=" }) })
        var pairs = base.split(separator: ";").map(String.init).filter { pair in
            !replaced.contains(String(pair.prefix { $0 != "=" }))
        }
        if !pairs.contains(where: { $0.hasPrefix("IgnoreUnknown=") }) { pairs.insert("IgnoreUnknown=true", at: 0) }
        return (pairs + cniArgs).joined(separator: ";")
    }
}
