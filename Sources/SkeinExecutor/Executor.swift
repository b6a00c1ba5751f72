// The only code that changes the kernel. It observes just the links a spec names, and applies a
// planner's operations: host-namespace operations on the calling thread's netlink socket,
// container-namespace operations on a socket opened by a short-lived thread that entered the
// container's netns (never setns on a thread we do not own).
//
// API (all throw ExecutorError, whose errno is the kernel's):
//   Executor(containerNetNS: String?, tolerateNonNetNS: Bool = false)
//       Create it on the thread whose netns is "the host". A missing path = no container netns;
//       with tolerateNonNetNS (DEL) a path that exists but is no netns counts as gone too.
//   containerNamespaceExists: Bool
//   observe(_ spec) -> Observation                 ADD / CHECK: every link the spec names (host-device:
//                                                  also at home by origin name/index, and in the
//                                                  container under its origin name), addresses,
//                                                  routes, allmulti/txqlen, sysctls
//   observeForTeardown(_ spec) -> Observation      DEL: host veth ends; host-device homes; container
//                                                  links of kinds teardown acts on (no addresses)
//   observeHostEnds(_ spec) -> Observation         host veth ends only (one RTM_GETLINK each)
//   apply(_ ops, failpoint:)                       every PlanOp, in order, stopping at the first error
//   defaultRouteInterface(in: NamespaceRef = .host) -> String?
//                                                  macvlan's default master (IPv4 default route, else IPv6)
//   resolveHostDevice(device:hwaddr:kernelpath:pciBusID:) -> HostDeviceOrigin?
//                                                  the host-device in the HOST netns; nil = not found
//   linkExists(_ name, in: NamespaceRef) -> Bool
//   bridgeMAC(_ name) -> MACAddress?

import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer

/// The executor's one error type. `errno` is the kernel's (or libc's) errno, so callers can tell
/// EEXIST from ENODEV without reading `message`; `op` is the plan operation as iproute2 text.
public struct ExecutorError: Error, CustomStringConvertible, Equatable, Sendable {
    public let op: String
    public let errno: Int32
    public let message: String

    public init(op: String, errno: Int32, message: String) {
        self.op = op
        self.errno = errno
        self.message = message
    }

    init(_ error: Error, op: String) {
        if let e = error as? ExecutorError {
            self = e
        } else if let e = error as? NetlinkError {
            self.init(op: op, errno: e.errno, message: e.description)
        } else {
            self.init(op: op, errno: EIO, message: "\(error)")
        }
    }

    public var description: String { "\(op): \(message)" }
}

public final class Executor {
    /// nil when no path was given or the namespace is gone (DEL must still go on).
    let containerNS: NetNS?
    /// Bound to the namespace of the thread that created the executor.
    let host: NetlinkHandle
    /// That same namespace as a file, the IFLA_NET_NS_FD for links created or moved toward the
    /// host from the container side (a host-device going home).
    let hostNS: NetNS
    /// ifindex by link name, per namespace: filled as links are observed or first used, dropped
    /// when a link is created or deleted, so each link is resolved once per executor, not per op.
    var indexes: [NamespaceRef: [String: Int32]] = [.host: [:], .container: [:]]

    /// See containerHandle().
    var containerSocket: NetlinkHandle?

    public var containerNamespaceExists: Bool { containerNS != nil }

    /// A missing `containerNetNS` path is not an error (DEL on a torn-down sandbox); a path that
    /// exists and is not a network namespace is (EINVAL): acting on it would be acting blind —
    /// unless `tolerateNonNetNS`, for DEL, where a runtime that unmounted the namespace and left
    /// the file behind means the namespace is gone.
    public init(containerNetNS: String?, tolerateNonNetNS: Bool = false) throws {
        do {
            host = try NetlinkHandle()
            hostNS = try NetNS.current()
        } catch {
            throw ExecutorError(error, op: "netlink socket")
        }
        guard let path = containerNetNS, !path.isEmpty else {
            containerNS = nil
            return
        }
        do {
            containerNS = try NetNS.open(path: path)
        } catch let e as NetlinkError where e.errno == ENOENT || (tolerateNonNetNS && e.errno == EINVAL) {
            containerNS = nil
        } catch {
            // NetNS.open already says EINVAL for "exists but is not a network namespace".
            throw ExecutorError(error, op: "open netns \(path)")
        }
    }

