import Foundation
import Testing

// Journal corruption with the real binaries. A damaged journal (a flipped allocation key, a
// damaged meta page, a truncated data.mdb) makes skein answer CNI error 102 and touch nothing —
// never an address that a pod already holds; `skein-journal verify` names the damage and
// `skein-journal recover` rebuilds, after which the node works on. A full disk is error 102 and
// loses nothing. A skein killed inside its write transaction (SKEIN_FAILPOINT=journal-in-write)
// leaves a lock.mdb that needs no recovery, whether or not another process has the journal open.
// A damage that makes liblmdb itself abort is still answered with error 102 (the fault guard).
// Subnets 10.248.230–235.

@Suite(.serialized, .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN, SKEIN_JOURNAL_BIN)"))
struct CorruptionTests {
    func tool(_ args: [String]) -> ProcessResult { run(Env.journalBin, args) }

    func podArgs(_ name: String) -> String { "IgnoreUnknown=1;K8S_POD_NAMESPACE=corrupt;K8S_POD_NAME=\(name);K8S_POD_UID=uid-\(name)" }

    /// ADD of pod `name` in its own netns; returns the result.
    func add(_ sb: Sandbox, _ name: String, config: String, env: [String: String] = [:]) -> (ProcessResult, String) {
        let ns = sb.netns(name)
        return (cni("ADD", sb, container: "cr\(name)", netns: ns, config: config, args: podArgs(name), extraEnv: env), ns)
    }

    func del(_ sb: Sandbox, _ name: String, _ ns: String, config: String, env: [String: String] = [:]) -> ProcessResult {
        cni("DEL", sb, container: "cr\(name)", netns: ns, config: config, args: podArgs(name), extraEnv: env)
    }

