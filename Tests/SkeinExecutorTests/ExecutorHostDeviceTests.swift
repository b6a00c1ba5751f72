// host-device through the executor: resolving the device in the (fake) host, moving it into the
// sandbox under the pod's interface name and home again with its name, MAC and MTU, and finding it
// wherever a crash or a dead sandbox left it. The device is one end of a veth pair made in the
// fake host; its peer stays there.

import Foundation
import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer
import Testing
@testable import SkeinExecutor

private let device = "\(runTag)d0"
private let deviceMAC = MACAddress("02:5c:00:00:dd:01")!

private func makeDevice(_ box: Sandbox) throws {
    try ipSetup("-n", box.hostName, "link", "add", device, "address", deviceMAC.description, "mtu", "1450",
                "type", "veth", "peer", "name", "\(runTag)d1")
    try ipSetup("-n", box.hostName, "link", "set", device, "up")
}

/// The pod's view of the device: renamed net1, its own MAC and MTU, one address.
private func podSpec(_ origin: HostDeviceOrigin) -> LinkSpec {
    LinkSpec(name: "net1", namespace: .container, kind: .hostDevice(origin), mac: MACAddress("02:5c:00:00:dd:99"),
             mtu: 1400, addresses: [IPNetwork("10.91.0.2/24")!])
}

private func moveIn(_ origin: HostDeviceOrigin) -> [PlanOp] {
    let spec = podSpec(origin)
    return [.setDown(.host, origin.name), .moveLink(from: .host, origin.name, to: .container),
            .rename(.container, from: origin.name, to: "net1"), .setMAC(.container, "net1", spec.mac!),
            .setMTU(.container, "net1", 1400), .addrAdd(.container, "net1", spec.addresses[0]), .setUp(.container, "net1")]
}

private func moveOut(_ origin: HostDeviceOrigin) -> [PlanOp] {
    [.setDown(.container, "net1"), .rename(.container, from: "net1", to: origin.name),
     .setMAC(.container, origin.name, origin.mac!), .setMTU(.container, origin.name, origin.mtu),
     .moveLink(from: .container, origin.name, to: .host), .setUp(.host, origin.name)]
}

@Suite(.serialized, .enabled(if: isRoot, "needs root for network namespaces"))
struct ExecutorHostDeviceTests {
    @Test func resolvesByNameAndMACInTheHostOnly() throws {
        try Sandbox.with("ds") { box in
            try makeDevice(box)
            let results = try box.onHost { () -> [HostDeviceOrigin?] in
                let ex = try Executor(containerNetNS: box.podPath)
                let resolve = { (d: String?, h: String?) in try ex.resolveHostDevice(device: d, hwaddr: h, kernelpath: nil, pciBusID: nil) }
                var out = [try resolve(device, nil), try resolve(nil, "02:5C:00:00:DD:01"), try resolve("", "02:5c:00:00:dd:01"),
                           try resolve("\(runTag)zz", nil), try resolve(nil, "02:5c:00:00:dd:7f")]
                // Once in the sandbox it is no host device any more.
                try ex.apply([.moveLink(from: .host, device, to: .container)])
                out += [try resolve(device, nil), try resolve(nil, deviceMAC.description)]
                return out
            }
            let byName = try #require(results[0])
            #expect(byName.name == device && byName.mac == deviceMAC && byName.mtu == 1450 && byName.index > 0)
            #expect(results[1] == byName && results[2] == byName, "empty selectors are skipped, as in the reference")
            #expect(results[3] == nil && results[4] == nil)
            #expect(results[5] == nil && results[6] == nil)
        }
    }

    @Test func selectorsThatCannotBeUsedAreRefused() throws {
        let ex = try Executor(containerNetNS: nil)
        let refused: [(String?, String?, String?, String?)] = [
            (nil, nil, nil, nil), (nil, "not-a-mac", nil, nil), (nil, nil, "/etc", nil),
            (nil, nil, "/sys/devices/../../etc", nil), (nil, nil, nil, "../../../etc"),
        ]
        for (d, h, k, p) in refused {
            let e = #expect(throws: ExecutorError.self) { _ = try ex.resolveHostDevice(device: d, hwaddr: h, kernelpath: k, pciBusID: p) }
            #expect(e?.errno == EINVAL, "\(String(describing: e))")
        }
        #expect(try ex.resolveHostDevice(device: nil, hwaddr: nil, kernelpath: "/sys/devices/\(runTag)", pciBusID: nil) == nil)
        #expect(try ex.resolveHostDevice(device: nil, hwaddr: nil, kernelpath: nil, pciBusID: "0000:ff:1f.7") == nil)
    }

