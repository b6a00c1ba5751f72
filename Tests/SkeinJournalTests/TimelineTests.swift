import Glibc
@testable import SkeinJournal
import Testing

// The `audit timeline` picture: deterministic HTML/SVG for a fixed input, lanes and their order,
// bars and markers, stacking, the lane cap, escaping, tick labels at every scale, empty ranges.
// The last test writes a sample page to /tmp/skein-timeline-sample.html to look at.

private let s: Int64 = 1_000_000_000
private let t0: Int64 = 1_714_572_000 * 1_000_000_000   // 2024-05-01 14:00:00 UTC

private func count(_ haystack: String, _ needle: String) -> Int {
    var n = 0
    var rest = Substring(haystack)
    while let r = rest.firstRange(of: needle) { n += 1; rest = rest[r.upperBound...] }
    return n
}

/// The attribute values `name="…"` of every element whose opening text starts with `prefix`.
private func attributes(_ html: String, after prefix: String, _ name: String) -> [String] {
    var out: [String] = []
    var rest = Substring(html)
    while let r = rest.firstRange(of: prefix) {
        rest = rest[r.upperBound...]
        guard let a = rest.firstRange(of: " \(name)=\"") else { break }
        let v = rest[a.upperBound...]
        out.append(String(v.prefix { $0 != "\"" }))
    }
    return out
}

/// The text of each `<g class="lane" …>…</g>` block.
private func laneBlocks(_ html: String) -> [String] {
    var out: [String] = []
    var rest = Substring(html)
    while let r = rest.firstRange(of: "<g class=\"lane\"") {
        let tail = rest[r.lowerBound...]
        // a lane block ends at the first line that is exactly "</g>" (bars and markers are one line each)
        var block = ""
        for line in tail.split(separator: "\n", omittingEmptySubsequences: false) {
            block += line + "\n"
            if line == "</g>" { break }
        }
        out.append(block)
        rest = rest[rest.index(r.lowerBound, offsetBy: block.count)...]
    }
    return out
}

private func ev(_ lane: String, _ sec: Int64, _ kind: TimelineEvent.Kind, _ label: String, _ detail: String = "") -> TimelineEvent {
    TimelineEvent(lane: lane, timeNs: t0 + sec * s, kind: kind, label: label, detail: detail)
}

private let fixed: [TimelineEvent] = [
    ev("default/web-1", 30, .attachStart, "eth0 aaaa", "ips 10.1.0.2/24"),
    ev("default/web-1", 400, .attachEnd, "eth0 aaaa", "deleted"),
    ev("default/web-1", 420, .failure, "eth0 aaab", "code 11: try again later"),
    ev("kube-system/dns", 60, .attachStart, "eth0 bbbb", "ips 10.1.0.3/24"),
    ev("kube-system/dns", 90, .refused, "net1 bbbc", "code 999: pool exhausted"),
    ev("x/<&\"'pod", 120, .crashRecovered, "eth0 <&\"", "recovered after add-op-2 <crash> & \"quote\""),
    ev("x/<&\"'pod", 200, .attachStart, "eth0 cccc"),
    ev("x/<&\"'pod", 500, .gc, "eth0 cccc", "stale"),
    ev("default/web-1", 450, .failure, "eth0 aaab", "second failure"),
]

