import Testing
import SkeinModel
@testable import SkeinReducer

// MARK: - Fixtures

/// Stands in for the journal's allocation tables.
private struct FakeStore: AllocationLookup {
    var held: [IPAddress: String] = [:]  // ip → owner
    var cursors: [Int: IPAddress] = [:]

    func isAllocated(network: String, ip: IPAddress) -> Bool { held[ip] != nil }
    func lastReserved(network: String, rangeSet: Int) -> IPAddress? { cursors[rangeSet] }

    mutating func commit(_ allocation: HostLocalAllocation, owner: String) {
        for ip in allocation.ips { held[ip.address.address] = owner }
        cursors.merge(allocation.cursors) { $1 }
    }

    mutating func release(owner: String) {
        held = held.filter { $0.value != owner }
    }

    /// Allocates and commits, returning the addresses as text ("10.0.0.2/24").
    mutating func take(_ config: HostLocalConfig, requested: [IPAddress] = [], owner: String = "c")
        throws(IPAMError) -> [String] {
        let a = try HostLocal.allocate(config: config, network: "net", requested: requested, lookup: self)
        commit(a, owner: owner)
        return a.ips.map(\.address.description)
    }
}

private func ip(_ text: String) -> IPAddress {
    guard let ip = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
    return ip
}

private func config(_ json: String) throws -> HostLocalConfig {
    try HostLocalConfig.parse(ipam: JSON.parse(json))
}

/// The error `parse` throws for this `ipam` text, or nil if it parsed.
private func configError(_ json: String) throws -> IPAMError? {
    let value = try JSON.parse(json)
    do {
        _ = try HostLocalConfig.parse(ipam: value)
        return nil
    } catch {
        return error
    }
}

private func allocationError(_ config: HostLocalConfig, _ store: FakeStore, requested: [IPAddress] = []) -> IPAMError? {
    do {
        _ = try HostLocal.allocate(config: config, network: "net", requested: requested, lookup: store)
        return nil
    } catch {
        return error
    }
}

struct HostLocalTests {
    // MARK: Config canonicalization

