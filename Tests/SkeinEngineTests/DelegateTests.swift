import Foundation
import Testing
import SkeinModel
@testable import SkeinEngine

// The exec machinery without root or kernel: ChildProcess (spawn, stdin/stdout interleaving,
// limits, timeout) and DelegateRunner / ExecSuffix (lookup in CNI_PATH, environment, prevResult,
// errors, chain order) against tiny shell-script plugins in a temporary directory per test.

/// A temporary directory holding fake plugins; removed by `cleanup()`.
final class PluginDir {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "skein-engine-test-\(getpid())-\(UInt32.random(in: 0..<0xFFFFFF))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A /bin/sh script named `name` with `body`, executable unless told otherwise. Written through
    /// a close-on-exec descriptor: tests run in parallel, and a child another test spawns must not
    /// inherit it (exec of a file open for writing fails with ETXTBSY).
    @discardableResult
    func script(_ name: String, _ body: String, executable: Bool = true) -> String {
        let file = path + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0o755 : 0o644)
        let text = Array(("#!/bin/sh\n" + body + "\n").utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return file
    }

    func read(_ name: String) -> String {
        (try? String(contentsOfFile: path + "/" + name, encoding: .utf8)) ?? ""
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

private let result031 = #"{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","mac":"0a:00:00:00:00:01","sandbox":"/x"}],"ips":[{"version":"4","interface":0,"address":"10.9.0.5/24","gateway":"10.9.0.1"}],"dns":{}}"#

private func runner(_ dir: PluginDir, timeoutMs: Int = 10_000) -> DelegateRunner {
    DelegateRunner(searchPath: ["/nonexistent-dir", dir.path], timeoutMs: timeoutMs, hostPATH: "/usr/bin:/bin")
}

private func plugin(_ type: String, version: String = "1.0.0", extra: String = "") -> ExecPlugin {
    try! ExecPlugin(try! JSON.parse(#"{"cniVersion":"\#(version)","name":"net","type":"\#(type)"\#(extra)}"#))
}

private let target = PluginTarget(containerID: "c1", netns: "/var/run/netns/x", ifname: "net1", cniArgs: "K8S_POD_NAME=p")

@Suite struct ChildProcessTests {
    @Test func stdinLargerThanAPipeComesBackWhole() throws {
        let input = [UInt8]((0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let r = try ChildProcess.run("/bin/cat", env: [], stdin: input, limits: ChildLimits(timeoutMs: 10_000), what: "cat")
        #expect(r.exit == .status(0))
        #expect(r.stdout == input)
    }

    @Test func exitStatusAndSignalAreReported() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        let three = dir.script("three", "exit 3")
        let killed = dir.script("killed", "kill -9 $$")
        #expect(try ChildProcess.run(three, env: [], stdin: [], limits: ChildLimits(timeoutMs: 10_000), what: "t").exit == .status(3))
        #expect(try ChildProcess.run(killed, env: [], stdin: [], limits: ChildLimits(timeoutMs: 10_000), what: "k").exit == .signal(9))
    }

    @Test func theEnvironmentIsExactlyWhatIsGiven() throws {
        let r = try ChildProcess.run("/usr/bin/env", env: ["A=1", "CNI_COMMAND=ADD"], stdin: [],
                                     limits: ChildLimits(timeoutMs: 10_000), what: "env")
        #expect(String(decoding: r.stdout, as: UTF8.self) == "A=1\nCNI_COMMAND=ADD\n")
    }

    @Test func aChildThatOutlivesItsDeadlineIsKilled() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        let slow = dir.script("slow", "exec sleep 30")
        let t0 = Date()
        #expect {
            try ChildProcess.run(slow, env: [], stdin: [], limits: ChildLimits(timeoutMs: 300), what: "slow ADD")
        } throws: { e in
            let e = e as! CNIError
            return e.code == SkeinCode.delegate && e.msg.contains("slow ADD did not finish within 300 ms")
        }
        #expect(Date().timeIntervalSince(t0) < 5)
    }

    @Test func stdoutBeyondTheLimitFailsAndStderrIsTruncated() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        let loud = dir.script("loud", "head -c 200000 /dev/zero")
        var limits = ChildLimits(timeoutMs: 10_000)
        limits.maxStdout = 100_000
        #expect(throws: CNIError.self) { try ChildProcess.run(loud, env: [], stdin: [], limits: limits, what: "loud") }
        let chatty = dir.script("chatty", "head -c 200000 /dev/zero >&2; echo done")
        let r = try ChildProcess.run(chatty, env: [], stdin: [], limits: ChildLimits(timeoutMs: 10_000), what: "chatty")
        #expect(r.stderr.count == 64 << 10 && r.stderrTruncated)
        #expect(String(decoding: r.stdout, as: UTF8.self) == "done\n")
    }

    /// A plugin that never reads its stdin must not kill us with SIGPIPE nor hang.
    @Test func aChildThatIgnoresItsStdin() throws {
        let r = try ChildProcess.run("/bin/true", env: [], stdin: [UInt8](repeating: 65, count: 1 << 20),
                                     limits: ChildLimits(timeoutMs: 10_000), what: "true")
        #expect(r.exit == .status(0))
    }

    @Test func aMissingBinaryFailsToStart() {
        #expect(throws: CNIError.self) {
            try ChildProcess.run("/nonexistent/plugin", env: [], stdin: [], limits: ChildLimits(timeoutMs: 1000), what: "x")
        }
    }
}

@Suite struct DelegateRunnerTests {
    @Test func locateSkipsWhatIsNotAnExecutableRegularFile() throws {
        let a = PluginDir(), b = PluginDir()
        defer { a.cleanup(); b.cleanup() }
        a.script("p", "exit 0", executable: false)
        try FileManager.default.createDirectory(atPath: a.path + "/q", withIntermediateDirectories: false)
        let good = b.script("p", "exit 0")
        b.script("q", "exit 0")
        let r = DelegateRunner(searchPath: [a.path, b.path], timeoutMs: 1000, hostPATH: "/bin")
        #expect(try r.locate("p") == good)
        #expect(try r.locate("q") == b.path + "/q")
        #expect(throws: CNIError.self) { try r.locate("absent") }
    }