@Suite struct TimelineTests {
    @Test func fixedInputIsDeterministicAndHasTheStructure() {
        let a = TimelineRenderer.html(title: "node-1 <pods> & \"more\"", lanes: .pod, events: fixed, from: nil, to: nil)
        let b = TimelineRenderer.html(title: "node-1 <pods> & \"more\"", lanes: .pod, events: fixed, from: nil, to: nil)
        #expect(a == b)
        #expect(a.hasPrefix("<!DOCTYPE html>"))
        #expect(a.hasSuffix("</html>\n"))
        #expect(!a.contains("<script"))
        #expect(!a.removing("xmlns=\"http://www.w3.org/2000/svg\"").contains("http"))   // nothing external

        // Lanes in order of first appearance.
        #expect(count(a, "<g class=\"lane\"") == 3)
        #expect(attributes(a, after: "<g class=\"lane\"", "data-lane") == ["default/web-1", "kube-system/dns", "x/&lt;&amp;&quot;&#39;pod"])

        // Bars: web-1 closed, dns open (runs to the right edge), x closed by GC.
        #expect(count(a, "<g class=\"bar\">") == 2)
        #expect(count(a, "<g class=\"bar open\">") == 1)
        // Markers.
        #expect(count(a, "<g class=\"marker failure\">") == 2)
        #expect(count(a, "<g class=\"marker refused\">") == 1)
        #expect(count(a, "<g class=\"marker crash\">") == 1)
        #expect(count(a, "<g class=\"marker gc\">") == 1)
        // Legend.
        for word in ["attached", "still attached", "failure", "refused", "crash recovery", "GC release"] {
            #expect(a.contains(">\(word)</text>"), "legend lacks \(word)")
        }
        // Summary.
        #expect(a.contains("3 pods · 3 attachments (1 still attached at the end) · 2 failures · 1 refused · 1 crash recovery · 1 GC release"))

        // Escaping: no raw user text with markup characters anywhere.
        #expect(a.contains("<title>node-1 &lt;pods&gt; &amp; &quot;more&quot;</title>"))
        #expect(a.contains("eth0 &lt;&amp;&quot;"))
        #expect(a.contains("&lt;crash&gt; &amp; &quot;quote&quot;"))
        #expect(!a.contains("<crash>"))
        #expect(!a.contains("<&"))
        #expect(!a.contains("<pods>"))

        // Tooltips carry the detail text and times.
        #expect(a.contains("code 11: try again later"))
        #expect(a.contains("2024-05-01 14:07:00.000 UTC"))   // the first failure, t0 + 420 s
        #expect(a.contains("duration 6 min 10 s"))

        // Axis: the range is 30 s … 500 s with 5% margins → 2-minute ticks, UTC, date once.
        #expect(a.contains(">14:02</text>"))
        #expect(a.contains(">14:04</text>"))
        #expect(a.contains(">14:08</text>"))
        #expect(count(a, ">2024-05-01</text>") == 1)
        #expect(a.contains("time (UTC)"))
    }

    @Test func timelineEscapeCoversXMLAndControlCharacters() {
        #expect(timelineEscape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;")
        #expect(timelineEscape("x\u{1}y\nz") == "x\u{FFFD}y&#10;z")
        #expect(timelineEscape("plain ünïcode") == "plain ünïcode")
    }

    @Test func emptyInputSaysSo() {
        let page = TimelineRenderer.html(title: "empty", lanes: .pod, events: [], from: nil, to: nil)
        #expect(page.contains("No events in range"))
        #expect(!page.contains("<svg"))
        #expect(page.hasSuffix("</html>\n"))

        let ranged = TimelineRenderer.html(title: "empty", lanes: .ip, events: [], from: t0, to: t0 + 60 * s)
        #expect(ranged.contains("No events in range (2024-05-01 14:00:00.000 – 2024-05-01 14:01:00.000 UTC)"))
    }

    @Test func eventsOutsideTheRangeLeaveItEmpty() {
        let page = TimelineRenderer.html(title: "t", lanes: .pod, events: fixed, from: t0 - 7200 * s, to: t0 - 3600 * s)
        #expect(page.contains("No events in range (2024-05-01 12:00:00.000 – 2024-05-01 13:00:00.000 UTC)"))
        #expect(page.contains("9 events outside it"))
        #expect(!page.contains("<svg"))

        let backwards = TimelineRenderer.html(title: "t", lanes: .pod, events: fixed, from: t0 + 60 * s, to: t0)
        #expect(backwards.contains("the range ends before it starts"))

        // After every event but one attachment still open (dns, from 60 s): that one is in range.
        let later = TimelineRenderer.html(title: "t", lanes: .pod, events: fixed, from: t0 + 3600 * s, to: t0 + 7200 * s)
        #expect(attributes(later, after: "<g class=\"lane\"", "data-lane") == ["kube-system/dns"])
        #expect(later.contains("1 pod · 1 attachment (1 still attached at the end)"))
    }

