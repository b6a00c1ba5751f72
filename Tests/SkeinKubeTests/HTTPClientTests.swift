import Foundation
import Glibc
import SkeinModel
import Testing
@testable import SkeinKube

/// Transport: TLS verification, framing, time bounds. Each test has its own fake server (see
/// FakeAPIServer.swift for why a fake), killed and removed in its `defer`.
@Suite struct HTTPClientTests {
    static let podPath = "/api/v1/namespaces/default/pods/web-0"

    @Test func httpsWithTheClusterCA() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(ca: .file(server.caPath)))
        let r = try http.request("GET", path: Self.podPath, timeoutMs: 5000)
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/json")
        #expect(try JSON.parse(r.body)["metadata"]?["uid"]?.string == "0b7c6a34-uid-web-0")
    }

    /// By name: getaddrinfo, the certificate's DNS SAN, SNI; "localhost" may resolve to ::1 first,
    /// where nothing listens, so the next address must be tried.
    @Test func httpsByHostName() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse("https://localhost:\(server.port)"), tls: TLSSettings(ca: .file(server.caPath)))
        #expect(try http.request("GET", path: Self.podPath, timeoutMs: 5000).status == 200)
    }

    @Test func chunkedResponse() throws {
        let server = try FakeAPIServer(control: #"{"chunked": true}"#)
        defer { server.stop() }
        let caPEM = try [UInt8](Data(contentsOf: URL(fileURLWithPath: server.caPath)))
        let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(ca: .pem(caPEM)))
        let r = try http.request("GET", path: Self.podPath, timeoutMs: 5000)
        #expect(r.header("transfer-encoding") == "chunked")
        #expect(r.header("content-length") == nil)
        let pod = try JSON.parse(r.body)
        #expect(pod["metadata"]?["name"]?.string == "web-0")
        #expect(pod["metadata"]?["annotations"]?["k8s.v1.cni.cncf.io/networks"]?.string == "macvlan-conf")
    }

    @Test func plainHTTP() throws {
        let server = try FakeAPIServer(tls: false)
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse(server.url))
        let r = try http.request("GET", path: "/api/v1/namespaces/default/pods/missing", timeoutMs: 5000)
        #expect(r.status == 404)
        #expect(try JSON.parse(r.body)["reason"]?.string == "NotFound")
    }

    @Test func wrongCAIsATLSError() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(ca: .file(server.wrongCAPath)))
        let error = kubeError { () throws(KubeError) in _ = try http.request("GET", path: Self.podPath, timeoutMs: 5000) }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("certificate") == true, "\(String(describing: error))")
        #expect(server.requests().isEmpty)
    }

    /// The right CA but a certificate for another address: hostname/IP verification must refuse it.
    @Test func certificateForAnotherAddressIsATLSError() throws {
        let server = try FakeAPIServer(san: "IP:127.0.0.2,DNS:elsewhere.example")
        defer { server.stop() }
        for host in ["127.0.0.1", "localhost"] {
            let http = try HTTPClient(server: try .parse("https://\(host):\(server.port)"), tls: TLSSettings(ca: .file(server.caPath)))
            let error = kubeError { () throws(KubeError) in _ = try http.request("GET", path: Self.podPath, timeoutMs: 5000) }
            #expect(error?.kind == .tls, "\(host): \(String(describing: error))")
        }
        // tls-server-name: verify the name the certificate does carry.
        let named = try HTTPClient(server: try .parse(server.url),
                                   tls: TLSSettings(ca: .file(server.caPath), serverName: "elsewhere.example"))
        #expect(try named.request("GET", path: Self.podPath, timeoutMs: 5000).status == 200)
    }

    /// Names come from subjectAltName only (as in Go): a CN that happens to match is not enough.
    @Test func subjectCommonNameIsNotAName() throws {
        let server = try FakeAPIServer(san: "")
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse("https://localhost:\(server.port)"), tls: TLSSettings(ca: .file(server.caPath)))
        let error = kubeError { () throws(KubeError) in _ = try http.request("GET", path: Self.podPath, timeoutMs: 5000) }
        #expect(error?.kind == .tls)
    }

    /// As in Go, any certificate of the CA bundle is a trust anchor, even one not self-signed.
    @Test func bundleCertificatesAreAnchors() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(ca: .file(server.dir + "/server.crt")))
        #expect(try http.request("GET", path: Self.podPath, timeoutMs: 5000).status == 200)
    }

    @Test func insecureSkipVerifyAcceptsAnyServer() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(insecureSkipVerify: true))
        #expect(try http.request("GET", path: Self.podPath, timeoutMs: 5000).status == 200)
    }

    @Test func connectionRefusedFailsFast() throws {
        let port = try closedPort()
        let http = try HTTPClient(server: try .parse("http://127.0.0.1:\(port)"))
        let start = Date()
        let error = kubeError { () throws(KubeError) in _ = try http.request("GET", path: "/", timeoutMs: 5000) }
        #expect(error?.kind == .unreachable)
        // No retry at this level, no waiting: refused is immediate (the bound allows for a loaded machine).
        #expect(Date().timeIntervalSince(start) < 1.5)
    }

    @Test func hangingServerTimesOut() throws {
        let server = try FakeAPIServer(control: #"{"hang": true}"#)
        defer { server.stop() }
        let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(ca: .file(server.caPath)))
        let start = Date()
        let error = kubeError { () throws(KubeError) in _ = try http.request("GET", path: Self.podPath, timeoutMs: 400) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(error?.kind == .timeout)
        // The server would hang for 60 s: anything near the 0.4 s deadline proves the bound.
        #expect(elapsed >= 0.35 && elapsed < 3, "\(elapsed)")
    }

    @Test func responseLargerThanTheLimitIsRefused() throws {
        for chunked in [false, true] {
            let server = try FakeAPIServer(control: #"{"chunked": \#(chunked)}"#)
            defer { server.stop() }
            let http = try HTTPClient(server: try .parse(server.url), tls: TLSSettings(ca: .file(server.caPath)), maxResponseBytes: 64)
            let error = kubeError { () throws(KubeError) in _ = try http.request("GET", path: Self.podPath, timeoutMs: 5000) }
            #expect(error?.kind == .decode, "chunked \(chunked)")
        }
    }

    @Test func clientCertificateAuthenticates() throws {
        let server = try FakeAPIServer(control: #"{"token": "only-this"}"#)
        defer { server.stop() }
        let tls = TLSSettings(ca: .file(server.caPath), clientCertificate: .file(server.clientCertPath),
                              clientKey: .file(server.clientKeyPath))
        let http = try HTTPClient(server: try .parse(server.url), tls: tls)
        #expect(try http.request("GET", path: Self.podPath, timeoutMs: 5000).status == 200)
        #expect(server.requests().last?["cn"]?.string == "system:node:test")
    }

    @Test func badTLSMaterialIsRefusedUpFront() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let url = try ServerURL.parse(server.url)
        let cases: [(TLSSettings, KubeError.Kind)] = [
            (TLSSettings(), .config),                                                      // no CA, not insecure
            (TLSSettings(ca: .file(server.dir + "/absent.crt")), .config),
            (TLSSettings(ca: .pem(Array("not a certificate".utf8))), .tls),
            (TLSSettings(ca: .file(server.caPath), clientCertificate: .file(server.clientCertPath)), .config),
            // A key that is not the certificate's.
            (TLSSettings(ca: .file(server.caPath), clientCertificate: .file(server.clientCertPath),
                         clientKey: .file(server.dir + "/server.key")), .tls),
        ]
        for (tls, kind) in cases {
            let error = kubeError { () throws(KubeError) in _ = try HTTPClient(server: url, tls: tls) }
            #expect(error?.kind == kind, "\(tls): \(String(describing: error))")
        }
    }

    @Test func requestHeadIsWellFormedAndRefusesInjection() throws {
        let http = try HTTPClient(server: try .parse("http://[::1]:8080/prefix"))
        let head = String(decoding: try http.requestHead("PUT", path: "/a", headers: [("Authorization", "Bearer t")], bodyCount: 2), as: UTF8.self)
        #expect(head == "PUT /prefix/a HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: skein\r\nConnection: close\r\nAuthorization: Bearer t\r\nContent-Length: 2\r\n\r\n")
        #expect(throws: KubeError.self) { try http.requestHead("GET", path: "/a", headers: [("X", "a\r\nEvil: 1")], bodyCount: nil) }
        #expect(throws: KubeError.self) { try http.requestHead("GET", path: "/a b", headers: [], bodyCount: nil) }
        #expect(throws: KubeError.self) { try http.requestHead("get", path: "/a", headers: [], bodyCount: nil) }
    }
}

/// A port nothing listens on: bound by us, then closed.
func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw TestError("bind: \(errno)") }
    return UInt16(bigEndian: addr.sin_port)
}