    @Test func movesInRenamedAndHomeRestored() throws {
        try Sandbox.with("dv") { box in
            try makeDevice(box)
            let (origin, inside, home) = try box.onHost { () -> (HostDeviceOrigin, Observation, Observation) in
                let ex = try Executor(containerNetNS: box.podPath)
                let origin = try #require(try ex.resolveHostDevice(device: device, hwaddr: nil, kernelpath: nil, pciBusID: nil))
                let spec = AttachmentSpec(links: [podSpec(origin)])
                try ex.apply(moveIn(origin))
                let inside = try ex.observe(spec)
                try ex.apply(moveOut(origin))
                return (origin, inside, try ex.observeForTeardown(spec))
            }
            let net1 = try #require(inside.link(named: "net1", in: .container))
            #expect(net1.mac == MACAddress("02:5c:00:00:dd:99") && net1.mtu == 1400 && net1.up)
            #expect(net1.addresses.contains(IPNetwork("10.91.0.2/24")!))
            #expect(inside.links.count == 1, "not in the host, not under its host name: \(inside.links)")

            let back = try #require(home.link(named: device, in: .host))
            #expect(back.index == origin.index && back.mac == deviceMAC && back.mtu == 1450 && back.up)
            #expect(home.links.count == 1, "nothing left in the sandbox: \(home.links)")
            #expect(try ip("-n", box.podName, "link", "show", "net1").status != 0)
            #expect(try ip("-n", box.podName, "link", "show", device).status != 0)
        }
    }

    /// The origin records what tuning may change and DEL restores: promisc, allmulticast and the
    /// transmit queue length, as the device has them.
    @Test func theOriginRecordsFlagsAndQueueLength() throws {
        try Sandbox.with("do") { box in
            try makeDevice(box)
            try ipSetup("-n", box.hostName, "link", "set", device, "promisc", "on", "allmulticast", "on", "txqueuelen", "777")
            let origin = try box.onHost {
                try Executor(containerNetNS: box.podPath).resolveHostDevice(device: device, hwaddr: nil, kernelpath: nil, pciBusID: nil)
            }
            #expect(origin?.promisc == true && origin?.allmulti == true && origin?.txQLen == 777, "\(String(describing: origin))")
        }
    }

    /// Tuned (promisc, allmulticast, queue length) and then given another MAC in the pod: DEL
    /// finds the device by its ifindex and brings it home with everything it came with.
    @Test func homeByIndexAfterAMACChangeWithTuningUndone() throws {
        try Sandbox.with("dm") { box in
            try makeDevice(box)
            let (origin, home, again) = try box.onHost { () -> (HostDeviceOrigin, Observation, [PlanOp]) in
                let ex = try Executor(containerNetNS: box.podPath)
                let origin = try #require(try ex.resolveHostDevice(device: device, hwaddr: nil, kernelpath: nil, pciBusID: nil))
                var link = podSpec(origin)
                link.promisc = true
                link.allmulti = true
                link.txQLen = 4321
                let spec = AttachmentSpec(links: [link])
                try ex.apply(try Planner.planAdd(desired: spec, observed: try ex.observe(spec)))
                try ipSetup("-n", box.podName, "link", "set", "net1", "address", "02:5c:00:00:dd:77")
                let del = try Executor(containerNetNS: box.podPath)
                try del.apply(Planner.planTeardown(desired: spec, observed: try del.observeForTeardown(spec)))
                let after = try del.observeForTeardown(spec)
                return (origin, after, Planner.planTeardown(desired: spec, observed: after))
            }
            let back = try #require(home.link(named: device, in: .host), "\(home.links)")
            #expect(back.index == origin.index && back.mac == deviceMAC && back.mtu == 1450)
            #expect(back.promisc == origin.promisc && back.allmulti == origin.allmulti && back.txQLen == origin.txQLen)
            #expect(again == [])
            #expect(try ip("-n", box.podName, "link", "show", "net1").status != 0)
        }
    }