    @Test func anIntervalOverlappingTheRangeIsClippedNotDropped() {
        // attached at 30 s, detached at 400 s; the range is 100…200 s: the bar spans it entirely.
        let page = TimelineRenderer.html(title: "t", lanes: .pod, events: fixed, from: t0 + 100 * s, to: t0 + 200 * s)
        let web = laneBlocks(page).first { $0.contains("data-lane=\"default/web-1\"") }
        #expect(web != nil)
        #expect(attributes(web ?? "", after: "<g class=\"bar", "x") == ["270"])
        #expect(attributes(web ?? "", after: "<g class=\"bar", "width") == ["960"])
        #expect(!(web ?? "").contains("marker"))
        // The x lane: a crash recovery at 120 s, and the bar from 200 s starts at the right edge.
        #expect(page.contains("3 pods"))
    }

    @Test func oneEvent() {
        let page = TimelineRenderer.html(title: "one", lanes: .ip,
                                         events: [ev("10.1.0.7", 0, .failure, "eth0 dead", "code 7")],
                                         from: nil, to: nil)
        #expect(count(page, "<g class=\"lane\"") == 1)
        #expect(count(page, "<g class=\"marker failure\">") == 1)
        #expect(page.contains("1 IP address · 0 attachments"))
        #expect(page.contains(">IP address</text>"))
        // ±1 s around the event: ticks every 500 ms with milliseconds.
        #expect(page.contains(">14:00:00.000</text>"))
        #expect(page.contains(">13:59:59.500</text>"))
        // The marker is in the middle of the plot.
        #expect(attributes(page, after: "<g class=\"marker failure\">", "cx") == ["750"])
    }

    @Test func aLoneAttachStartRunsToTheRightEdgeAndALoneEndFromTheLeft() {
        let events = [ev("p/a", 10, .attachStart, "eth0 1"), ev("p/b", 20, .attachEnd, "eth0 2"), ev("p/c", 30, .failure, "eth0 3")]
        let page = TimelineRenderer.html(title: "t", lanes: .pod, events: events, from: nil, to: nil)
        let lanes = laneBlocks(page)
        // b was attached before the events given, so it appears first (at the left edge).
        #expect(attributes(page, after: "<g class=\"lane\"", "data-lane") == ["p/b", "p/a", "p/c"])
        #expect(lanes.count == 3)
        // a: open, ends at the plot's right edge (1230).
        let ax = Double(attributes(lanes[1], after: "<g class=\"bar open\">", "x").first ?? "") ?? 0
        let aw = Double(attributes(lanes[1], after: "<g class=\"bar open\">", "width").first ?? "") ?? 0
        #expect(abs(ax + aw - 1230) < 0.11)
        #expect(lanes[1].contains("still attached at the end of the range"))
        // b: began before the events given, starts at the left edge (270).
        #expect(attributes(lanes[0], after: "<g class=\"bar\">", "x") == ["270"])
        #expect(lanes[0].contains("attached before the first event given"))
    }

    @Test func thousandLanesAreCappedInOrderOfFirstAppearance() {
        var events: [TimelineEvent] = []
        // Given in reverse order of time: the renderer sorts by first appearance, not input order.
        for i in (0..<1000).reversed() {
            events.append(ev("ns/pod-\(i)", Int64(i), .attachStart, "eth0 \(i)"))
            events.append(ev("ns/pod-\(i)", Int64(i) + 500, .attachEnd, "eth0 \(i)"))
        }
        let page = TimelineRenderer.html(title: "many", lanes: .pod, events: events, from: nil, to: nil)
        #expect(count(page, "<g class=\"lane\"") == TimelineRenderer.maxLanes)
        let names = attributes(page, after: "<g class=\"lane\"", "data-lane")
        #expect(names.first == "ns/pod-0")
        #expect(names.last == "ns/pod-499")
        #expect(page.contains("1000 pods · 1000 attachments"))
        #expect(page.contains("Showing the first 500 of 1000 lanes"))
        #expect(page.contains("500 lanes (500 attachments and markers) left out"))
        #expect(page == TimelineRenderer.html(title: "many", lanes: .pod, events: events, from: nil, to: nil))
        write(page, to: "/tmp/skein-timeline-1000.html")
    }

