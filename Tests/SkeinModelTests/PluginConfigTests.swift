import Testing
@testable import SkeinModel

// The built-in delegates' config parsers: the reference schemas' defaults and precedence, and the
// refusals (code 7 for bad values, code 2 naming a key Skein does not implement).

private func json(_ text: String) -> JSON { try! JSON.parse(text) }

/// The CNIError thrown by `body`, or nil when it succeeded.
private func failure<T>(_ body: () throws(CNIError) -> T) -> CNIError? {
    do { _ = try body(); return nil } catch { return error }
}

@Suite struct PluginConfigTests {
    // MARK: - macvlan

    @Test func macvlanDefaults() throws {
        let c = try MacvlanConfig.parse(plugin: json(#"{"type":"macvlan"}"#))
        #expect(c == MacvlanConfig(master: nil, mode: "bridge", mtu: nil, mac: nil, linkInContainer: false, ipam: nil))
    }

    @Test func macvlanFullConfig() throws {
        let c = try MacvlanConfig.parse(plugin: json(#"""
            {"type":"macvlan","master":"eth1","mode":"vepa","mtu":1400,"linkInContainer":true,
             "ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}
            """#))
        #expect(c.master == "eth1" && c.mode == "vepa" && c.mtu == 1400 && c.linkInContainer)
        #expect(c.ipam?["type"]?.string == "host-local")
    }

    /// Reference loadConf: `mac` < CNI_ARGS MAC < runtimeConfig.mac.
    @Test func macvlanMACPrecedence() throws {
        let base = #"{"type":"macvlan","mac":"02:00:00:00:00:01""#
        #expect(try MacvlanConfig.parse(plugin: json(base + "}")).mac == "02:00:00:00:00:01")
        #expect(try MacvlanConfig.parse(plugin: json(base + "}"), envMAC: "02:00:00:00:00:02").mac == "02:00:00:00:00:02")
        let rc = base + #","runtimeConfig":{"mac":"02:00:00:00:00:03"}}"#
        #expect(try MacvlanConfig.parse(plugin: json(rc), envMAC: "02:00:00:00:00:02").mac == "02:00:00:00:00:03")
    }

    @Test func macvlanEmptyIPAMIsLayer2() throws {
        #expect(try MacvlanConfig.parse(plugin: json(#"{"type":"macvlan","ipam":{}}"#)).ipam == nil)
        #expect(try MacvlanConfig.parse(plugin: json(#"{"type":"macvlan","ipam":{"type":""}}"#)).ipam == nil)
    }

    @Test(arguments: [
        (#"{"type":"macvlan","mode":"l2"}"#, 7, "mode"),
        (#"{"type":"macvlan","mtu":-1}"#, 7, "mtu"),
        (#"{"type":"macvlan","mtu":"1500"}"#, 7, "mtu"),
        (#"{"type":"macvlan","mac":"01:00:00:00:00:01"}"#, 7, "mac"),
        (#"{"type":"macvlan","master":"has space"}"#, 7, "master"),
        (#"{"type":"macvlan","bcqueuelen":100}"#, 2, "bcqueuelen"),
        (#"{"type":"bridge"}"#, 7, "type"),
        (#"{"type":"macvlan","ipam":"host-local"}"#, 7, "ipam"),
    ])
    func macvlanRefusals(config: String, code: Int, names: String) {
        let e = failure { () throws(CNIError) in try MacvlanConfig.parse(plugin: json(config)) }
        #expect(e?.code == code, "\(config): \(String(describing: e))")
        #expect((e.map { $0.msg + " " + $0.details } ?? "").contains(names), "\(config): \(String(describing: e))")
    }

    // MARK: - ipvlan, vlan

    @Test func ipvlanModes() throws {
        #expect(try IPvlanConfig.parse(plugin: json(#"{"type":"ipvlan"}"#)).mode == "l2")
        #expect(try IPvlanConfig.parse(plugin: json(#"{"type":"ipvlan","mode":"l3s","master":"eth0"}"#)).mode == "l3s")
        let e = failure { () throws(CNIError) in try IPvlanConfig.parse(plugin: json(#"{"type":"ipvlan","mode":"bridge"}"#)) }
        #expect(e?.code == 7 && e?.msg == #"unknown ipvlan mode: "bridge""#)
    }

    @Test func vlanMasterRequiredAndIdRange() throws {
        let ok = try VlanConfig.parse(plugin: json(#"{"type":"vlan","master":"eth0","vlanId":4094,"mtu":1496}"#))
        #expect(ok.master == "eth0" && ok.vlanId == 4094 && ok.mtu == 1496 && !ok.linkInContainer)
        // Absent is Go's zero value, as in the reference.
        #expect(try VlanConfig.parse(plugin: json(#"{"type":"vlan","master":"eth0"}"#)).vlanId == 0)
        for bad in [#"{"type":"vlan","vlanId":5}"#, #"{"type":"vlan","master":"eth0","vlanId":4095}"#,
                    #"{"type":"vlan","master":"eth0","vlanId":-1}"#] {
            #expect(failure { () throws(CNIError) in try VlanConfig.parse(plugin: json(bad)) }?.code == 7, "\(bad)")
        }
    }

    // MARK: - host-device

    @Test func hostDeviceSelectorsInReferenceOrder() throws {
        func selector(_ text: String) throws -> HostDeviceConfig.Selector {
            try HostDeviceConfig.parse(plugin: json(text)).selector
        }
        #expect(try selector(#"{"type":"host-device","device":"eth9","hwaddr":"02:00:00:00:00:09"}"#) == .device("eth9"))
        #expect(try selector(#"{"type":"host-device","hwaddr":"02:00:00:00:00:09"}"#) == .hwaddr(MACAddress("02:00:00:00:00:09")!))
        #expect(try selector(#"{"type":"host-device","kernelpath":"/sys/devices/pci0000:00/0000:00:19.0"}"#)
            == .kernelPath("/sys/devices/pci0000:00/0000:00:19.0"))
        #expect(try selector(#"{"type":"host-device","pciBusID":"0000:00:19.0"}"#) == .pciBusID("0000:00:19.0"))
        // runtimeConfig.deviceID overrides pciBusID.
        #expect(try selector(#"{"type":"host-device","pciBusID":"0000:00:19.0","runtimeConfig":{"deviceID":"0000:03:00.1"}}"#)
            == .pciBusID("0000:03:00.1"))
    }

    @Test(arguments: [
        (#"{"type":"host-device"}"#, 7, "specify either"),
        (#"{"type":"host-device","kernelpath":"/etc/passwd"}"#, 7, "/sys/devices/"),
        (#"{"type":"host-device","kernelpath":"/sys/devices/../../etc"}"#, 7, "/sys/devices/"),
        (#"{"type":"host-device","hwaddr":"nope"}"#, 7, "hwaddr"),
        (#"{"type":"host-device","pciBusID":"../x"}"#, 7, "PCI"),
        (#"{"type":"host-device","device":"eth9","DPDKMode":true}"#, 2, "DPDKMode"),
    ])
    func hostDeviceRefusals(config: String, code: Int, names: String) {
        let e = failure { () throws(CNIError) in try HostDeviceConfig.parse(plugin: json(config)) }
        #expect(e?.code == code && (e.map { $0.msg + " " + $0.details } ?? "").contains(names), "\(String(describing: e))")
    }

    // MARK: - ptp

    @Test func ptpNeedsIPAMAndRefusesMasquerade() throws {
        let ok = try PtpConfig.parse(plugin: json(#"{"type":"ptp","mtu":9000,"ipMasq":false,"ipam":{"type":"host-local"}}"#))
        #expect(ok.mtu == 9000)
        let noIPAM = failure { () throws(CNIError) in try PtpConfig.parse(plugin: json(#"{"type":"ptp"}"#)) }
        #expect(noIPAM?.code == 7)
        let masq = failure { () throws(CNIError) in
            try PtpConfig.parse(plugin: json(#"{"type":"ptp","ipMasq":true,"ipam":{"type":"host-local"}}"#))
        }
        #expect(masq?.code == 2 && masq?.msg.contains("ipMasq") == true)
    }

    // MARK: - tuning

    @Test func tuningSettingsAndSysctlPaths() throws {
        let c = try TuningConfig.parse(plugin: json(#"""
            {"type":"tuning","mtu":1400,"promisc":true,"allmulti":false,"txQLen":2000,"mac":"02:00:00:00:00:0A",
             "sysctl":{"net.ipv4.conf.IFNAME.rp_filter":"2","net/core/somaxconn":"512","net.ipv6.conf.all.forwarding":"1"}}
            """#), ifname: "net1")
        #expect(c.mtu == 1400 && c.promisc && c.allmulti == false && c.txQLen == 2000 && c.mac == "02:00:00:00:00:0a")
        #expect(c.sysctls == [
            SysctlSpec(key: "net/ipv4/conf/net1/rp_filter", value: "2", namespace: .container),
            SysctlSpec(key: "net/core/somaxconn", value: "512", namespace: .container),
            SysctlSpec(key: "net/ipv6/conf/all/forwarding", value: "1", namespace: .container),
        ])
    }

    /// Dots become '/' before IFNAME is substituted, so an interface name with dots survives.
    @Test func tuningIfnameWithDots() throws {
        #expect(try TuningConfig.sysctlPath("net.ipv4.conf.IFNAME.arp_ignore", ifname: "eth0.100")
            == "net/ipv4/conf/eth0.100/arp_ignore")
    }

    @Test(arguments: [
        "kernel.shmmax", "net", "vm/swappiness", "net/../kernel/shmmax", "net//core/x",
        "net.ipv4.conf.eth0.rp_filter", "net/ipv6/conf/lo/disable_ipv6", "net.ipv4.neigh.eth1.gc_stale_time",
    ])
    func tuningRefusesKeysOutsideThePod(key: String) {
        let e = failure { () throws(CNIError) in try TuningConfig.sysctlPath(key, ifname: "net1") }
        #expect(e?.code == 7, "\(key)")
    }

    @Test func tuningAllowsPodWideAndOwnInterfaceKeys() throws {
        for key in ["net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter", "net.ipv4.conf.net1.rp_filter",
                    "net.ipv4.ip_local_port_range", "net.ipv6.neigh.IFNAME.base_reachable_time_ms"] {
            #expect(throws: Never.self) { try TuningConfig.sysctlPath(key, ifname: "net1") }
        }
    }

    /// Reference parseConf: mac < CNI_ARGS MAC < runtimeConfig.mac < args.cni.mac; args.cni's
    /// other keys override the top level.
    @Test func tuningPrecedence() throws {
        let base = #"{"type":"tuning","mac":"02:00:00:00:00:01","mtu":1400,"sysctl":{"net.core.somaxconn":"1"}"#
        #expect(try TuningConfig.parse(plugin: json(base + "}"), ifname: "n", envMAC: "02:00:00:00:00:02").mac
            == "02:00:00:00:00:02")
        let rc = base + #","runtimeConfig":{"mac":"02:00:00:00:00:03"}"#
        #expect(try TuningConfig.parse(plugin: json(rc + "}"), ifname: "n", envMAC: "02:00:00:00:00:02").mac
            == "02:00:00:00:00:03")
        let args = rc + #","args":{"cni":{"mac":"02:00:00:00:00:04","mtu":1300,"promisc":true,"sysctl":{"net/core/somaxconn":"2"}}}}"#
        let c = try TuningConfig.parse(plugin: json(args), ifname: "n", envMAC: "02:00:00:00:00:02")
        #expect(c.mac == "02:00:00:00:00:04" && c.mtu == 1300 && c.promisc)
        #expect(c.sysctls == [SysctlSpec(key: "net/core/somaxconn", value: "2", namespace: .container)])
    }

    @Test(arguments: [
        #"{"type":"tuning","sysctl":{"net.core.somaxconn":"1","net/core/somaxconn":"2"}}"#,
        #"{"type":"tuning","sysctl":{"net.core.somaxconn":1}}"#,
        #"{"type":"tuning","txQLen":-1}"#,
        #"{"type":"tuning","mtu":70000}"#,
        #"{"type":"tuning","mac":"00:00:00:00:00:00"}"#,
    ])
    func tuningBadValuesAreCode7(config: String) {
        let e = failure { () throws(CNIError) in try TuningConfig.parse(plugin: json(config), ifname: "net1") }
        #expect(e?.code == 7, "\(config): \(String(describing: e))")
    }
}
