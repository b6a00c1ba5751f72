// The host-device origin's journal encoding: it is part of addRequested events (the "hostDevice"
// fact and the decision's spec), so the fields added later are optional and absent unless set,
// and an origin recorded before them decodes to the same bytes it was written with.

import SkeinModel
import Testing

@Suite struct HostDeviceOriginTests {
    static let mac = MACAddress("52:54:00:00:00:09")

    @Test func anOriginRecordedBeforeTheFlagsKeepsItsBytes() throws {
        let old = #"{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500}"#
        let origin = try HostDeviceOrigin(json: try JSON.parse(Array(old.utf8)))
        #expect(origin == HostDeviceOrigin(name: "eth9", index: 9, mac: Self.mac, mtu: 1500))
        #expect(!origin.promisc && !origin.allmulti && origin.txQLen == nil)
        #expect(origin.json.serialized() == old)
    }

    @Test func flagsAndQueueLengthAreEncodedOnlyWhenSet() throws {
        let all = HostDeviceOrigin(name: "eth9", index: 9, mac: Self.mac, mtu: 1500, promisc: true, allmulti: true, txQLen: 1000)
        let text = #"{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500,"promisc":true,"allmulti":true,"txqlen":1000}"#
        #expect(all.json.serialized() == text)
        #expect(try HostDeviceOrigin(json: all.json) == all)
        let queueOnly = HostDeviceOrigin(name: "eth9", index: 9, mac: nil, mtu: 9000, txQLen: 0)
        #expect(queueOnly.json.serialized() == #"{"name":"eth9","index":9,"mtu":9000,"txqlen":0}"#)
        #expect(try HostDeviceOrigin(json: queueOnly.json) == queueOnly)
        // Explicit false decodes as absent does.
        let falses = #"{"name":"eth9","index":9,"mtu":1500,"promisc":false,"allmulti":false}"#
        #expect(try HostDeviceOrigin(json: try JSON.parse(Array(falses.utf8))) == HostDeviceOrigin(name: "eth9", index: 9, mac: nil, mtu: 1500))
    }

    @Test func aBadFlagIsADecodeError() throws {
        let bad = #"{"name":"eth9","index":9,"mtu":1500,"txqlen":-1}"#
        #expect(throws: DecodeError.self) { try HostDeviceOrigin(json: try JSON.parse(Array(bad.utf8))) }
    }
}
