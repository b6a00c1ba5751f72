// Observation: one RTM_GETLINK per link the spec names (never a link dump: its cost grows with the
// node's link count), addresses and routes only for links whose spec has some, and the spec's
// sysctls. The container side is read on one netns thread.

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
            if let containerNS, wantsContainer {
                _ = containerNS
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

    /// What teardown needs and nothing more: the host ends of the spec's veth pairs, one
    /// RTM_GETLINK each, on the calling thread (no netns thread, no address or route reads).
    public func observeHostEnds(_ spec: AttachmentSpec) throws -> Observation {
        var observation = Observation(containerNamespaceExists: containerNamespaceExists)
        do {
            for l in spec.links where l.namespace == .host && !l.shared {
                guard case .veth = l.kind, let link = try host.linkGet(name: l.name) else { continue }
                indexes[.host]![l.name] = link.index
                observation.links.append(ObservedLink(
                    name: l.name, namespace: .host, index: link.index, mac: MACAddress(bytes: link.mac), mtu: link.mtu,
                    up: link.isUp, kind: link.kind, masterName: nil, promisc: link.promisc, addresses: []))
            }
        } catch {
            throw ExecutorError(error, op: "observe")
        }
        return observation
    }

    private struct Part {
        var elsewhere: [IPNetwork] = []
        var links: [ObservedLink] = []
        var routes: [SkeinModel.RouteSpec] = []
        var sysctls: [SysctlSpec] = []
    }

    private func observe(_ spec: AttachmentSpec, _ ns: NamespaceRef, on h: NetlinkHandle) throws -> Part {
        var found: [(spec: LinkSpec, link: Link)] = []
        for l in spec.links where l.namespace == ns {
            guard let link = try h.linkGet(name: l.name) else {
                indexes[ns]![l.name] = nil
                continue
            }
            indexes[ns]![l.name] = link.index
            found.append((l, link))
        }
        var part = Part()
        for (l, link) in found {
            var addresses: [IPNetwork] = []
            // The reference's ensureAddr rule needs a bridge's other addresses too.
            if !l.addresses.isEmpty || l.kind == .bridge {
                addresses = try h.addrList(index: link.index, family: nil).compactMap(Self.network)
            }
            part.links.append(ObservedLink(
                name: l.name, namespace: ns, index: link.index, mac: MACAddress(bytes: link.mac), mtu: link.mtu,
                up: link.isUp, kind: link.kind, masterName: try masterName(link, l, found, h), promisc: link.promisc,
                addresses: addresses, peerIndex: link.kind == "veth" ? link.linkIndex : nil))
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
        for s in spec.sysctls where s.namespace == ns {
            // Unreadable (e.g. a per-interface key before the interface exists) = not observed.
            let read = { try? sysctlRead(s.key) }
            let value = ns == .container ? containerNS.flatMap { n in (try? withNetNS(n) { _ in read() }) ?? nil } : read()
            if let value {
                part.sysctls.append(SysctlSpec(key: s.key, value: value, namespace: ns))
            }
        }
        return part
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

    static func network(_ a: Address) -> IPNetwork? {
        IPAddress(bytes: a.bytes).flatMap { IPNetwork(address: $0, prefixLength: Int(a.prefixLength)) }
    }
}
