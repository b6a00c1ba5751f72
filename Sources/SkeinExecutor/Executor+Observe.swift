// Observation: one RTM_GETLINK per link the spec names (never a link dump: its cost grows with the
// node's link count), addresses and routes only for links whose spec has some, and the spec's
// sysctls. The container side is read through the container's socket. Every link is reported
// under its real current name and namespace: the planner matches by name, and a host-device also
// by ifindex and MAC, wherever it is now.

import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer

extension Executor {
    public func observe(_ spec: AttachmentSpec) throws -> Observation {
        var observation = Observation(containerNamespaceExists: containerNamespaceExists)
        do {
            let hostPart = try observe(spec, .host, on: host)
            observation.links = hostPart.links
            observation.hostRoutes = hostPart.routes
            observation.routedElsewhere[.host] = hostPart.elsewhere
            observation.sysctls = hostPart.sysctls
            let wantsContainer = spec.links.contains { $0.namespace == .container }
                || spec.sysctls.contains { $0.namespace == .container }
            if containerNS != nil, wantsContainer {
                let part = try observe(spec, .container, on: try containerHandle())
                observation.links += part.links
                observation.containerRoutes = part.routes
                observation.routedElsewhere[.container] = part.elsewhere
                observation.sysctls += part.sysctls
            }
        } catch {
            throw ExecutorError(error, op: "observe")
        }
        return observation
    }

    /// The host ends of the spec's veth pairs, one RTM_GETLINK each, on the calling thread (no
    /// netns thread, no address or route reads).
    public func observeHostEnds(_ spec: AttachmentSpec) throws -> Observation {
        var observation = Observation(containerNamespaceExists: containerNamespaceExists)
        do {
            for l in spec.links where l.namespace == .host && !l.shared {
                guard case .veth = l.kind, let link = try lookUp(l.name, .host, host) else { continue }
                observation.links.append(Self.observed(link, .host))
            }
        } catch {
            throw ExecutorError(error, op: "observe")
        }
        return observation
    }

    /// What DEL needs and nothing more: the host veth ends; where a host-device is in the host
    /// (home already, or back there because its netns died); and only when the spec has container
    /// links that teardown acts on, those links through the container's socket (no addresses,
    /// routes or sysctls). A bridge-only spec still costs no netns thread.
    public func observeForTeardown(_ spec: AttachmentSpec) throws -> Observation {
        var observation = try observeHostEnds(spec)
        do {
            observation.links += try hostDevicesInHost(spec, skipping: [])
            let wanted = spec.links.filter { $0.namespace == .container && Self.teardownActs(on: $0.kind) }
            if containerNS != nil, !wanted.isEmpty {
                let h = try containerHandle()
                var seen = Set<Int32>()
                for l in wanted {
                    for name in Self.names(l) {
                        guard let link = try lookUp(name, .container, h), seen.insert(link.index).inserted else { continue }
                        observation.links.append(Self.observed(link, .container))
                    }
                }
            }
        } catch {
            throw ExecutorError(error, op: "observe")
        }
        return observation
    }

    /// Container links DEL must act on: what it deletes (sub-links), sends home (a host-device),
    /// brings down (lo) or restores (an earlier plugin's interface that tuning changed). Veth
    /// pairs go with their host end, which is read in the host.
    static func teardownActs(on kind: LinkKind) -> Bool {
        switch kind {
        case .macvlan, .ipvlan, .vlan, .hostDevice, .loopback, .existing: return true
        case .bridge, .veth, .vethPeer: return false
        }
    }

    /// The names a spec's link may carry in its own namespace, the spec's first: the container's
    /// loopback is always "lo", and a host-device may still carry its host name in the container
    /// (a crash between the move and the rename).
    static func names(_ l: LinkSpec) -> [String] {
        switch l.kind {
        case .loopback: return ["lo"]
        case .hostDevice(let origin) where origin.name != l.name: return [l.name, origin.name]
        default: return [l.name]
        }
    }

    /// Host-devices in the host: under their original name, or under any name by their original
    /// ifindex (a device whose netns died is pushed back under its container name, or as "devN").
    private func hostDevicesInHost(_ spec: AttachmentSpec, skipping seen: Set<Int32>) throws -> [ObservedLink] {
        var seen = seen
        var out: [ObservedLink] = []
        for l in spec.links {
            guard case .hostDevice(let origin) = l.kind else { continue }
            if let link = try lookUp(origin.name, .host, host), seen.insert(link.index).inserted {
                out.append(Self.observed(link, .host))
            }
            guard origin.index > 0, !seen.contains(origin.index), let link = try host.linkGet(index: origin.index) else {
                continue
            }
            seen.insert(link.index)
            indexes[.host]![link.name] = link.index
            out.append(Self.observed(link, .host))
        }
        return out
    }

