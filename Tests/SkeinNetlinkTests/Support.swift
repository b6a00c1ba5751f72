import Foundation
import Glibc
@testable import SkeinNetlink

let isRoot = getuid() == 0

/// Unique per test run so parallel runs (and leftovers of crashed ones) never collide.
let runTag: String = {
    let pid = String(UInt32(getpid()) & 0xffff, radix: 16)
    let rnd = String(UInt16.random(in: 0...0xffff), radix: 16)
    return "sknl\(pid)\(rnd)"
}()

@discardableResult
func run(_ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A namespace made with `ip netns add`, always removed by `withTestNS`.
struct TestNS {
    let name: String
    let ns: NetNS
    var path: String { "/run/netns/\(name)" }
}

struct SetupError: Error, CustomStringConvertible {
    let description: String
}

/// Creates `count` namespaces named "<runTag>-<label><i>", runs body, deletes them
/// whatever happens.
@discardableResult
func withTestNS<T>(_ label: String, count: Int = 1, _ body: ([TestNS]) throws -> T) throws -> T {
    var made: [String] = []
    defer {
        for name in made { _ = try? run(["netns", "del", name]) }
    }
    var list: [TestNS] = []
    for i in 0..<count {
        let name = "\(runTag)-\(label)\(i)"
        let r = try run(["netns", "add", name])
        guard r.status == 0 else { throw SetupError(description: "ip netns add \(name): \(r.output)") }
        made.append(name)
        list.append(TestNS(name: name, ns: try NetNS.open(path: "/run/netns/\(name)")))
    }
    return try body(list)
}

/// Short link names: everything lives in private namespaces, so only the netns names need
/// the run tag.
let mac1: [UInt8] = [0x02, 0x00, 0x00, 0x5c, 0x00, 0x01]
let mac2: [UInt8] = [0x02, 0x00, 0x00, 0x5c, 0x00, 0x02]
let lowMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]  // lower than mac1: would win a bridge-id election

func expectNetlinkError(_ errno: Int32, _ body: () throws -> Void) -> NetlinkError? {
    do {
        try body()
        return nil
    } catch let e as NetlinkError {
        return e.errno == errno ? e : nil
    } catch {
        return nil
    }
}

/// A handle opened inside `ns` and then used from the test's own thread: the socket stays
/// bound to the namespace it was created in. Expectations must run on the test's thread
/// (Swift Testing attributes issues through task-locals, which a raw pthread lacks).
func handle(in ns: NetNS) throws -> NetlinkHandle {
    try withNetNS(ns) { $0 }
}
