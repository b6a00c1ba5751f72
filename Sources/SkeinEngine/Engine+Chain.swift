import SkeinExecutor
import SkeinModel
import SkeinReducer

// The delegate as a chain of plugins (a conflist may have many), which of them run built in, and
// the kernel facts the reducer's decision needs — observed here, before the request is journaled,
// and only when the chain needs them (a bridge ADD makes no extra netlink call).

/// The delegate attached as CNI_IFNAME: its network and its plugins in chain order, each as libcni
/// would hand it over (name, cniVersion and runtimeConfig injected).
struct Chain {
    let network: String
    let plugins: [JSON]
    /// Types the config forces to be exec'ed from CNI_PATH although they are built in.
    let execTypes: [String]
}

extension AddRequested {
    /// The plugins the reducer will run built in, by its own rule (Attachments.mustExec): built in
    /// up to the first plugin that must be exec'ed, every plugin after that exec'ed too.
    var builtInPrefix: ArraySlice<JSON> {
        let all = plugins
        let firstExec = all.firstIndex { p in
            guard let type = p["type"]?.string else { return true }
            return Attachments.mustExec(p, type: type, self)
        }
        return all[..<(firstExec ?? all.count)]
    }
}

extension Context {
    func chain() throws(CNIError) -> Chain {
        guard let d = config.delegates.first else { throw CNIError.invalidConfig("\"delegates\" is empty") }
        return Chain(network: d.name, plugins: d.plugins.map(withRuntimeConfig), execTypes: execTypes())
    }

    /// `execTypes`: plugin types to exec from CNI_PATH instead of running them built in (for the
    /// reference binaries, and differential tests). Validated when the config was parsed.
    func execTypes() -> [String] { config.execTypes }

    /// Where plugin binaries are looked up: CNI_PATH; without it the config's `binDir` (Multus'
    /// key, /opt/cni/bin by default).
    var pluginSearchPath: [String] {
        request.path.isEmpty ? [config.binDir] : request.path
    }

    var delegateRunner: DelegateRunner {
        DelegateRunner(searchPath: pluginSearchPath, timeoutMs: execTimeoutMs, hostPATH: hostPATH)
    }

    /// `execTimeoutMs` (default 60 s): how long one exec'ed plugin may run before it is killed.
    static func execTimeout(_ raw: JSON) throws(CNIError) -> Int {
        guard let v = raw["execTimeoutMs"], !v.isNull else { return 60_000 }
        guard let ms = v.int, ms > 0, ms <= 3_600_000 else {
            throw CNIError.invalidConfig("execTimeoutMs must be an integer from 1 to 3600000", details: "got \(v.serialized())")
        }
        return ms
    }
}

/// Kernel facts for the decision, observed on the host before the request is journaled.
enum ChainFacts {
    /// The kernel facts, added to the caller's `recorded` ones; nil when there are none at all.
    static func observe(_ request: AddRequested, _ executor: Executor, recorded: JSONObject = JSONObject()) throws(CNIError) -> JSON? {
        let prefix = request.builtInPrefix
        var facts = recorded
        if prefix.enumerated().contains(where: { needsDefaultRoute($0.element, chained: $0.offset > 0) }) {
            let name: String?
            do { name = try executor.defaultRouteInterface() } catch {
                throw kernelError(error, "cannot read the default route's interface")
            }
            // None: the reducer refuses the request, saying a master is needed.
            if let name { facts["defaultRouteInterface"] = .string(name) }
        }
        if let plugin = prefix.first(where: { $0["type"]?.string == "host-device" }) {
            facts["hostDevice"] = try hostDevice(plugin, executor).json
        }
        return facts.isEmpty ? nil : .object(facts)
    }

    /// macvlan, ipvlan and vlan default `master` to the default route's interface; a chained
    /// ipvlan takes its master from prevResult instead, as the reference does.
    static func needsDefaultRoute(_ plugin: JSON, chained: Bool) -> Bool {
        guard let type = plugin["type"]?.string, ["macvlan", "ipvlan", "vlan"].contains(type) else { return false }
        if type == "ipvlan" && chained { return false }
        return (plugin["master"]?.string ?? "").isEmpty
    }

    /// The device the config selects (HostDeviceConfig: the reference's keys and precedence), as
    /// it is in the host now.
    static func hostDevice(_ plugin: JSON, _ executor: Executor) throws(CNIError) -> HostDeviceOrigin {
        let selector = try HostDeviceConfig.parse(plugin: plugin).selector
        var device: String?, hwaddr: String?, kernelpath: String?, pciBusID: String?
        switch selector {
        case .device(let name): device = name
        case .hwaddr(let mac): hwaddr = mac.description
        case .kernelPath(let path): kernelpath = path
        case .pciBusID(let id): pciBusID = id
        }
        let origin: HostDeviceOrigin?
        do {
            origin = try executor.resolveHostDevice(device: device, hwaddr: hwaddr, kernelpath: kernelpath, pciBusID: pciBusID)
        } catch {
            throw kernelError(error, "host-device: cannot look up \(selector)")
        }
        guard let origin else {
            throw CNIError(code: SkeinCode.kernel, msg: "host-device: no interface in the host matches \(selector)",
                           details: "it may not exist, or another pod may hold it")
        }
        return origin
    }
}
