import Foundation
import Glibc
import Testing
@testable import SkeinNetlink

private func netnsInode(_ path: String) -> UInt64? {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
}

@Suite("NetNS and withNetNS", .enabled(if: isRoot, "needs root: creates network namespaces"), .serialized)
struct NetNSTests {
    @Test func rejectsNonNamespaces() throws {
        let e1 = #expect(throws: NetlinkError.self) { try NetNS.open(path: "/tmp") }
        #expect(e1?.errno == EINVAL)
        #expect(e1?.message.contains("not a network namespace") == true)

        let file = "/tmp/\(runTag)-regular"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        defer { unlink(file) }
        let e2 = #expect(throws: NetlinkError.self) { try NetNS.open(path: file) }
        #expect(e2?.errno == EINVAL)

        // nsfs, but a mount namespace; and a procfs file that is not a namespace.
        #expect((#expect(throws: NetlinkError.self) { try NetNS.open(path: "/proc/self/ns/mnt") })?.errno == EINVAL)
        #expect((#expect(throws: NetlinkError.self) { try NetNS.open(path: "/proc/self/status") })?.errno == EINVAL)
        #expect((#expect(throws: NetlinkError.self) { try NetNS.open(path: "/nonexistent/\(runTag)") })?.errno == ENOENT)
        #expect(!NetNS.exists(path: "/tmp"))
        #expect(!NetNS.exists(path: file))
    }

    @Test func opensProcAndNamedNamespaces() throws {
        let me = try NetNS.open(path: "/proc/self/ns/net")
        #expect(me.fd >= 0)
        #expect(NetNS.exists(path: "/proc/self/ns/net"))
        _ = try NetNS.current()
        try withTestNS("open") { nss in
            #expect(NetNS.exists(path: nss[0].path))
            #expect(nss[0].ns.path == nss[0].path)
        }
    }

    @Test func withNetNSRunsInsideTheNamespaceOnly() throws {
        let callerBefore = netnsInode("/proc/thread-self/ns/net")
        try withTestNS("wns") { nss in
            let target = netnsInode(nss[0].path)
            let (inside, lo) = try withNetNS(nss[0].ns) { h in
                (netnsInode("/proc/thread-self/ns/net"), try h.linkGet(name: "lo"))
            }
            #expect(inside == target)
            #expect(inside != callerBefore)
            #expect(lo?.isUp == false)  // a fresh namespace's lo starts down
        }
        #expect(netnsInode("/proc/thread-self/ns/net") == callerBefore)
    }

    @Test func withNetNSNilRunsInline() throws {
        let here = netnsInode("/proc/thread-self/ns/net")
        let seen = try withNetNS(nil) { (h) throws -> UInt64? in
            #expect(try h.linkGet(name: "lo") != nil)
            return netnsInode("/proc/thread-self/ns/net")
        }
        #expect(seen == here)
    }

    @Test func withNetNSRethrowsBodyError() throws {
        struct Boom: Error {}
        try withTestNS("thr") { nss in
            #expect(throws: Boom.self) { try withNetNS(nss[0].ns) { _ in throw Boom() } }
        }
    }

    @Test func sysctlFollowsTheThreadsNamespace() throws {
        let hostBefore = try sysctlRead("net/ipv4/ip_forward")
        try withTestNS("sys") { nss in
            // A new netns inherits IPv4 devconf from the host, so flip whatever it starts with.
            let (before, after) = try withNetNS(nss[0].ns) { _ in
                let b = try sysctlRead("net/ipv4/ip_forward")
                try sysctlWrite("net/ipv4/ip_forward", b == "1" ? "0" : "1")
                return (b, try sysctlRead("net/ipv4/ip_forward"))
            }
            #expect(before == "0" || before == "1")
            #expect(after == (before == "1" ? "0" : "1"))
        }
        #expect(try sysctlRead("net/ipv4/ip_forward") == hostBefore)
        #expect((#expect(throws: NetlinkError.self) { try sysctlRead("net/../../etc/passwd") })?.errno == EINVAL)
        #expect((#expect(throws: NetlinkError.self) { try sysctlRead("net/ipv4/\(runTag)") })?.errno == ENOENT)
    }
}