    /// A CNI error naming the journal: code 102, the details saying `words`.
    func expectJournalError(_ r: ProcessResult, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 1, "a CNI error, not a crash: status \(r.status) \(r.stderr)", sourceLocation: sourceLocation)
        #expect(SkeinIT.code(r) == 102, "code 102: \(r.stdout)", sourceLocation: sourceLocation)
        let details = (r.json?["details"] as? String) ?? ""
        #expect(details.contains(words), "details name the damage (\(words)): \(r.stdout)", sourceLocation: sourceLocation)
    }

    /// Every copy of `needle` in data.mdb (the live page and stale ones) gets `mask` at `offset`.
    @discardableResult
    func flip(_ dir: String, _ needle: [UInt8], at offset: Int, _ mask: UInt8 = 0x01) throws -> Int {
        let url = URL(fileURLWithPath: dir + "/data.mdb")
        var data = [UInt8](try Data(contentsOf: url))
        var count = 0
        for i in 0..<(data.count - needle.count) where data[i] == needle[0] && data[i..<(i + needle.count)].elementsEqual(needle) {
            data[i + offset] ^= mask
            count += 1
        }
        try Data(data).write(to: url)
        return count
    }

    func copy(_ from: String, _ to: String) -> String {
        #expect(run("/bin/cp", ["-a", from, to]).status == 0)
        return to
    }

    @Test func corruptedAllocationIsError102AndNeverAWrongAllocation() throws {
        let sb = Sandbox("cj"); defer { sb.cleanup() }
        let config = skeinConfig(sb, subnet: "10.248.230.0/29")
        var pods: [(String, String)] = []
        var ips: [String] = []
        for i in 0..<5 {
            let (r, ns) = add(sb, "p\(i)", config: config)
            #expect(r.status == 0, "ADD p\(i): \(r.stdout) \(r.stderr)")
            pods.append(("p\(i)", ns))
            ips.append(SkeinIT.firstIP(r) ?? "?")
        }
        #expect(Set(ips) == Set((2...6).map { "10.248.230.\($0)" }), "\(ips)")
        let (full, fullNS) = add(sb, "full", config: config)
        #expect(SkeinIT.code(full) == 101, "the /29 is full: \(full.stdout)")

        // 10.248.230.3's allocation key (network NUL address, after its node header's key size)
        // now reads .2: without row checksums .3 would look free to the next ADD.
        let network = sb.prefix + "-net"
        let key = Array(network.utf8) + [0, 10, 248, 230, 3]
        #expect(try flip(sb.stateDir, [UInt8(key.count), 0] + key, at: 2 + key.count - 1) >= 1)
        let ports = sb.bridgePorts().count
        let refused = cni("ADD", sb, container: "crfull", netns: fullNS, config: config, args: podArgs("full"))
        expectJournalError(refused, "allocations row")
        #expect(!SkeinIT.hasLink(fullNS, "eth0") && sb.bridgePorts().count == ports, "nothing was set up")

        let v = journalVerify(sb)
        #expect(v.status == 1 && (v.stdout + v.stderr).contains("allocations"), "verify names the table: \(v.stdout) \(v.stderr)")
        let rec = tool(["recover", "--state-dir", sb.stateDir])
        #expect(rec.status == 0 && rec.stdout.contains("lost: nothing"), "\(rec.stdout) \(rec.stderr)")
        SkeinIT.expectVerify(sb)
        let again = cni("ADD", sb, container: "crfull", netns: fullNS, config: config, args: podArgs("full"))
        #expect(SkeinIT.code(again) == 101, "the pool is still full after recovery: \(again.stdout)")
        #expect(tool(["explain", "corrupt/p1", "--state-dir", sb.stateDir]).stdout.contains("ADD applied"))
        #expect(del(sb, "full", fullNS, config: config).status == 0)
        for (name, ns) in pods { #expect(del(sb, name, ns, config: config).status == 0, "DEL \(name)") }
        SkeinIT.expectClean(sb, netns: nil)
    }

    @Test func damagedMetaPageAndTruncatedFileAreError102NotACrash() throws {
        let sb = Sandbox("cm"); defer { sb.cleanup() }
        let config = skeinConfig(sb, subnet: "10.248.231.0/24")
        let (first, ns0) = add(sb, "p0", config: config)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        let (second, ns1) = add(sb, "p1", config: config)
        #expect(second.status == 0)
        let ns2 = sb.netns("p2")

        // Each damage on a copy of the state directory (SKEIN_STATE_DIR points skein at it).
        let meta = copy(sb.stateDir, sb.dir + "/meta")
        let data = try Data(contentsOf: URL(fileURLWithPath: meta + "/data.mdb"))
        var bytes = [UInt8](data)
        bytes[16] ^= 0x01  // meta page 0's magic
        try Data(bytes).write(to: URL(fileURLWithPath: meta + "/data.mdb"))
        let onMeta = cni("ADD", sb, container: "crp2", netns: ns2, config: config, args: podArgs("p2"), extraEnv: ["SKEIN_STATE_DIR": meta])
        expectJournalError(onMeta, "meta page 0: bad magic")
        #expect(tool(["verify", "--state-dir", meta]).status == 1)
        let fixed = tool(["recover", "--state-dir", meta])
        #expect(fixed.status == 0 && fixed.stdout.contains("lost: nothing"), "\(fixed.stdout) \(fixed.stderr)")
        #expect(tool(["verify", "--state-dir", meta]).status == 0)

        let cut = copy(sb.stateDir, sb.dir + "/cut")
        let size = (try FileManager.default.attributesOfItem(atPath: cut + "/data.mdb")[.size] as? NSNumber)?.intValue ?? 0
        #expect(truncate(cut + "/data.mdb", off_t(size - 2 * 4096)) == 0)
        // liblmdb alone would die of SIGBUS (status 135) at the first page past the end.
        let onCut = cni("ADD", sb, container: "crp2", netns: ns2, config: config, args: podArgs("p2"), extraEnv: ["SKEIN_STATE_DIR": cut])
        expectJournalError(onCut, "truncated")
        let delOnCut = del(sb, "p0", ns0, config: config, env: ["SKEIN_STATE_DIR": cut])
        expectJournalError(delOnCut, "truncated")
        #expect(SkeinIT.hasLink(ns0, "eth0"), "a refused DEL touches nothing")
        let verifyCut = tool(["verify", "--state-dir", cut])
        #expect(verifyCut.status == 1 && (verifyCut.stdout + verifyCut.stderr).contains("truncated"))
        #expect(!SkeinIT.hasLink(ns2, "eth0"))

        // The newest event has no successor whose chain link would show a flip: the head does.
        let newest = copy(sb.stateDir, sb.dir + "/newest")
        let count = SkeinIT.events(sb).count
        #expect(try flip(newest, Array("{\"seq\":\(count),".utf8), at: 40) >= 1)
        let onNewest = cni("ADD", sb, container: "crp2", netns: ns2, config: config, args: podArgs("p2"), extraEnv: ["SKEIN_STATE_DIR": newest])
        expectJournalError(onNewest, "the newest, does not hash")
        let repaired = tool(["recover", "--state-dir", newest])
        #expect(repaired.status == 0 && repaired.stdout.contains("repaired event \(count)"), "\(repaired.stdout)")

        for (name, ns) in [("p0", ns0), ("p1", ns1)] { #expect(del(sb, name, ns, config: config).status == 0) }
        SkeinIT.expectClean(sb, netns: nil)
    }

    /// Every branch page zeroed (a torn write of the trees' upper levels): skein answers 102 —
    /// liblmdb meets a page of the wrong type —, verify names the pages, and recover reads every
    /// event from the leaf pages, which are still on disk: nothing is lost and the node goes on.
    @Test func zeroedBranchPagesAreError102AndRecoveredFromTheLeaves() throws {
        let sb = Sandbox("cz"); defer { sb.cleanup() }
        let config = skeinConfig(sb, subnet: "10.248.234.0/24")
        var pods: [(String, String)] = []
        for i in 0..<10 {
            let (r, ns) = add(sb, "p\(i)", config: config)
            #expect(r.status == 0, "ADD p\(i): \(r.stdout) \(r.stderr)")
            pods.append(("p\(i)", ns))
        }
        let url = URL(fileURLWithPath: sb.stateDir + "/data.mdb")
        var bytes = [UInt8](try Data(contentsOf: url))
        var zeroed = 0
        for page in 2..<(bytes.count / 4096) {
            let o = page * 4096
            let pgno = bytes[o..<(o + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
            guard pgno == page, bytes[o + 10] == 0x01, bytes[o + 11] == 0 else { continue }  // a branch page
            bytes.replaceSubrange(o..<(o + 4096), with: [UInt8](repeating: 0, count: 4096))
            zeroed += 1
        }
        #expect(zeroed >= 1, "20 events span several leaves under a branch page")
        try Data(bytes).write(to: url)

        let (refused, ns) = add(sb, "late", config: config)
        expectJournalError(refused, "damaged")
        #expect(!SkeinIT.hasLink(ns, "eth0"))
        let v = journalVerify(sb)
        #expect(v.status == 1 && (v.stdout + v.stderr).contains("events: page"), "\(v.stdout) \(v.stderr)")
        let rec = tool(["recover", "--state-dir", sb.stateDir])
        #expect(rec.status == 0 && rec.stdout.contains("lost: nothing"), "\(rec.stdout) \(rec.stderr)")
        SkeinIT.expectVerify(sb)
        let late = cni("ADD", sb, container: "crlate", netns: ns, config: config, args: podArgs("late"))
        #expect(late.status == 0, "\(late.stdout)")
        pods.append(("late", ns))
        for (name, ns) in pods { #expect(del(sb, name, ns, config: config).status == 0, "DEL \(name)") }
        SkeinIT.expectClean(sb, netns: nil)
    }

    /// Marks as branch pages the leaf pages whose first key starts with `prefix` but is not
    /// `first`: the live leaves after the tree's first one, and stale copies of them.
    func markLeavesAsBranches(_ dir: String, prefix: String, first: String) throws -> Int {
        let url = URL(fileURLWithPath: dir + "/data.mdb")
        var bytes = [UInt8](try Data(contentsOf: url))
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        var marked = 0
        for page in 2..<(bytes.count / 4096) {
            let o = page * 4096
            let pgno = bytes[o..<(o + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
            // Page header: number (8), pad (2), flags (2: leaf 0x02), lower (2); then node offsets.
            guard pgno == page, u16(o + 10) == 0x02, u16(o + 12) > 16 else { continue }
            let node = o + u16(o + 16)
            let key = String(decoding: bytes[(node + 8)..<(node + 8 + u16(node + 6))], as: UTF8.self)
            guard key.hasPrefix(prefix), key != first else { continue }
            bytes[o + 10] = 0x01
            marked += 1
        }
        try Data(bytes).write(to: url)
        return marked
    }

    /// A damage the open-time checks do not read (they stop at the list of databases): a leaf of
    /// the attachments tree marked as a branch page. liblmdb trusts it and aborts when a scan
    /// steps onto it ("Assertion 'IS_LEAF(mp)' failed in mdb_cursor_next()"); the fault guard
    /// answers CNI error 102 for the process instead of a silent SIGABRT with nothing on stdout.
    @Test func liblmdbAssertionIsAnsweredWithError102() throws {
        let sb = Sandbox("ca"); defer { sb.cleanup() }
        let config = skeinConfig(sb, version: "1.1.0", subnet: "10.248.235.0/24")  // 1.1.0: GC
        var pods: [(String, String)] = []
        for i in 0..<8 {
            let (r, ns) = add(sb, "p\(i)", config: config)
            #expect(r.status == 0, "ADD p\(i): \(r.stdout) \(r.stderr)")
            pods.append(("p\(i)", ns))
        }
        #expect(try markLeavesAsBranches(sb.stateDir, prefix: "crp", first: "crp0/eth0") >= 1,
                "8 attachment rows span several leaves")
        // GC reads every attachment row: its scan steps from the first leaf onto a marked one.
        let valid = pods.map { #"{"containerID":"cr\#($0.0)","ifname":"eth0"}"# }.joined(separator: ",")
        let gcConfig = SkeinIT.withKeys(config, "\"cni.dev/valid-attachments\":[\(valid)]")
        let gc = cni("GC", sb, container: "gc", netns: nil, config: gcConfig)
        #expect(gc.stderr.contains("Assertion 'IS_LEAF"), "liblmdb aborted on the page: \(gc.stderr)")
        expectJournalError(gc, "skein-journal verify --state-dir \(sb.stateDir)")
        #expect(gc.json?["msg"] as? String == "the journal in \(sb.stateDir) is damaged", "\(gc.stdout)")
        #expect(gc.json?["cniVersion"] as? String == "1.1.0", "in the config's version: \(gc.stdout)")
        #expect(pods.allSatisfy { SkeinIT.hasLink($0.1, "eth0") }, "GC removed nothing")

        let v = journalVerify(sb)
        #expect(v.status == 1 && (v.stdout + v.stderr).contains("attachments"), "verify names the tree: \(v.stdout) \(v.stderr)")
        let rec = tool(["recover", "--state-dir", sb.stateDir])
        #expect(rec.status == 0 && rec.stdout.contains("lost: nothing"), "\(rec.stdout) \(rec.stderr)")
        SkeinIT.expectVerify(sb)
        let again = cni("GC", sb, container: "gc", netns: nil, config: gcConfig)
        #expect(again.status == 0, "GC after recovery: \(again.stdout) \(again.stderr)")
        for (name, ns) in pods { #expect(del(sb, name, ns, config: config).status == 0, "DEL \(name)") }
        SkeinIT.expectClean(sb, netns: nil)
    }
}

// MARK: - A full disk

@Suite(.serialized, .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN, SKEIN_JOURNAL_BIN)"))
struct FullDiskCorruptionTests {
    @Test func fullDiskIsError102AndLosesNothing() throws {
        let sb = Sandbox("cf"); defer { sb.cleanup() }
        let mnt = sb.dir + "/tmpfs"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        #expect(run("/bin/mount", ["-t", "tmpfs", "-o", "size=320k,mode=0700", "tmpfs", mnt]).status == 0)
        defer { _ = run("/bin/umount", ["-l", mnt]) }
        let state = mnt + "/state"
        let env = ["SKEIN_STATE_DIR": state]
        let config = skeinConfig(sb, version: "1.1.0", subnet: "10.248.232.0/24")  // 1.1.0: STATUS
        let ns0 = sb.netns("p0"), ns1 = sb.netns("p1")
        func call(_ command: String, _ name: String, _ ns: String) -> ProcessResult {
            cni(command, sb, container: "cr\(name)", netns: ns, config: config, args: "IgnoreUnknown=1", extraEnv: env)
        }
        let a0 = call("ADD", "p0", ns0)
        #expect(a0.status == 0, "\(a0.stdout) \(a0.stderr)")
        let filler = mnt + "/filler"
        #expect(run("/bin/sh", ["-c", "cat /dev/zero > \(filler) 2>/dev/null; true"]).status == 0)

        let a1 = call("ADD", "p1", ns1)
        #expect(a1.status == 1 && SkeinIT.code(a1) == 102, "\(a1.stdout)")
        #expect(((a1.json?["details"] as? String) ?? "").contains("no space left"), "\(a1.stdout)")
        #expect(!SkeinIT.hasLink(ns1, "eth0") && sb.bridgePorts().count == 1, "nothing set up for p1")
        let status = cni("STATUS", sb, container: "x", netns: nil, config: config, extraEnv: env)
        #expect(SkeinIT.code(status) == 50, "STATUS reports the journal unwritable: \(status.stdout)")
        let d0 = call("DEL", "p0", ns0)
        #expect(SkeinIT.code(d0) == 102 && SkeinIT.hasLink(ns0, "eth0"), "a DEL that cannot be journaled touches nothing: \(d0.stdout)")
        let full = run(Env.journalBin, ["verify", "--state-dir", state])
        #expect(full.status == 0, "the journal is intact on the full disk: \(full.stdout) \(full.stderr)")

        // Space back (truncated first: a forked process may still hold the filler open).
        _ = truncate(filler, 0)
        unlink(filler)
        let again = call("ADD", "p1", ns1)
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        #expect(SkeinIT.firstIP(again) != SkeinIT.firstIP(a0))
        #expect(call("DEL", "p0", ns0).status == 0 && call("DEL", "p1", ns1).status == 0)
        #expect(sb.bridgePorts().isEmpty)
        let replay = run(Env.journalBin, ["replay", "--state-dir", state, "--json"])
        #expect(replay.status == 0 && (replay.json?["allocations"] as? [Any])?.isEmpty == true, "\(replay.stdout)")
        #expect(run(Env.journalBin, ["verify", "--state-dir", state]).status == 0)
    }
}

// MARK: - A writer killed inside its transaction

@Suite(.serialized, .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN, SKEIN_JOURNAL_BIN)"))
struct KilledWriterCorruptionTests {
    /// `skein-journal audit export` into a FIFO nobody reads yet: it opens the journal (a shared
    /// lock on lock.mdb, so the lock table outlives the killed writer), then blocks opening its
    /// output. `release` reads the FIFO so that it finishes.
    func holdJournalOpen(_ stateDir: String, fifo: String) throws -> (Process, () -> Int32) {
        #expect(mkfifo(fifo, 0o600) == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Env.journalBin)
        p.arguments = ["audit", "export", "--format", "jsonl", "--state-dir", stateDir, "--out", fifo]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // liblmdb's shared lock on lock.mdb shows in /proc/locks once the journal is open.
        let pid = " \(p.processIdentifier) "
        for _ in 0..<500 {
            let locks = (try? String(contentsOfFile: "/proc/locks", encoding: .utf8)) ?? ""
            if locks.split(separator: "\n").contains(where: { $0.contains(pid) && $0.contains("READ") }) { break }
            usleep(10_000)
        }
        #expect(p.isRunning, "the exporter holds the journal open")
        return (p, {
            // Non-blocking: an exporter that already died must not hang the test.
            let fd = open(fifo, O_RDONLY | O_NONBLOCK)
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let deadline = Date().addingTimeInterval(10)
            while p.isRunning && Date() < deadline {
                if read(fd, &buffer, buffer.count) <= 0 { usleep(10_000) }
            }
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
            return p.terminationStatus
        })
    }

    @Test func writerKilledInsideItsTransactionLeavesALockThatNeedsNoRecovery() throws {
        let sb = Sandbox("ck"); defer { sb.cleanup() }
        let config = skeinConfig(sb, subnet: "10.248.233.0/24")
        var pods: [(String, String)] = []
        func add(_ name: String, failpoint: String? = nil) -> ProcessResult {
            let ns = sb.netns(name)
            pods.append((name, ns))
            return cni("ADD", sb, container: "ck\(name)", netns: ns, config: config, args: "IgnoreUnknown=1",
                       extraEnv: failpoint.map { ["SKEIN_FAILPOINT": $0] } ?? [:])
        }
        #expect(add("p0").status == 0)
        let events = SkeinIT.events(sb).count

        let (_, release) = try holdJournalOpen(sb.stateDir, fifo: sb.dir + "/export.fifo")
        let killed = add("p1", failpoint: "journal-in-write")
        #expect(killed.status == 137, "killed inside the transaction: \(killed.status) \(killed.stderr)")
        #expect(!SkeinIT.hasLink(pods[1].1, "eth0"), "the kernel is touched only after the request commits")
        #expect(SkeinIT.events(sb).count == events, "nothing of the killed transaction was committed")
        // The next writer meets a writer mutex whose owner died: the robust mutex hands it over.
        let start = Date()
        let p2 = add("p2")
        #expect(p2.status == 0, "\(p2.stdout) \(p2.stderr)")
        #expect(Date().timeIntervalSince(start) < 5, "the next ADD does not wait for the dead writer")
        #expect(release() == 0, "the export that held the journal open finishes")

        // Nobody else has it open now: the next process starts a fresh lock table.
        let killedAlone = add("p3", failpoint: "journal-in-write")
        #expect(killedAlone.status == 137)
        let retry = cni("ADD", sb, container: "ckp1", netns: pods[1].1, config: config, args: "IgnoreUnknown=1")
        let retry3 = cni("ADD", sb, container: "ckp3", netns: pods[3].1, config: config, args: "IgnoreUnknown=1")
        #expect(retry.status == 0 && retry3.status == 0, "\(retry.stdout) \(retry3.stdout)")
        let ips = [retry, p2, retry3].compactMap(SkeinIT.firstIP)
        #expect(Set(ips).count == 3, "distinct addresses: \(ips)")
        SkeinIT.expectVerify(sb)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sb.stateDir)) ?? []
        #expect(names.allSatisfy { !$0.hasPrefix("damaged-") } && names.contains("lock.mdb"), "no recovery ran: \(names)")
        for (name, ns) in pods {
            #expect(cni("DEL", sb, container: "ck\(name)", netns: ns, config: config, args: "IgnoreUnknown=1").status == 0)
        }
        SkeinIT.expectClean(sb, netns: nil)
    }
}