    @Test func legacySubnetFillsReferenceDefaults() throws {
        let c = try config(#"{"type":"host-local","subnet":"10.1.2.0/24","routes":[{"dst":"0.0.0.0/0"}]}"#)
        #expect(c.rangeSets.count == 1)
        let r = try #require(c.rangeSets.first?.first)
        #expect(r.subnet.description == "10.1.2.0/24")
        #expect(r.rangeStart == ip("10.1.2.1"))
        #expect(r.rangeEnd == ip("10.1.2.254"))
        #expect(r.gateway == ip("10.1.2.1"))
        #expect(c.routes == [IPAMRoute(dst: IPNetwork("0.0.0.0/0")!, gw: nil)])

        var store = FakeStore()
        let a = try HostLocal.allocate(config: c, network: "net", requested: [], lookup: store)
        #expect(a.ips == [AllocatedIP(address: IPNetwork("10.1.2.2/24")!, gateway: ip("10.1.2.1"), rangeSet: 0)])
        #expect(a.cursors == [0: ip("10.1.2.2")])
        #expect(a.routes == c.routes)
        store.commit(a, owner: "a")
        #expect(try store.take(c) == ["10.1.2.3/24"])
    }

    @Test func legacyRangeComesBeforeRanges() throws {
        let c = try config(#"{"subnet":"10.1.0.0/16","gateway":"10.1.0.254","ranges":[[{"subnet":"fd00::/64"}]]}"#)
        #expect(c.rangeSets.map { $0[0].subnet.description } == ["10.1.0.0/16", "fd00::/64"])
        #expect(c.rangeSets[0][0].gateway == ip("10.1.0.254"))
        // Legacy keys without a subnet are ignored, as in the reference.
        let d = try config(#"{"rangeStart":"10.9.9.9","ranges":[[{"subnet":"10.2.0.0/24"}]]}"#)
        #expect(d.rangeSets.count == 1)
    }

    @Test func ipv6Defaults() throws {
        let c = try config(#"{"ranges":[[{"subnet":"fd00:1::/64"}]]}"#)
        let r = c.rangeSets[0][0]
        #expect(r.rangeStart == ip("fd00:1::1") && r.gateway == ip("fd00:1::1"))
        #expect(r.rangeEnd == ip("fd00:1::ffff:ffff:ffff:ffff"))  // IPv6 has no broadcast
    }

    @Test func runtimeIPRangesComeFirst() throws {
        let runtime = try JSON.parse(#"[[{"subnet":"10.5.0.0/24"}]]"#)
        let c = try HostLocalConfig.parse(ipam: JSON.parse(#"{"subnet":"10.6.0.0/24"}"#), runtimeIPRanges: runtime)
        #expect(c.rangeSets.map { $0[0].subnet.description } == ["10.5.0.0/24", "10.6.0.0/24"])
    }

    @Test func dataDirIgnoredResolvConfReported() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24","dataDir":"/run/x","resolvConf":"/etc/resolv.conf"}"#)
        #expect(c.dataDir == "/run/x")
        #expect(c.unsupportedKeys == ["resolvConf"])
        #expect(try config(#"{"subnet":"10.0.0.0/24","dataDir":"/x"}"#).unsupportedKeys.isEmpty)
    }

    @Test func routesParsed() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24","routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.9"},{"dst":"::/0"}]}"#)
        #expect(c.routes == [IPAMRoute(dst: IPNetwork("0.0.0.0/0")!, gw: ip("10.0.0.9")),
                             IPAMRoute(dst: IPNetwork("::/0")!, gw: nil)])
    }

    @Test(arguments: [
        (#"[]"#, "ipam must be an object"),
        (#"{"type":"dhcp","subnet":"10.0.0.0/24"}"#, "is not host-local"),
        (#"{"type":"host-local"}"#, "no IP ranges specified"),
        (#"{"ranges":[]}"#, "no IP ranges specified"),
        (#"{"subnet":10}"#, "ipam.subnet must be a string, not number"),
        (#"{"subnet":""}"#, "invalid CIDR"),
        (#"{"subnet":"10.0.0.0/33"}"#, "invalid CIDR"),
        (#"{"subnet":"fd00::/129"}"#, "invalid CIDR"),
        (#"{"subnet":"10.0.0.0"}"#, "invalid CIDR"),
        (#"{"subnet":"10.0.0.1/24"}"#, "Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0"),
        (#"{"subnet":"10.0.0.0/31"}"#, "Network 10.0.0.0/31 too small to allocate from"),
        (#"{"subnet":"10.0.0.0/32"}"#, "Network 10.0.0.0/32 too small to allocate from"),
        (#"{"subnet":"fd00::/127"}"#, "too small to allocate from"),
        (#"{"subnet":"fd00::/128"}"#, "too small to allocate from"),
        (#"{"subnet":"10.0.0.0/24","gateway":"10.0.0.300"}"#, "ipam.gateway: invalid IP address"),
        (#"{"subnet":"10.0.0.0/24","gateway":"fd00::1"}"#, "not the same address family"),
        (#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.1"}"#, "RangeStart 10.0.1.1 not in network 10.0.0.0/24"),
        (#"{"subnet":"10.0.0.0/24","rangeEnd":"10.0.1.1"}"#, "RangeEnd 10.0.1.1 not in network"),
        (#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.9","rangeEnd":"10.0.0.8"}"#, "RangeEnd 10.0.0.8 not in network"),
        (#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.255"}"#, "is after RangeEnd 10.0.0.254"),
        (#"{"subnet":"10.0.0.0/24","rangeStart":"fd00::1"}"#, "not in network"),
        (#"{"ranges":{"subnet":"10.0.0.0/24"}}"#, "ipam.ranges must be an array, not object"),
        (#"{"ranges":[{"subnet":"10.0.0.0/24"}]}"#, "ipam.ranges[0] must be an array"),
        (#"{"ranges":[["10.0.0.0/24"]]}"#, "ipam.ranges[0][0] must be an object"),
        (#"{"ranges":[[]]}"#, "invalid range set 0: empty range set"),
        (#"{"ranges":[[{"rangeStart":"10.0.0.1"}]]}"#, "subnet is required"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]}"#, "mixed address families"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"10.0.0.0/25"}]]}"#,
         "invalid range set 0: subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.200"}]]}"#,
         "range set 0 overlaps with 1"),
        (#"{"subnet":"10.0.0.0/24","routes":{"dst":"0.0.0.0/0"}}"#, "ipam.routes must be an array"),
        (#"{"subnet":"10.0.0.0/24","routes":[{"gw":"10.0.0.1"}]}"#, "ipam.routes[0].dst is required"),
        (#"{"subnet":"10.0.0.0/24","routes":[{"dst":"0.0.0.0/0","gw":true}]}"#, "ipam.routes[0].gw must be a string, not"),
        (#"{"subnet":"10.0.0.0/24","dataDir":5}"#, "ipam.dataDir must be a string"),
    ])
    func invalidConfigRejected(json: String, message: String) throws {
        let error = try #require(try configError(json))
        #expect(error.kind == .invalidConfig)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func disjointRangesInOneSetAccepted() throws {
        let c = try config(#"{"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.19"},{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.20","rangeEnd":"10.0.0.29"}]]}"#)
        #expect(c.rangeSets[0].count == 2)
        // Shared subnet, disjoint ranges, separate sets: allowed, as in the reference.
        let d = try config(#"{"ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"10.0.0.100"}],[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.101"}]]}"#)
        #expect(d.rangeSets.count == 2)
    }

    // MARK: Allocation

    @Test func rangeStartEndBoundsAndExhaustion() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.12"}"#)
        var store = FakeStore()
        #expect(try store.take(c, owner: "a") == ["10.0.0.10/24"])
        #expect(try store.take(c, owner: "b") == ["10.0.0.11/24"])
        #expect(try store.take(c, owner: "c") == ["10.0.0.12/24"])
        let error = try #require(allocationError(c, store))
        #expect(error.kind == .exhausted)
        #expect(error.message == "failed to allocate for range 0: no IP addresses available in range set: 10.0.0.10-10.0.0.12")
    }

    @Test func slash30HasOneAddressAfterGateway() throws {
        let c = try config(#"{"subnet":"192.168.7.0/30"}"#)
        var store = FakeStore()
        #expect(try store.take(c) == ["192.168.7.2/30"])  // .1 gateway, .3 broadcast
        #expect(allocationError(c, store)?.message.hasSuffix("range set: 192.168.7.1-192.168.7.2") == true)
    }

    @Test func gatewayInsideRangeSkipped() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.4","rangeEnd":"10.0.0.6","gateway":"10.0.0.5"}"#)
        var store = FakeStore()
        #expect(try store.take(c, owner: "a") == ["10.0.0.4/24"])
        #expect(try store.take(c, owner: "b") == ["10.0.0.6/24"])
        #expect(allocationError(c, store)?.kind == .exhausted)
    }

    @Test func gatewayOfAnotherRangeSkipped() throws {
        // Range 1's gateway lies in range 0; the reference would hand it out from range 0.
        let c = try config(#"{"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.2","rangeEnd":"10.0.0.3"},{"subnet":"10.0.1.0/24","gateway":"10.0.0.2","rangeStart":"10.0.1.9","rangeEnd":"10.0.1.9"}]]}"#)
        var store = FakeStore()
        #expect(try store.take(c, owner: "a") == ["10.0.0.3/24"])
        #expect(try store.take(c, owner: "b") == ["10.0.1.9/24"])
        #expect(allocationError(c, store)?.kind == .exhausted)
    }

    @Test func networkAndBroadcastNeverHandedOut() throws {
        // Explicit bounds reaching the network and broadcast addresses are legal config.
        let c = try config(#"{"subnet":"10.0.0.0/29","rangeStart":"10.0.0.0","rangeEnd":"10.0.0.7","gateway":"10.0.0.6"}"#)
        var store = FakeStore()
        var got: [String] = []
        for n in 0..<8 {  // bounded: a broken allocator must fail here, not hang
            guard let next = try? store.take(c, owner: "x\(n)") else { break }
            got += next
        }
        #expect(got == ["10.0.0.1/29", "10.0.0.2/29", "10.0.0.3/29", "10.0.0.4/29", "10.0.0.5/29"])
        #expect(allocationError(c, FakeStore(), requested: [ip("10.0.0.7")])?.kind == .conflict)
        #expect(allocationError(c, FakeStore(), requested: [ip("10.0.0.0")])?.message
            == "failed to allocate for range 0: requested ip 10.0.0.0 is the network address of 10.0.0.0/29")
    }

    @Test func roundRobinContinuesAfterLastReserved() throws {
        let c = try config(#"{"subnet":"10.0.0.0/29"}"#)  // hosts .2-.6 (.1 is the gateway)
        var store = FakeStore()
        for owner in ["a", "b", "c"] { _ = try store.take(c, owner: owner) }  // .2 .3 .4
        store.release(owner: "a")
        // .2 is free again, but round robin resumes after the cursor (.4).
        #expect(try store.take(c, owner: "d") == ["10.0.0.5/29"])
        #expect(try store.take(c, owner: "e") == ["10.0.0.6/29"])
        // Cursor at rangeEnd: wrap to rangeStart, skip the gateway, take the freed .2.
        #expect(store.cursors[0] == ip("10.0.0.6"))
        #expect(try store.take(c, owner: "f") == ["10.0.0.2/29"])
    }

    @Test func cursorOutsideTheSetRestartsAtTheFirstRange() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50"}"#)
        var store = FakeStore()
        store.cursors[0] = ip("10.0.0.7")  // stale: config changed since
        #expect(try store.take(c) == ["10.0.0.50/24"])
        store.cursors[0] = ip("fd00::7")
        #expect(try store.take(c, owner: "d") == ["10.0.0.51/24"])
    }

    @Test func roundRobinMovesAcrossRangesAndWraps() throws {
        let c = try config(#"{"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.11"},{"subnet":"10.0.1.0/24","rangeStart":"10.0.1.10","rangeEnd":"10.0.1.11"}]]}"#)
        var store = FakeStore()
        store.cursors[0] = ip("10.0.0.11")
        #expect(try store.take(c, owner: "a") == ["10.0.1.10/24"])
        store.cursors[0] = ip("10.0.1.11")
        #expect(try store.take(c, owner: "b") == ["10.0.0.10/24"])
        store.held[ip("10.0.0.11")] = "z"
        store.held[ip("10.0.1.11")] = "z"
        let error = try #require(allocationError(c, store))
        #expect(error.message.hasSuffix("no IP addresses available in range set: 10.0.0.10-10.0.0.11,10.0.1.10-10.0.1.11"))
    }

    @Test func dualStackGivesOneAddressPerRangeSet() throws {
        let c = try config(#"{"ranges":[[{"subnet":"10.10.0.0/16"}],[{"subnet":"fd00:10::/64","gateway":"fd00:10::ffff"}]]}"#)
        var store = FakeStore()
        let a = try HostLocal.allocate(config: c, network: "net", requested: [], lookup: store)
        #expect(a.ips == [
            AllocatedIP(address: IPNetwork("10.10.0.2/16")!, gateway: ip("10.10.0.1"), rangeSet: 0),
            AllocatedIP(address: IPNetwork("fd00:10::1/64")!, gateway: ip("fd00:10::ffff"), rangeSet: 1),
        ])
        #expect(a.cursors == [0: ip("10.10.0.2"), 1: ip("fd00:10::1")])
        store.commit(a, owner: "a")
        #expect(try store.take(c, owner: "b") == ["10.10.0.3/16", "fd00:10::2/64"])
    }

    @Test func requestedAddressAllocatedExactly() throws {
        let c = try config(#"{"ranges":[[{"subnet":"10.10.0.0/16"}],[{"subnet":"fd00:10::/64"}]]}"#)
        var store = FakeStore()
        let a = try HostLocal.allocate(config: c, network: "net", requested: [ip("fd00:10::abc")], lookup: store)
        #expect(a.ips.map(\.address.description) == ["10.10.0.2/16", "fd00:10::abc/64"])
        #expect(a.cursors[1] == ip("fd00:10::abc"))  // the reference moves the cursor for requests too
        store.commit(a, owner: "a")
        #expect(try store.take(c, requested: [ip("10.10.3.3"), ip("fd00:10::5")], owner: "b")
            == ["10.10.3.3/16", "fd00:10::5/64"])
    }

    @Test func requestedAddressConflicts() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24"}"#)
        var store = FakeStore()
        _ = try store.take(c, requested: [ip("10.0.0.9")], owner: "a")
        let held = try #require(allocationError(c, store, requested: [ip("10.0.0.9")]))
        #expect(held.kind == .conflict)
        #expect(held.message == "failed to allocate for range 0: requested IP address 10.0.0.9 is not available in range set 10.0.0.1-10.0.0.254")
        let gateway = try #require(allocationError(c, store, requested: [ip("10.0.0.1")]))
        #expect(gateway.kind == .conflict)
        #expect(gateway.message.hasSuffix("requested ip 10.0.0.1 is subnet's gateway"))
    }

    @Test func requestedAddressOutOfRange() throws {
        let c = try config(#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.100"}"#)
        let outside = try #require(allocationError(c, FakeStore(), requested: [ip("10.0.0.50")]))
        #expect(outside.kind == .requestedOutOfRange)
        #expect(outside.message == "requested IP 10.0.0.50 is not in any range set: 10.0.0.100-10.0.0.254")
        #expect(allocationError(c, FakeStore(), requested: [ip("fd00::1")])?.kind == .requestedOutOfRange)
        let two = try #require(allocationError(c, FakeStore(), requested: [ip("10.0.0.101"), ip("10.0.0.102")]))
        #expect(two.kind == .requestedOutOfRange)
        #expect(two.message.contains("at most one address per range set"))
        // A repeated request is one request.
        var store = FakeStore()
        #expect(try store.take(c, requested: [ip("10.0.0.101"), ip("10.0.0.101")]) == ["10.0.0.101/24"])
    }

    @Test func failureInOneSetFailsTheWholeAllocation() throws {
        let c = try config(#"{"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.1.0.0/30"}]]}"#)
        var store = FakeStore()
        store.held[ip("10.1.0.2")] = "z"
        let error = try #require(allocationError(c, store))
        #expect(error.kind == .exhausted)
        #expect(error.message == "failed to allocate for range 1: no IP addresses available in range set: 10.1.0.1-10.1.0.2")
    }

    // MARK: Requested addresses from the invocation

    @Test func requestedIPsFromAllThreeSources() throws {
        let conf = try JSON.parse(#"""
            {"args":{"cni":{"ips":["10.0.0.5/24","fd00::5"]}},"runtimeConfig":{"ips":["10.0.0.5","10.0.0.6"]}}
            """#)
        let ips = try HostLocal.requestedIPs(config: conf, cniArgs: [("K8S_POD_NAME", "p"), ("IP", "10.0.0.7,fd00::5")])
        #expect(ips == [ip("10.0.0.7"), ip("fd00::5"), ip("10.0.0.5"), ip("10.0.0.6")])
        #expect(try HostLocal.requestedIPs(config: JSON.parse("{}"), cniArgs: []) == [])
        #expect(try HostLocal.requestedIPs(config: JSON.parse(#"{"args":null}"#), cniArgs: [("IP", "")]) == [])
    }

    @Test(arguments: [
        (#"{"args":{"cni":{"ips":"10.0.0.5"}}}"#, [(String, String)](), "args.cni.ips must be an array"),
        (#"{"args":{"cni":{"ips":[5]}}}"#, [], "args.cni.ips[0] must be a string"),
        (#"{"runtimeConfig":{"ips":["10.0.0.5/33"]}}"#, [], "runtimeConfig.ips: cannot understand ip \"10.0.0.5/33\""),
        (#"{"runtimeConfig":{"ips":["10.0.0.256"]}}"#, [], "cannot understand ip"),
        ("{}", [("IP", "10.0.0.1,nonsense")], "CNI_ARGS IP: cannot understand ip \"nonsense\""),
        ("{}", [("IP", "fd00::1%eth0")], "cannot understand ip"),
    ])
    func requestedIPsValidated(json: String, cniArgs: [(String, String)], message: String) throws {
        let conf = try JSON.parse(json)
        var caught: IPAMError?
        do { _ = try HostLocal.requestedIPs(config: conf, cniArgs: cniArgs) } catch { caught = error }
        let error = try #require(caught)
        #expect(error.kind == .invalidConfig)
        #expect(error.message.contains(message), "\(error.message)")
    }

    // MARK: Property: random allocate/release sequences

    static let propertyConfigs = [
        // Bounds reaching network and broadcast, a gateway mid-range, a second range, and an IPv6 set.
        #"{"ranges":[[{"subnet":"10.0.0.0/28","rangeStart":"10.0.0.0","rangeEnd":"10.0.0.15","gateway":"10.0.0.7"},{"subnet":"10.0.1.0/29"}],[{"subnet":"fd00::/124","gateway":"fd00::f"}]]}"#,
        #"{"subnet":"192.168.0.0/30"}"#,
        // One subnet split in two ranges; range 1's gateway sits inside range 0.
        #"{"ranges":[[{"subnet":"10.9.0.0/27","rangeStart":"10.9.0.20"},{"subnet":"10.9.0.0/27","rangeStart":"10.9.0.2","rangeEnd":"10.9.0.10","gateway":"10.9.0.25"}]]}"#,
    ]

    @Test(arguments: propertyConfigs)
    func randomSequencesNeverDoubleAllocateNorHandOutReserved(json: String) throws {
        let c = try config(json)
        for seed in UInt64(1)...25 {
            var rng = SplitMix64(seed: seed)
            var store = FakeStore()
            var owners: [String] = []
            for step in 0..<300 {
                if owners.isEmpty || rng.below(10) < 6 {
                    let owner = "c\(step)"
                    let requested = rng.below(5) == 0 ? [Checker.randomCandidate(c, &rng)] : []
                    try Checker.allocateAndCheck(c, &store, requested: requested, owner: owner)
                    if store.held.values.contains(owner) { owners.append(owner) }
                } else {
                    let victim = owners.remove(at: rng.below(owners.count))
                    store.release(owner: victim)
                }
            }
        }
    }
}

/// Deterministic PRNG (SplitMix64) so property failures replay from the seed.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// An independent model of the allocator: enumerates every address of a range set in
/// iteration order instead of stepping a cursor, and computes reserved addresses directly.
private enum Checker {
    static func addresses(_ set: [IPRange]) -> [(IPAddress, IPRange)] {
        set.flatMap { range -> [(IPAddress, IPRange)] in
            var out: [(IPAddress, IPRange)] = []
            var ip = range.rangeStart
            while true {
                out.append((ip, range))
                if ip == range.rangeEnd { return out }
                ip = ip.next()!
            }
        }
    }

    static func reserved(_ ip: IPAddress, _ range: IPRange, _ c: HostLocalConfig) -> Bool {
        let gateways = c.rangeSets.joined().compactMap(\.gateway)
        return gateways.contains(ip) || ip == range.subnet.network || (ip.isV4 && ip == range.subnet.broadcast)
    }

    /// What round robin must pick: the first free, unreserved address after the cursor.
    static func expected(_ set: [IPRange], _ c: HostLocalConfig, _ store: FakeStore, cursor: IPAddress?) -> IPAddress? {
        let all = addresses(set)
        let start = cursor.flatMap { cur in all.firstIndex { $0.0 == cur } }.map { $0 + 1 } ?? 0
        let rotated = all[(start % all.count)...] + all[..<(start % all.count)]
        return rotated.first { !reserved($0.0, $0.1, c) && store.held[$0.0] == nil }?.0
    }

    static func randomCandidate(_ c: HostLocalConfig, _ rng: inout SplitMix64) -> IPAddress {
        let all = addresses(c.rangeSets[rng.below(c.rangeSets.count)])
        return all[rng.below(all.count)].0
    }

    static func allocateAndCheck(_ c: HostLocalConfig, _ store: inout FakeStore, requested: [IPAddress], owner: String) throws {
        let expectedPicks = c.rangeSets.indices.map { expected(c.rangeSets[$0], c, store, cursor: store.cursors[$0]) }
        let allocation: HostLocalAllocation
        do {
            allocation = try HostLocal.allocate(config: c, network: "net", requested: requested, lookup: store)
        } catch {
            switch error.kind {
            case .exhausted:
                #expect(expectedPicks.contains(nil), "\(error.message)")
            case .conflict:
                let r = try #require(requested.first)
                let range = try #require(c.rangeSets.joined().first { $0.contains(r) })
                #expect(store.held[r] != nil || reserved(r, range, c), "\(error.message)")
            default:
                Issue.record("unexpected \(error)")
            }
            return
        }
        #expect(allocation.ips.count == c.rangeSets.count)
        for got in allocation.ips {
            let ip = got.address.address
            let set = c.rangeSets[got.rangeSet]
            let range = try #require(set.first { $0.contains(ip) })
            #expect(store.held[ip] == nil, "\(ip) handed out twice")
            #expect(!reserved(ip, range, c), "\(ip) is reserved")
            #expect(got.address.prefixLength == range.subnet.prefixLength)
            #expect(allocation.cursors[got.rangeSet] == ip)
            if !requested.contains(ip) {
                #expect(ip == expectedPicks[got.rangeSet], "round robin picked \(ip)")
            }
        }
        store.commit(allocation, owner: owner)
    }
}