    /// A crash between the move and the rename leaves the device in the sandbox under its host
    /// name: observation reports it there, under that name.
    @Test func foundInTheSandboxUnderItsHostName() throws {
        try Sandbox.with("dc") { box in
            try makeDevice(box)
            let (origin, seen, forDel) = try box.onHost { () -> (HostDeviceOrigin, Observation, Observation) in
                let ex = try Executor(containerNetNS: box.podPath)
                let origin = try #require(try ex.resolveHostDevice(device: device, hwaddr: nil, kernelpath: nil, pciBusID: nil))
                try ex.apply(Array(moveIn(origin).prefix(2)))
                let spec = AttachmentSpec(links: [podSpec(origin)])
                return (origin, try ex.observe(spec), try ex.observeForTeardown(spec))
            }
            for observation in [seen, forDel] {
                #expect(observation.link(named: "net1", in: .container) == nil)
                let stray = try #require(observation.link(named: origin.name, in: .container))
                #expect(stray.mac == deviceMAC && !stray.up)
                #expect(observation.links.count == 1, "\(observation.links)")
            }
        }
    }

    /// When a sandbox dies the kernel pushes its physical devices back to the initial netns under
    /// their current name (or "devN"); virtual ones die with it. A veth in a fake host cannot show
    /// that, so the test makes the kernel's move itself, then deletes the sandbox: DEL's
    /// observation must find the device by its ifindex, under the name it came back with.
    @Test func foundBackInTheHostAfterTheSandboxIsGone() throws {
        try Sandbox.with("dg") { box in
            try makeDevice(box)
            let origin = try box.onHost { () -> HostDeviceOrigin in
                let ex = try Executor(containerNetNS: box.podPath)
                let origin = try #require(try ex.resolveHostDevice(device: device, hwaddr: nil, kernelpath: nil, pciBusID: nil))
                try ex.apply(moveIn(origin))
                return origin
            }
            try ipSetup("-n", box.podName, "link", "set", "net1", "netns", box.hostName)
            try ipSetup("netns", "del", box.podName)
            // A runtime that unmounted the netns but left the file behind.
            let fd = open(box.podPath, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            #expect(fd >= 0)
            close(fd)
            defer { unlink(box.podPath) }
            let (exists, seen) = try box.onHost { () -> (Bool, Observation) in
                let ex = try Executor(containerNetNS: box.podPath, tolerateNonNetNS: true)
                return (ex.containerNamespaceExists, try ex.observeForTeardown(AttachmentSpec(links: [podSpec(origin)])))
            }
            #expect(!exists && !seen.containerNamespaceExists)
            let back = try #require(seen.links.first)
            #expect(seen.links.count == 1)
            #expect(back.name == "net1" && back.namespace == .host && back.index == origin.index)
            #expect(back.mac == MACAddress("02:5c:00:00:dd:99"))
        }
    }

    @Test func aPathThatIsNoLongerANetnsIsGoneForDEL() throws {
        let file = "/tmp/\(runTag)-stale-netns"
        let fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        close(fd)
        defer { unlink(file) }
        #expect(try !Executor(containerNetNS: file, tolerateNonNetNS: true).containerNamespaceExists)
        let e = #expect(throws: ExecutorError.self) { _ = try Executor(containerNetNS: file) }
        #expect(e?.errno == EINVAL)
    }
}

/// The machine's own interfaces behind a PCI function, read-only: kernelpath and pciBusID resolve
/// through sysfs, which shows the initial netns, so these run in it and change nothing.
private let pciInterface: (name: String, devicePath: String, pciID: String)? = {
    let isPCI = { (s: String) in s.range(of: #"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$"#, options: .regularExpression) != nil }
    for name in ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []).sorted() {
        // "../../devices/pci0000:00/0000:00:03.0[/virtio2]/net/eth0"
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/class/net/\(name)") else { continue }
        let parts = link.split(separator: "/").map(String.init).filter { $0 != ".." }
        guard let pciID = parts.last(where: isPCI) else { continue }
        return (name, "/sys/" + parts.dropLast(2).joined(separator: "/"), pciID)
    }
    return nil
}()

@Suite(.enabled(if: isRoot && pciInterface != nil, "needs root and a PCI network device"))
struct ExecutorHostDeviceSysfsTests {
    @Test func resolvesByKernelPathAndPCIBusID() throws {
        let want = try #require(pciInterface)
        let ex = try Executor(containerNetNS: nil)
        let byPath = try ex.resolveHostDevice(device: nil, hwaddr: nil, kernelpath: want.devicePath, pciBusID: nil)
        let byPCI = try ex.resolveHostDevice(device: nil, hwaddr: nil, kernelpath: nil, pciBusID: want.pciID)
        let byName = try ex.resolveHostDevice(device: want.name, hwaddr: nil, kernelpath: nil, pciBusID: nil)
        #expect(byPath?.name == want.name, "\(want)")
        #expect(byPCI?.name == want.name, "\(want)")
        #expect(byPath != nil && byPath == byName && byPCI == byName)
    }
}
