import Testing
@testable import SkeinModel

struct IPAddressTests {
    // (input, canonical output); every input parses and prints as the second column.
    static let valid: [(String, String)] = [
        ("0.0.0.0", "0.0.0.0"),
        ("1.2.3.4", "1.2.3.4"),
        ("255.255.255.255", "255.255.255.255"),
        ("10.0.0.1", "10.0.0.1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8::0001", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::FFFF:0102:0304", "::ffff:1.2.3.4"),
        ("::1.2.3.4", "::102:304"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("fe80::1", "fe80::1"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ]

    static let invalid: [String] = [
        "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "00.1.2.3", "256.1.1.1", "1.2.3.-1",
        "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.", "a.b.c.d", "+1.2.3.4", "1.2.3.1000",
        ":::", ":", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1::2::3",
        ":1::", "1::2:", "1:2:3:4:5:6:7", "12345::", "g::1", "fe80::1%eth0", "fe80::1%1",
        "1.2.3.4::", "::1.2.3.4:5", "::1.2.3", "::256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4", "::01.2.3.4",
    ]

    @Test(arguments: valid)
    func parsesAndFormatsCanonically(input: String, canonical: String) throws {
        let ip = try #require(IPAddress(input))
        #expect(ip.description == canonical)
        #expect(IPAddress(canonical) == ip)
    }

    @Test(arguments: invalid)
    func rejectsMalformedText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    // RFC 5952 §4.2 and §4.3: longest zero run compressed, leftmost on a tie, a lone zero
    // group never compressed, lowercase and no leading zeros.
    @Test(arguments: [
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
        ("0:0:1:0:0:0:0:0", "0:0:1::"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("0:0:0:0:0:0:0:0", "::"),
    ])
    func rfc5952(input: String, canonical: String) throws {
        #expect(try #require(IPAddress(input)).description == canonical)
    }

    @Test func bytesRoundTrip() throws {
        let v4 = try #require(IPAddress("192.168.1.2"))
        #expect(v4.bytes == [192, 168, 1, 2])
        #expect(v4 == .v4(0xC0A8_0102))
        #expect(IPAddress(bytes: [192, 168, 1, 2]) == v4)
        let v6 = try #require(IPAddress("2001:db8::ff00:42:8329"))
        #expect(v6.bytes == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29])
        #expect(v6 == .v6(0x2001_0db8_0000_0000, 0x0000_ff00_0042_8329))
        #expect(IPAddress(bytes: v6.bytes) == v6)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: []) == nil)
        #expect(v4.isV4 && v4.bitWidth == 32)
        #expect(!v6.isV4 && v6.bitWidth == 128)
    }

    @Test func ordering() throws {
        let a = try #require(IPAddress("10.0.0.9")), b = try #require(IPAddress("10.0.0.10"))
        #expect(a < b)
        #expect(try #require(IPAddress("::ffff")) < #require(IPAddress("::1:0")))
        #expect(try #require(IPAddress("0:0:0:1::")) < #require(IPAddress("0:0:0:2::")))
        #expect(try #require(IPAddress("255.255.255.255")) < #require(IPAddress("::")))
    }

    @Test func advancing() throws {
        let ip = try #require(IPAddress("10.0.0.255"))
        #expect(ip.next()?.description == "10.0.1.0")
        #expect(ip.previous()?.description == "10.0.0.254")
        #expect(ip.advanced(by: -0x0A00_00FF)?.description == "0.0.0.0")
        #expect(ip.advanced(by: -0x0A00_0100) == nil)
        #expect(IPAddress("255.255.255.255")?.next() == nil)
        #expect(IPAddress("0.0.0.0")?.previous() == nil)
        #expect(IPAddress("1.2.3.4")?.advanced(by: Int.max) == nil)
        #expect(IPAddress("1.2.3.4")?.advanced(by: Int.min) == nil)

        let carry = try #require(IPAddress("::ffff:ffff:ffff:ffff"))
        #expect(carry.next()?.description == "0:0:0:1::")
        #expect(carry.next()?.previous() == carry)
        #expect(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")?.next() == nil)
        #expect(IPAddress("::")?.previous() == nil)
        #expect(IPAddress("::")?.advanced(by: Int.max)?.description == "::7fff:ffff:ffff:ffff")
        #expect(IPAddress("0:0:0:1::")?.advanced(by: Int.min)?.description == "::8000:0:0:0")
    }
}

extension IPAddressTests {
// Nested so the suite matches the `IPAddressTests` test filter.
struct IPNetworkTests {
    @Test func parsesCIDR() throws {
        let net = try #require(IPNetwork("10.1.2.3/24"))
        #expect(net.address.description == "10.1.2.3")  // kept as given
        #expect(net.prefixLength == 24)
        #expect(net.network.description == "10.1.2.0")
        #expect(net.broadcast.description == "10.1.2.255")
        #expect(net.masked.description == "10.1.2.0/24")
        #expect(net.description == "10.1.2.3/24")

        let v6 = try #require(IPNetwork("fd00::1:2/64"))
        #expect(v6.network.description == "fd00::")
        #expect(v6.broadcast.description == "fd00::ffff:ffff:ffff:ffff")
        #expect(v6.masked.description == "fd00::/64")
    }

    @Test(arguments: ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "/24", "10.0.0.0/24/1",
                      "10.0.0.0/024", "10.0.0.0/ 24", "fd00::/129", "fd00::/1000", "fd00::%eth0/64",
                      "10.0.0/24", "10.0.0.0/+8", "fd00::/6 4"])
    func rejectsBadCIDR(text: String) {
        #expect(IPNetwork(text) == nil)
    }

    @Test func prefixEdges() throws {
        let all4 = try #require(IPNetwork("1.2.3.4/0"))
        #expect(all4.network.description == "0.0.0.0" && all4.broadcast.description == "255.255.255.255")
        let host4 = try #require(IPNetwork("1.2.3.4/32"))
        #expect(host4.network == host4.address && host4.broadcast == host4.address)
        let all6 = try #require(IPNetwork("fd00::1/0"))
        #expect(all6.network.description == "::")
        #expect(all6.broadcast.description == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        let host6 = try #require(IPNetwork("fd00::1/128"))
        #expect(host6.network == host6.address && host6.broadcast == host6.address)
        let p65 = try #require(IPNetwork("fd00::ffff:ffff:ffff:ffff/65"))
        // /65 keeps only the top bit of the fifth group; two equal zero runs, the left one compressed.
        #expect(p65.network.description == "fd00::8000:0:0:0")
        let p63 = try #require(IPNetwork("fd00:0:0:1::/63"))
        #expect(p63.network.description == "fd00::")
        #expect(p63.broadcast.description == "fd00::1:ffff:ffff:ffff:ffff")
        #expect(IPNetwork(address: .v4(0), prefixLength: 33) == nil)
        #expect(IPNetwork(address: .v6(0, 0), prefixLength: 128) != nil)
    }

    @Test func contains() throws {
        let net = try #require(IPNetwork("192.168.0.0/30"))
        #expect(net.contains(try #require(IPAddress("192.168.0.0"))))
        #expect(net.contains(try #require(IPAddress("192.168.0.3"))))
        #expect(!net.contains(try #require(IPAddress("192.168.0.4"))))
        #expect(!net.contains(try #require(IPAddress("192.167.255.255"))))
        #expect(!net.contains(.v6(0, 0xC0A8_0000)))  // other family never matches
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::"))))
        #expect(!v6.contains(.v4(0x2001_0db8)))
    }
}
}