    @Test func addGetsTheCNIEnvironmentAndPrevResultInItsOwnVersion() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        dir.script("fake", """
            cat > "\(dir.path)/stdin"
            env | grep -E '^(CNI_|PATH=)' | sort > "\(dir.path)/env"
            echo '\(result031)'
            """)
        let prev = CNIResult(interfaces: [.init(name: "eth0", mac: "0a:00:00:00:00:09", mtu: 1400, sandbox: "/x")],
                             ips: [.init(address: IPNetwork("10.9.0.4/24")!, interface: 0)])
        let r = try runner(dir).add(plugin("fake", version: "0.4.0"), target, prevResult: prev)
        #expect(r.ips.map(\.address.description) == ["10.9.0.5/24"])
        let env = dir.read("env").split(separator: "\n").map(String.init)
        #expect(env == ["CNI_ARGS=K8S_POD_NAME=p", "CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_IFNAME=net1",
                        "CNI_NETNS=/var/run/netns/x", "CNI_PATH=/nonexistent-dir:\(dir.path)", "PATH=/usr/bin:/bin"])
        let stdin = try JSON.parse(dir.read("stdin"))
        #expect(stdin["type"]?.string == "fake")
        // 0.4.0 has no interface mtu: the prevResult is in the plugin's version, not ours.
        #expect(stdin["prevResult"]?["cniVersion"]?.string == "0.4.0")
        #expect(stdin["prevResult"]?["interfaces"]?[0]?["mtu"] == nil)
        #expect(stdin["prevResult"]?["ips"]?[0]?["address"]?.string == "10.9.0.4/24")
    }

    @Test func aPluginErrorKeepsItsCodeAndNamesThePlugin() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        dir.script("fake", #"echo '{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"later"}'; exit 1"#)
        #expect {
            try runner(dir).del(plugin("fake"), target, prevResult: nil)
        } throws: { e in
            (e as? CNIError) == CNIError(code: 11, msg: "fake: busy", details: "later")
        }
    }

    @Test func aCrashWithoutAnErrorDocumentReportsItsStderr() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        dir.script("fake", "echo 'panic: nil map' >&2; exit 2")
        #expect {
            try runner(dir).check(plugin("fake"), target, prevResult: CNIResult())
        } throws: { e in
            guard let e = e as? CNIError else { return false }
            return e.code == SkeinCode.delegate && e.msg == "fake CHECK exited with status 2 without a CNI error on stdout"
                && e.details.contains("panic: nil map")
        }
    }

    @Test func anUnreadableResultIsADecodeError() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        dir.script("fake", "echo not-json")
        #expect {
            try runner(dir).add(plugin("fake"), target, prevResult: nil)
        } throws: { e in
            (e as? CNIError)?.code == 6 && (e as? CNIError)?.msg.hasPrefix("fake: ") == true
        }
    }
}