    @Test func overlappingIntervalsInOneLaneAreStacked() {
        let events = [
            ev("ns/multi", 0, .attachStart, "eth0 m"),
            ev("ns/multi", 5, .attachStart, "net1 m"),
            ev("ns/multi", 10, .attachEnd, "eth0 m"),
            ev("ns/multi", 12, .attachStart, "net2 m"),
            ev("ns/multi", 15, .attachEnd, "net1 m"),
            ev("ns/multi", 14, .failure, "net1 m", "kernel said no"),
            ev("ns/multi", 20, .attachEnd, "net2 m"),
            ev("ns/other", 1, .attachStart, "eth0 o"),
        ]
        let page = TimelineRenderer.html(title: "t", lanes: .pod, events: events, from: nil, to: nil)
        let lanes = laneBlocks(page)
        #expect(lanes.count == 2)
        let ys = attributes(lanes[0], after: "<g class=\"bar", "y").compactMap(Double.init)
        #expect(ys.count == 3)
        // eth0 [0,10] row 0, net1 [5,15] row 1, net2 [12,20] back in row 0.
        #expect(ys[0] == ys[2])
        #expect(ys[1] == ys[0] + 16)
        // The lane is two rows tall (2 × 16 + 2 × 5), the next one starts below it.
        #expect(attributes(lanes[0], after: "<g class=\"lane\"", "height") == ["42"])
        #expect(attributes(lanes[1], after: "<g class=\"lane\"", "y") == ["42"])
        // The failure of net1 sits on net1's row.
        let cy = attributes(lanes[0], after: "<g class=\"marker failure\">", "cy").compactMap(Double.init)
        #expect(cy == [ys[1] + 6])
    }

    @Test func ticksAdaptToTheSpan() {
        func page(_ span: Int64) -> String {
            TimelineRenderer.html(title: "t", lanes: .pod,
                                  events: [TimelineEvent(lane: "a", timeNs: t0, kind: .attachStart, label: "x"),
                                           TimelineEvent(lane: "a", timeNs: t0 + span, kind: .attachEnd, label: "x")],
                                  from: t0, to: t0 + span)
        }
        // 5 ms: 1 ms ticks with milliseconds.
        #expect(page(5_000_000).contains(">14:00:00.003</text>"))
        // 50 µs: microsecond ticks, with the date and minute as context.
        let micro = page(50_000)
        #expect(micro.contains(">00.000010</text>"))
        #expect(micro.contains(">2024-05-01 14:00</text>"))
        // 40 s: 5 s ticks.
        #expect(page(40 * s).contains(">14:00:35</text>"))
        // 6 hours: 1 h ticks.
        #expect(page(6 * 3600 * s).contains(">17:00</text>"))
        // Across midnight: the date appears again when it changes.
        let night = page(16 * 3600 * s)
        #expect(night.contains(">2024-05-02</text>"))
        // 30 days: weekly date ticks.
        let month = page(30 * 86_400 * s)
        #expect(month.contains(">2024-05-09</text>"))
        #expect(month.contains(">2024-05-30</text>"))
        // Leap day.
        let leap: Int64 = 951_782_400 * s
        let lp = TimelineRenderer.html(title: "t", lanes: .pod,
                                       events: [TimelineEvent(lane: "a", timeNs: leap, kind: .gc, label: "x")],
                                       from: leap - 3600 * s, to: leap + 3600 * s)
        #expect(lp.contains(">2000-02-29</text>"))
        #expect(lp.contains("2000-02-29 00:00:00.000 UTC"))
    }

