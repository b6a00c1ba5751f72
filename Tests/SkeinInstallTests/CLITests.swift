import Foundation
import Testing
@testable import SkeinInstall

// The `skein` executable itself: arguments reach the installer, no arguments the CNI plugin.
// SKEIN_BIN (tools/test.sh: the release build) or the `skein` built beside this test bundle.

let skeinBinary: String = {
    if let bin = ProcessInfo.processInfo.environment["SKEIN_BIN"] { return bin }
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("skein").path
}()

func runSkein(_ args: [String], env: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: skeinBinary)
    p.arguments = args
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite("skein install as a subcommand")
struct CLITests {
    @Test func installStatusUninstallThroughTheBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: skeinBinary), "no skein binary at \(skeinBinary)")
        let node = try TempNode("cli")
        try node.addDefaultNetwork()
        let flags = ["--host-root=\(node.host)", "--source-dir=\(node.sourceDir)",
                     "--token-file=\(node.dir)/sa/token", "--ca-file=\(node.dir)/sa/ca.crt"]

        let before = try runSkein(["install-status"] + flags, env: node.environment)
        #expect(before.status == 1)
        #expect(before.stdout.contains("missing /opt/cni/bin/skein"))

        let first = try runSkein(["install"] + flags, env: node.environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("written /etc/cni/net.d/00-skein.conflist"))
        let second = try runSkein(["install"] + flags, env: node.environment)
        #expect(second.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("unchanged ") })
        let ready = try runSkein(["install-status"] + flags, env: node.environment)
        #expect(ready.status == 0)
        #expect(ready.stdout == "installed: 6 files match\n")

        let gone = try runSkein(["uninstall", "--host-root=\(node.host)"], env: [:])
        #expect(gone.status == 0)
        #expect(gone.stdout.contains("removed /etc/cni/net.d/00-skein.conflist"))
        #expect(gone.stdout.contains("kept /opt/cni/bin/skein "))
    }

    @Test func usageErrorsAndHelp() throws {
        try #require(FileManager.default.isExecutableFile(atPath: skeinBinary), "no skein binary at \(skeinBinary)")
        let help = try runSkein(["install", "--help"], env: [:])
        #expect(help.status == 0)
        for flag in InstallFlags.table where flag.commands.contains(.install) { #expect(help.stdout.contains(flag.name)) }
        #expect(try runSkein(["install", "--no-such-flag"], env: [:]).status == 2)
        let unknown = try runSkein(["ADD"], env: [:])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown command \"ADD\""))
    }

    /// No arguments: the CNI plugin, which answers VERSION with JSON, untouched by the installer.
    @Test func withoutArgumentsItIsTheCNIPlugin() throws {
        try #require(FileManager.default.isExecutableFile(atPath: skeinBinary), "no skein binary at \(skeinBinary)")
        let r = try runSkein([], env: ["CNI_COMMAND": "VERSION"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("\"supportedVersions\""))
    }
}