@Suite struct ExecSuffixTests {
    /// Two plugins that log their command and type, and answer with prevResult's addresses plus one.
    func chain(_ dir: PluginDir, failing: String? = nil) throws -> ExecSuffix {
        for (type, address) in [("one", "10.9.0.7/24"), ("two", "10.9.0.8/24")] {
            let fail = type == failing ? #"[ "$CNI_COMMAND" = ADD ] && { echo '{"code":7,"msg":"no"}'; exit 1; }"# : ""
            dir.script(type, """
                echo "$CNI_COMMAND \(type)" >> "\(dir.path)/log"
                cat > "\(dir.path)/stdin-\(type)-$CNI_COMMAND"
                \(fail)
                echo '{"cniVersion":"1.0.0","ips":[{"address":"\(address)"}]}'
                """)
        }
        let configs = try ["one", "two"].map { try JSON.parse(#"{"cniVersion":"1.0.0","name":"n","type":"\#($0)"}"#) }
        return try ExecSuffix(runner: runner(dir), configs: configs, target: target)
    }

    @Test func addRunsInOrderWithTheResultSoFarAndDelInReverse() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        let suffix = try chain(dir)
        var hits: [Int] = []
        guard case .done(let result) = suffix.add(prevResult: nil, failpoint: { hits.append($0) }) else {
            Issue.record("ADD failed")
            return
        }
        #expect(result.ips.map(\.address.description) == ["10.9.0.8/24"])
        #expect(hits == [0, 1])
        let second = try JSON.parse(dir.read("stdin-two-ADD"))
        #expect(second["prevResult"]?["ips"]?[0]?["address"]?.string == "10.9.0.7/24")
        #expect(try JSON.parse(dir.read("stdin-one-ADD"))["prevResult"] == nil)
        try suffix.del(count: 2, prevResult: result, applied: true) { hits.append(10 + $0) }
        #expect(hits == [0, 1, 11, 10])
        #expect(dir.read("log") == "ADD one\nADD two\nDEL two\nDEL one\n")
        #expect(try JSON.parse(dir.read("stdin-one-DEL"))["prevResult"]?["ips"]?[0]?["address"]?.string == "10.9.0.8/24")
    }

    @Test func aFailureSaysWhereAndWhatTheChainHadBeforeIt() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        let suffix = try chain(dir, failing: "two")
        guard case .failed(let at, let error, let last) = suffix.add(prevResult: nil, failpoint: { _ in }) else {
            Issue.record("ADD should have failed")
            return
        }
        #expect(at == 1)
        #expect(error.code == 7 && error.msg == "two: no" && error.details.contains("ADD of exec'ed plugin 2 of 2 (two)"))
        #expect(last?.ips.map(\.address.description) == ["10.9.0.7/24"])
    }

    @Test func checkSkipsPluginsOlderThan040() throws {
        let dir = PluginDir()
        defer { dir.cleanup() }
        dir.script("old", #"echo "$CNI_COMMAND old" >> "\#(dir.path)/log""#)
        dir.script("new", #"echo "$CNI_COMMAND new" >> "\#(dir.path)/log""#)
        let configs = try [("old", "0.3.1"), ("new", "1.0.0")].map {
            try JSON.parse(#"{"cniVersion":"\#($0.1)","name":"n","type":"\#($0.0)"}"#)
        }
        try ExecSuffix(runner: runner(dir), configs: configs, target: target).check(prevResult: CNIResult())
        #expect(dir.read("log") == "CHECK new\n")
    }
}