    @Test func writesASampleToLookAt() throws {
        var events: [TimelineEvent] = []
        let pods = ["default/web-7c9f6b5d8-2xkqp", "default/web-7c9f6b5d8-9hz4t", "kube-system/coredns-5d78c9869d-abcde",
                    "payments/api-0", "payments/api-1", "payments/worker-6f8d9-qq2lm", "monitoring/node-exporter-xk2p9",
                    "batch/report-28592140-xj7vd", "batch/report-28592200-mm3kd", "default/a-pod-with-a-very-long-name-that-will-not-fit-in-the-gutter",
                    "ingress/nginx-controller-7d9c5", "dev/<script>alert(1)</script>"]
        var ip = 2
        func add(_ pod: Int, _ start: Int64, _ end: Int64?, ifname: String = "eth0", cid: String, endKind: TimelineEvent.Kind = .attachEnd) {
            let label = "\(ifname) \(cid)"
            let detail = "pod \(pods[pod])\nnetwork skein-br0\nips 10.22.0.\(ip)/24\nmac 0a:58:0a:16:00:\(String(ip, radix: 16))"
            ip += 1
            events.append(TimelineEvent(lane: pods[pod], timeNs: t0 + start * s, kind: .attachStart, label: label, detail: detail + "\nadd took 84 ms"))
            if let end { events.append(TimelineEvent(lane: pods[pod], timeNs: t0 + end * s, kind: endKind, label: label, detail: "cause \(endKind == .gc ? "gc" : "request")")) }
        }
        add(0, 10, 3000, cid: "3f2a9c1b0d4e")
        add(0, 3060, nil, cid: "9b1c22aa01f3")
        add(1, 40, nil, cid: "77de01c9aa02")
        add(2, 5, nil, cid: "c0ffee000001")
        add(2, 5, nil, ifname: "net1", cid: "c0ffee000001")
        add(3, 600, 2400, cid: "aa00bb11cc22")
        add(3, 1800, 3500, ifname: "net1", cid: "aa00bb11cc22")
        add(4, 700, 1500, cid: "dd33ee44ff55", endKind: .gc)
        events.append(TimelineEvent(lane: pods[4], timeNs: t0 + 1490 * s, kind: .failure, label: "eth0 dd33ee44ff55",
                                    detail: "delete failed: code 11: link busy"))
        add(5, 100, 200, cid: "1234567890ab")
        events.append(TimelineEvent(lane: pods[5], timeNs: t0 + 205 * s, kind: .failure, label: "eth0 1234567890ac",
                                    detail: "code 999: RTNETLINK answers: File exists"))
        events.append(TimelineEvent(lane: pods[5], timeNs: t0 + 260 * s, kind: .crashRecovered, label: "eth0 1234567890ad",
                                    detail: "add-before-outcome: torn down, 10.22.0.40 released"))
        add(5, 300, nil, cid: "1234567890ae")
        add(6, 0, nil, cid: "feedbeef0001")
        add(7, 1200, 1260, cid: "batch0000001")
        add(8, 2400, 2470, cid: "batch0000002")
        add(9, 900, 2900, cid: "longlonglong")
        events.append(TimelineEvent(lane: pods[10], timeNs: t0 + 2000 * s, kind: .refused, label: "eth0 ingress00001",
                                    detail: "code 999: no free address in 10.22.0.0/24"))
        events.append(TimelineEvent(lane: pods[10], timeNs: t0 + 2100 * s, kind: .refused, label: "eth0 ingress00001",
                                    detail: "code 999: no free address in 10.22.0.0/24"))
        add(10, 2300, nil, cid: "ingress00001")
        add(11, 1000, 1100, cid: "<b>&amp;\"")

        let page = TimelineRenderer.html(title: "node-a: pods, 14:00–15:00 UTC", lanes: .pod, events: events, from: nil, to: nil)
        #expect(count(page, "<g class=\"lane\"") == pods.count)
        #expect(!page.contains("<script>alert"))
        write(page, to: "/tmp/skein-timeline-sample.html")

        // The same kind of history by IP address of the pool, over a few seconds.
        var byIP: [TimelineEvent] = []
        for i in 0..<40 {
            let at = t0 + Int64(i) * 97_000_000
            let ipLane = "skein-br0 10.22.0.\(2 + i % 16)"
            byIP.append(TimelineEvent(lane: ipLane, timeNs: at, kind: .attachStart, label: "pod-\(i) eth0", detail: "ns/pod-\(i)"))
            if i % 3 != 0 { byIP.append(TimelineEvent(lane: ipLane, timeNs: at + 900_000_000, kind: .attachEnd, label: "pod-\(i) eth0")) }
            if i % 7 == 0 { byIP.append(TimelineEvent(lane: ipLane, timeNs: at + 50_000_000, kind: .failure, label: "pod-\(i) eth0", detail: "code 11")) }
        }
        let ipPage = TimelineRenderer.html(title: "skein-br0 by IP", lanes: .ip, events: byIP, from: nil, to: nil)
        #expect(ipPage.contains("16 IP addresses"))
        write(ipPage, to: "/tmp/skein-timeline-ip.html")
    }

    private func write(_ page: String, to path: String) {
        guard let f = fopen(path, "w") else { Issue.record("cannot write \(path)"); return }
        let bytes = Array(page.utf8)
        #expect(fwrite(bytes, 1, bytes.count, f) == bytes.count)
        fclose(f)
    }
}

private extension String {
    func removing(_ target: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) { out += rest[..<r.lowerBound]; rest = rest[r.upperBound...] }
        return out + rest
    }
}
