import Glibc
import SkeinJournal
import SkeinModel

// Synthesizes a journal of N events with a realistic pod churn (ADD requested/applied, most pods
// deleted again later, a few refused and crashed ones), through the real Journal append path — the
// same reducer, decisions and state tables as the plugin — for the journal benchmarks.
// usage: skein-journal-synth STATE_DIR EVENTS [--network NAME]

let args = CommandLine.arguments
guard args.count >= 3, let total = Int(args[2]) else {
    fputs("usage: skein-journal-synth STATE_DIR EVENTS\n", stderr)
    exit(2)
}
let dir = args[1]
let plugin = try! JSON.parse(
    #"{"cniVersion":"1.0.0","name":"synth","type":"bridge","bridge":"synth0","isGateway":true,"ipam":{"type":"host-local","subnet":"10.128.0.0/12"}}"#)
let journal = try Journal(stateDir: dir)
var written = 0
var pod = 0
var live: [Int] = []

func key(_ n: Int) -> AttachmentKey { AttachmentKey(containerID: String(repeating: "0", count: 48) + String(n, radix: 16), ifname: "eth0") }

func add(_ n: Int) -> [Event] {
    let pod = PodRef(namespace: "ns\(n % 50)", name: "pod-\(n)", uid: "uid-\(n)")
    let r = AddRequested(key: key(n), network: "synth", netns: "/var/run/netns/cni-\(n)", pod: pod,
                         process: ProcessRef(pid: Int32(1000 + n % 30000), startTime: UInt64(n)), plugin: plugin,
                         requestedIPs: [])
    return [.addRequested(r), .addApplied(Outcome(key: key(n), durationMs: 3))]
}

func del(_ n: Int) -> [Event] {
    [.delRequested(DelRequested(key: key(n), cause: .request, process: ProcessRef(pid: 7, startTime: 7))),
     .delApplied(Outcome(key: key(n), durationMs: 20))]
}

while written < total {
    try journal.transact(sync: false) { w in
        var batch = 0
        while batch < 1000 && written < total {
            // Keep about 300 pods alive: above that, delete the oldest.
            let events = live.count > 300 ? del(live.removeFirst()) : { defer { live.append(pod); pod += 1 }; return add(pod) }()
            for e in events { _ = try w.append(e) }
            batch += events.count
            written += events.count
        }
    }
}
try journal.env.sync()
print("synthesized \(written) events (\(pod) pods) in \(dir)")