    /// Applies `ops` in order, stopping at the first failure. `failpoint("after-op-i")` runs after
    /// op i succeeded, on whichever thread ran it, so crash tests can stop between any two ops.
    public func apply(_ ops: [PlanOp], failpoint: (String) -> Void = { _ in }) throws {
        var start = 0
        while start < ops.count {
            let ns = ops[start].namespace
            var end = start + 1
            while end < ops.count && ops[end].namespace == ns { end += 1 }
            let run = start..<end
            if ns == .host {
                try perform(ops, run, on: host, in: .host, failpoint: failpoint)
            } else {
                let handle: NetlinkHandle
                do { handle = try containerHandle() } catch {
                    throw ExecutorError(error, op: ops[start].description)
                }
                try perform(ops, run, on: handle, in: .container, failpoint: failpoint)
            }
            start = end
        }
    }

    private func perform(_ ops: [PlanOp], _ run: Range<Int>, on handle: NetlinkHandle, in ns: NamespaceRef,
                         failpoint: (String) -> Void) throws {
        for i in run {
            do {
                try perform(ops[i], on: handle, in: ns)
            } catch {
                throw ExecutorError(error, op: ops[i].description)
            }
            failpoint("after-op-\(i)")
        }
    }

    /// The container's netlink socket: opened once, on a short-lived thread that entered the netns
    /// (the socket stays bound to that netns for its life), then used from this thread like the
    /// host's. One thread per operation instead of one per batch of container ops. Only netlink
    /// goes through it: /proc/sys writes for the container would still need a thread in the netns.
    func containerHandle() throws -> NetlinkHandle {
        if let cached = containerSocket { return cached }
        guard let containerNS else {
            throw ExecutorError(op: "open container netlink socket", errno: ENOENT,
                                message: "container network namespace does not exist")
        }
        let handle = try withNetNS(containerNS) { _ in try NetlinkHandle() }
        containerSocket = handle
        return handle
    }

    /// The netlink socket of `ns`.
    func handle(_ ns: NamespaceRef) throws -> NetlinkHandle {
        ns == .host ? host : try containerHandle()
    }

    /// The IFLA_NET_NS_FD that sends a link into `ns`.
    func netNSFD(_ ns: NamespaceRef, op: String) throws -> Int32 {
        if ns == .host { return hostNS.fd }
        guard let containerNS else {
            throw ExecutorError(op: op, errno: ENOENT, message: "container network namespace does not exist")
        }
        return containerNS.fd
    }

    /// One RTM_GETLINK. A container that is gone has no links.
    public func linkExists(_ name: String, in ns: NamespaceRef) throws -> Bool {
        if ns == .container && containerNS == nil { return false }
        do {
            return try handle(ns).linkGet(name: name) != nil
        } catch {
            throw ExecutorError(error, op: "ip link show \(name)")
        }
    }

    /// The interface of the default route (IPv4, else IPv6) in `ns`: macvlan's master when the
    /// config names none, as in the reference plugin (in the container with linkInContainer).
    /// nil when there is no default route, or no container namespace.
    public func defaultRouteInterface(in ns: NamespaceRef = .host) throws -> String? {
        if ns == .container && containerNS == nil { return nil }
        do {
            return try handle(ns).defaultRouteLink()?.name
        } catch {
            throw ExecutorError(error, op: "ip route show default")
        }
    }

    /// The bridge's MAC for the CNI result's interface list; nil if there is no such link.
    public func bridgeMAC(_ name: String) throws -> MACAddress? {
        do {
            return try host.linkGet(name: name).flatMap { MACAddress(bytes: $0.mac) }
        } catch {
            throw ExecutorError(error, op: "ip link show \(name)")
        }
    }
}