    /// One RTM_GETLINK by name; keeps the ifindex cache in step with what the kernel said.
    func lookUp(_ name: String, _ ns: NamespaceRef, _ h: NetlinkHandle) throws -> Link? {
        let link = try h.linkGet(name: name)
        indexes[ns]![name] = link?.index
        return link
    }

    static func observed(_ link: Link, _ ns: NamespaceRef, masterName: String? = nil,
                         addresses: [IPNetwork] = []) -> ObservedLink {
        ObservedLink(
            name: link.name, namespace: ns, index: link.index, mac: MACAddress(bytes: link.mac), mtu: link.mtu,
            up: link.isUp, kind: link.kind, masterName: masterName, promisc: link.promisc, addresses: addresses,
            peerIndex: link.kind == "veth" ? link.linkIndex : nil, allmulti: link.allmulti, txQLen: link.txQLen)
    }

    static func network(_ a: Address) -> IPNetwork? {
        IPAddress(bytes: a.bytes).flatMap { IPNetwork(address: $0, prefixLength: Int(a.prefixLength)) }
    }
}

// MARK: - One namespace

extension Executor {
    struct Part {
        var elsewhere: [IPNetwork] = []
        var links: [ObservedLink] = []
        var routes: [SkeinModel.RouteSpec] = []
        var sysctls: [SysctlSpec] = []
    }

    private func observe(_ spec: AttachmentSpec, _ ns: NamespaceRef, on h: NetlinkHandle) throws -> Part {
        var part = Part()
        var found: [(spec: LinkSpec, link: Link)] = []
        var seen = Set<Int32>()
        for l in spec.links where l.namespace == ns {
            let names = Self.names(l)
            if let link = try lookUp(names[0], ns, h), seen.insert(link.index).inserted {
                found.append((l, link))
            }
            for other in names.dropFirst() {
                guard let link = try lookUp(other, ns, h), seen.insert(link.index).inserted else { continue }
                part.links.append(Self.observed(link, ns))
            }
        }
        if ns == .host {
            part.links += try hostDevicesInHost(spec, skipping: seen)
        }
        for (l, link) in found {
            try observeDetails(l, link, found, ns, h, into: &part)
        }
        part.sysctls = observeSysctls(spec, ns)
        return part
    }

    private func observeDetails(_ l: LinkSpec, _ link: Link, _ found: [(spec: LinkSpec, link: Link)],
                                _ ns: NamespaceRef, _ h: NetlinkHandle, into part: inout Part) throws {
        var addresses: [IPNetwork] = []
        // The reference's ensureAddr rule needs a bridge's other addresses too.
        if !l.addresses.isEmpty || l.kind == .bridge {
            addresses = try h.addrList(index: link.index, family: nil).compactMap(Self.network)
        }
        part.links.append(Self.observed(link, ns, masterName: try masterName(link, l, found, h), addresses: addresses))
        for v4 in Set(l.routes.map { $0.dst.address.isV4 }) {
            // One dump of the (small) table: ours by output device, and the destinations that
            // another device already serves.
            for r in try h.routeList(family: v4 ? .v4 : .v6, oif: nil) {
                guard let model = Self.modelRoute(r) else { continue }
                if r.oif == link.index {
                    part.routes.append(model)
                } else if l.routes.contains(where: { $0.dst.masked == model.dst.masked }) {
                    part.elsewhere.append(model.dst.masked)
                }
            }
        }
    }

    /// Unreadable (e.g. a per-interface key before the interface exists) = not observed.
    private func observeSysctls(_ spec: AttachmentSpec, _ ns: NamespaceRef) -> [SysctlSpec] {
        var out: [SysctlSpec] = []
        for s in spec.sysctls where s.namespace == ns {
            let read = { try? sysctlRead(s.key) }
            let value = ns == .container ? containerNS.flatMap { n in (try? withNetNS(n) { _ in read() }) ?? nil } : read()
            if let value {
                out.append(SysctlSpec(key: s.key, value: value, namespace: ns))
            }
        }
        return out
    }

    /// The master's name: free when the master is one of the spec's links (the usual bridge),
    /// one RTM_GETLINK otherwise, and not asked for at all when the spec wants no master.
    private func masterName(_ link: Link, _ spec: LinkSpec, _ found: [(spec: LinkSpec, link: Link)],
                            _ h: NetlinkHandle) throws -> String? {
        guard let master = link.masterIndex else { return nil }
        if let known = found.first(where: { $0.link.index == master }) { return known.spec.name }
        guard spec.master != nil else { return "#\(master)" }
        return try h.linkGet(index: master)?.name ?? "#\(master)"
    }
}
