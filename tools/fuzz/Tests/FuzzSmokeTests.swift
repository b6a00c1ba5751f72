import Foundation
import Testing
@testable import SkeinFuzz

// The CI-scaled fuzz run: every parser target of tools/fuzz over its seed corpus, then over
// SKEIN_FUZZ_CI_RUNS (default 20,000) inputs from the seeded mutator with the target's libFuzzer
// dictionary, and the findings kept in tools/fuzz/crashes. Any crash ends the test process (that
// is the finding); any violated property fails the test and names the input. The long run with
// coverage feedback is tools/fuzz/run.sh (see tools/fuzz/README.md).

enum FuzzFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The files of tools/fuzz/<kind>/<target>, sorted by name (empty when there is no such directory).
    static func inputs(_ kind: String, _ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        let dir = root.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { name in
            (try? Data(contentsOf: dir.appendingPathComponent(name))).map { (name, [UInt8]($0)) }
        }
    }

    static func dictionary(_ target: FuzzTarget) -> [[UInt8]] {
        let url = root.appendingPathComponent("dict").appendingPathComponent(target.rawValue + ".dict")
        return FuzzDictionary.parse((try? String(contentsOf: url, encoding: .utf8)) ?? "")
    }

    static var ciRuns: Int { ProcessInfo.processInfo.environment["SKEIN_FUZZ_CI_RUNS"].flatMap(Int.init) ?? 20_000 }

    static func show(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription + " hex " + bytes.prefix(300).map { String(format: "%02x", $0) }.joined()
    }
}

@Suite("Fuzz: the parsers under the seeded mutator (CI-scaled)")
struct FuzzSmokeTests {
    @Test("the seed corpus and the kept findings run clean", arguments: FuzzTarget.allCases)
    func corpus(_ target: FuzzTarget) {
        let seeds = FuzzFiles.inputs("seeds", target)
        #expect(seeds.count >= 5, "\(target.rawValue): \(seeds.count) seed files")
        #expect(seeds.contains { target.run($0.bytes).accepted }, "\(target.rawValue): no seed is accepted")
        for file in seeds + FuzzFiles.inputs("crashes", target) {
            let outcome = target.run(file.bytes)
            #expect(outcome.violations.isEmpty, "\(target.rawValue) \(file.name): \(outcome.violations)")
        }
    }

    @Test("mutated inputs break no property", arguments: FuzzTarget.allCases)
    func mutated(_ target: FuzzTarget) {
        let tokens = FuzzFiles.dictionary(target)
        #expect(tokens.count >= 10, "\(target.rawValue): \(tokens.count) dictionary tokens")
        var mutator = Mutator(seeds: FuzzFiles.inputs("seeds", target).map(\.bytes), tokens: tokens, seed: 0x5EED_0007)
        var accepted = 0, reported = 0
        for _ in 0..<FuzzFiles.ciRuns {
            let input = mutator.next()
            let outcome = target.run(input)
            if outcome.accepted { accepted += 1 }
            if !outcome.violations.isEmpty && reported < 5 {
                reported += 1
                Issue.record("\(target.rawValue): \(outcome.violations) on \(FuzzFiles.show(input))")
            }
        }
        // A run that never gets past the first syntax check exercises nothing behind it.
        #expect(accepted * 100 >= FuzzFiles.ciRuns, "\(target.rawValue): only \(accepted) of \(FuzzFiles.ciRuns) inputs accepted")
    }

    @Test func sameSeedSameInputs() {
        let seeds = FuzzFiles.inputs("seeds", .json).map(\.bytes)
        var a = Mutator(seeds: seeds, tokens: FuzzFiles.dictionary(.json), seed: 42)
        var b = Mutator(seeds: seeds, tokens: FuzzFiles.dictionary(.json), seed: 42)
        var c = Mutator(seeds: seeds, tokens: FuzzFiles.dictionary(.json), seed: 43)
        let fromA = (0..<200).map { _ in a.next() }
        #expect(fromA == (0..<200).map { _ in b.next() })
        #expect(fromA != (0..<200).map { _ in c.next() })
        #expect(fromA.allSatisfy { $0.count <= 4096 })
    }
}

@Suite("Fuzz harness pieces")
struct FuzzHarnessTests {
    @Test func dictionaryEscapes() {
        let tokens = FuzzDictionary.parse("# comment\n\"a\"\nname=\"\\\"q\\\\\"\n  \"\\x00\\xff\"\nbroken\n\"\"\n")
        #expect(tokens == [[0x61], [0x22, 0x71, 0x5C], [0x00, 0xFF]])
    }

    @Test func requestInputSplitsAtTheFirstNUL() {
        let (env, stdin) = FuzzTarget.splitRequest(Array("CNI_COMMAND=DEL\nJUNK\nCNI_IFNAME=a=b\n\0{\"x\":\0}".utf8))
        #expect(env == ["CNI_COMMAND": "DEL", "CNI_IFNAME": "a=b"])
        #expect(stdin == Array("{\"x\":\0}".utf8))
        let (defaultEnv, all) = FuzzTarget.splitRequest(Array("{}".utf8))
        #expect(defaultEnv["CNI_COMMAND"] == "ADD" && all == Array("{}".utf8))
    }

    /// The checker's own rules, so that a property cannot pass because its rule accepts everything.
    @Test func rulesRefuseWhatTheyMust() {
        #expect(Rule.isIfname("eth0") && Rule.isIfname("abcdefghijklmno"))
        for bad in ["", ".", "..", "abcdefghijklmnop", "a/b", "a:b", "a b", "a\0b", "ééééééééé"] { #expect(!Rule.isIfname(bad), "\(bad)") }
        #expect(Rule.isCNIName("a1.b_c-d"))
        for bad in ["", "-a", ".a", "a/b", "a\u{1}", "é", String(repeating: "a", count: 254)] { #expect(!Rule.isCNIName(bad), "\(bad)") }
        #expect(Rule.isPlainType("bridge"))
        for bad in ["", ".", "..", "a/b", "/bin/sh", "../../bin/sh", "a\0"] { #expect(!Rule.isPlainType(bad), "\(bad)") }
        #expect(Rule.isConfinedPath("/var/lib/skein"))
        for bad in ["relative", "/a/../b", "/a/..", "/a\0b", ""] { #expect(!Rule.isConfinedPath(bad), "\(bad)") }
        var outcome = FuzzOutcome()
        FuzzTarget.sysctlProperties("kernel/panic", &outcome)
        FuzzTarget.sysctlProperties("net/ipv4/conf/lo/forwarding", &outcome)
        FuzzTarget.sysctlProperties("net/ipv4/conf/eth0/forwarding", &outcome)
        #expect(outcome.violations.count == 2, "\(outcome.violations)")
    }
}
