// Shared by the executor suites: a fake host netns and a sandbox netns per test, named from a
// per-run tag and always deleted.

import Foundation
import Glibc
import SkeinNetlink

let isRoot = getuid() == 0

/// "skx" + 6 hex digits: unique per run so parallel or crashed runs never collide.
let runTag = "skx" + String(format: "%06x", UInt32.random(in: 0...0xff_ffff))

@discardableResult
func ip(_ args: String...) throws -> (status: Int32, output: String) {
    try runIP(args)
}

/// `ip` for a test's setup: a failure stops the test with ip's own words.
func ipSetup(_ args: String...) throws {
    let r = try runIP(args)
    guard r.status == 0 else { throw SetupError(description: "ip \(args.joined(separator: " ")): \(r.output)") }
}

private func runIP(_ args: [String]) throws -> (status: Int32, output: String) {
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

struct SetupError: Error, CustomStringConvertible { let description: String }

/// A fake host netns and a sandbox netns, deleted whatever the body does.
struct Sandbox {
    let label: String
    var hostName: String { "\(runTag)\(label)h" }
    var podName: String { "\(runTag)\(label)c" }
    var podPath: String { "/run/netns/\(podName)" }
    let hostNS: NetNS

    static func with<T>(_ label: String, _ body: (Sandbox) throws -> T) throws -> T {
        var made: [String] = []
        defer { for name in made { _ = try? ip("netns", "del", name) } }
        for name in ["\(runTag)\(label)h", "\(runTag)\(label)c"] {
            let r = try ip("netns", "add", name)
            guard r.status == 0 else { throw SetupError(description: "ip netns add \(name): \(r.output)") }
            made.append(name)
        }
        return try body(Sandbox(label: label, hostNS: try NetNS.open(path: "/run/netns/\(runTag)\(label)h")))
    }

    /// Runs `body` on a thread inside the fake host netns: an executor made there treats it as
    /// the host, and host sysctls land there too.
    func onHost<T>(_ body: () throws -> T) throws -> T {
        try withNetNS(hostNS) { _ in try body() }
    }
}

