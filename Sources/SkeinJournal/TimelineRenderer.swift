// The picture behind `skein-journal audit timeline`: one self-contained HTML file with inline SVG
// (no external resources, no JavaScript), one lane per pod or per IP address, attachment intervals
// as bars, failures/refusals/crash recoveries/GC releases as markers, a UTC time axis, a legend and
// a summary. Pure: no Foundation, no clock, no randomness; the same input gives the same bytes.
//
// It knows nothing of the journal's records: the caller maps its history to `TimelineEvent`s and
// chooses what a lane is (`lane` holds "namespace/name" for pod lanes, "network ip" for IP lanes).

/// One point on the timeline.
///
/// Pairing: an `attachStart` opens an interval in (`lane`, `label`); the next `attachEnd`, `gc` or
/// `crashRecovered` with the same lane and label closes it (the oldest open one first), so `label`
/// must name the attachment the same way on all its events (e.g. "eth0 3f2a9c1b0d4e"). An
/// `attachEnd` with nothing open is drawn from the left edge (it started before the events given);
/// an interval never closed runs to the right edge. `failure` and `refused` close nothing.
public struct TimelineEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case attachStart, attachEnd, failure, refused, gc, crashRecovered
    }

    public var lane: String
    public var timeNs: Int64
    public var kind: Kind
    /// Short name of the attachment (the pairing key within a lane); shown on the bar when it fits.
    public var label: String
    /// Free text for the tooltip (pod, IPs, code and message, duration…); may span lines.
    public var detail: String

    public init(lane: String, timeNs: Int64, kind: Kind, label: String, detail: String = "") {
        self.lane = lane
        self.timeNs = timeNs
        self.kind = kind
        self.label = label
        self.detail = detail
    }
}

public enum TimelineRenderer {
    /// What a lane is: a pod ("namespace/name") or an IP address of a pool.
    public enum LaneMode: Sendable { case pod, ip }

    /// Lanes beyond this many (in order of first appearance) are left out, with a note.
    public static let maxLanes = 500
    /// Overlapping intervals in one lane are stacked in at most this many rows.
    static let maxRows = 12

    /// Renders the timeline of `events` between `from` and `to` (nanoseconds since the epoch, UTC;
    /// either may be nil: the range then ends at the first/last event, with a little margin).
    public static func html(title: String, lanes: LaneMode, events: [TimelineEvent],
                            from: Int64?, to: Int64?) -> String {
        var b = Builder(title: title, mode: lanes, events: events, from: from, to: to)
        return b.render()
    }
}

// MARK: - Model

private struct Interval {
    var lane: String
    var label: String
    var start: Int64?          // nil: began before the events given
    var end: Int64?            // nil: still attached
    var startDetail: String
    var endDetail: String
    var endKind: TimelineEvent.Kind?
    var order: Int             // input position of the event that created it
    var row = 0
}

private struct Marker {
    var lane: String
    var time: Int64
    var kind: TimelineEvent.Kind
    var label: String
    var detail: String
    var order: Int
    var closed: Int?           // the interval this event ended, if any
}

private struct Lane {
    var name: String
    var first: Int64
    var order: Int
    var intervals: [Int] = []
    var markers: [Int] = []
    var rows = 1
}

// MARK: - Layout constants

private enum L {
    static let width = 1280.0
    static let gutter = 270.0            // x where the plot starts
    static let plotRight = 1230.0        // x where the plot ends
    static let axisHeight = 46.0
    static let rowHeight = 16.0
    static let barHeight = 12.0
    static let lanePad = 5.0
    static let laneLabelChars = 36       // monospace 11px ≈ 6.6px per character
    static let barCharWidth = 6.0        // monospace 10px
    static let minTickSpacing = 105.0    // px between tick labels
    static let markerGap = 12.0          // px between markers in one row
    static let barColor = "#3b7dd8"
    static let barOpenColor = "#8fb5ea"
    static let failColor = "#d62728"
    static let crashColor = "#f08c00"
    static let gcColor = "#7b3fa0"
}

// MARK: - Builder

private struct Builder {
    let title: String
    let mode: TimelineRenderer.LaneMode
    let events: [TimelineEvent]
    let from: Int64?
    let to: Int64?

    var intervals: [Interval] = []
    var markers: [Marker] = []
    var lo: Int64 = 0
    var hi: Int64 = 0
    var out = ""

    init(title: String, mode: TimelineRenderer.LaneMode, events: [TimelineEvent], from: Int64?, to: Int64?) {
        self.title = title
        self.mode = mode
        self.events = events
        self.from = from
        self.to = to
    }

    var laneNoun: (one: String, many: String) { mode == .pod ? ("pod", "pods") : ("IP address", "IP addresses") }

    // MARK: pairing

    mutating func pair() {
        let sorted = events.enumerated().sorted { ($0.element.timeNs, $0.offset) < ($1.element.timeNs, $1.offset) }
        var open: [String: [Int]] = [:]   // lane NUL label → open interval indices, oldest first
        for (order, e) in sorted {
            let key = e.lane + "\u{0}" + e.label
            switch e.kind {
            case .attachStart:
                open[key, default: []].append(intervals.count)
                intervals.append(Interval(lane: e.lane, label: e.label, start: e.timeNs, end: nil,
                                          startDetail: e.detail, endDetail: "", endKind: nil, order: order))
            case .attachEnd, .gc, .crashRecovered:
                var closed: Int?
                if var list = open[key], !list.isEmpty {
                    let i = list.removeFirst()
                    open[key] = list
                    intervals[i].end = e.timeNs
                    intervals[i].endDetail = e.detail
                    intervals[i].endKind = e.kind
                    closed = i
                } else if e.kind == .attachEnd {
                    intervals.append(Interval(lane: e.lane, label: e.label, start: nil, end: e.timeNs,
                                              startDetail: "", endDetail: e.detail, endKind: .attachEnd, order: order))
                }
                if e.kind != .attachEnd {
                    markers.append(Marker(lane: e.lane, time: e.timeNs, kind: e.kind, label: e.label,
                                          detail: e.detail, order: order, closed: closed))
                }
            case .failure, .refused:
                markers.append(Marker(lane: e.lane, time: e.timeNs, kind: e.kind, label: e.label,
                                      detail: e.detail, order: order, closed: nil))
            }
        }
    }

    /// The range shown: explicit bounds as given, missing ones from the events with a 5% margin.
    mutating func window() -> Bool {
        let times = events.map(\.timeNs)
        guard let minT = times.min() else {
            lo = from ?? 0; hi = to ?? lo
            return false
        }
        var l = from ?? minT
        var h = to ?? max(l, times.filter { $0 >= l }.max() ?? l)
        if from == nil && l > h { l = h }   // every event is after `to`
        let span = sat(h, minus: l)
        let pad = span > 0 ? max(span / 20, 1) : 1_000_000_000
        if from == nil { l = sat(l, minus: pad) }
        if to == nil { h = sat(h, plus: pad) }
        lo = l; hi = h
        return lo <= hi
    }

    // MARK: render

    mutating func render() -> String {
        pair()
        let validRange = window()
        let span = max(sat(hi, minus: lo), 1)

        func visible(_ iv: Interval) -> Bool {
            (iv.start ?? Int64.min) <= hi && (iv.end ?? Int64.max) >= lo
        }
        // Lanes in order of first appearance within the range.
        var laneIndex: [String: Int] = [:]
        var lanes: [Lane] = []
        func note(_ name: String, _ t: Int64, _ order: Int) -> Int {
            if let i = laneIndex[name] {
                if (t, order) < (lanes[i].first, lanes[i].order) { lanes[i].first = t; lanes[i].order = order }
                return i
            }
            laneIndex[name] = lanes.count
            lanes.append(Lane(name: name, first: t, order: order))
            return lanes.count - 1
        }
        var shownIntervals = 0, stillOpen = 0
        if validRange {
            for (i, iv) in intervals.enumerated() where visible(iv) {
                let l = note(iv.lane, max(iv.start ?? lo, lo), iv.order)
                lanes[l].intervals.append(i)
                shownIntervals += 1
                if iv.end.map({ $0 > hi }) ?? true { stillOpen += 1 }
            }
            for (i, m) in markers.enumerated() where m.time >= lo && m.time <= hi {
                let l = note(m.lane, m.time, m.order)
                lanes[l].markers.append(i)
            }
        }
        lanes.sort { ($0.first, $0.order) < ($1.first, $1.order) }

        var counts: [TimelineEvent.Kind: Int] = [:]
        for l in lanes { for m in l.markers { counts[markers[m].kind, default: 0] += 1 } }

        let shownLanes = Array(lanes.prefix(TimelineRenderer.maxLanes))
        let leftOut = lanes.count - shownLanes.count

        header()
        if !validRange || lanes.isEmpty {
            emptyPage(validRange: validRange)
            return out
        }

        // Summary.
        let failures = counts[.failure] ?? 0, refused = counts[.refused] ?? 0
        let crashes = counts[.crashRecovered] ?? 0, gcs = counts[.gc] ?? 0
        out += "<p class=\"range\">\(esc(stamp(lo, span: span))) – \(esc(stamp(hi, span: span))) UTC"
        out += " (\(esc(duration(span))))</p>\n"
        out += "<p class=\"summary\">"
        out += "\(lanes.count) \(lanes.count == 1 ? laneNoun.one : laneNoun.many) · "
        out += "\(shownIntervals) attachment\(shownIntervals == 1 ? "" : "s") (\(stillOpen) still attached at the end) · "
        out += "\(failures) failure\(failures == 1 ? "" : "s") · \(refused) refused · "
        out += "\(crashes) crash recover\(crashes == 1 ? "y" : "ies") · \(gcs) GC release\(gcs == 1 ? "" : "s")</p>\n"
        if leftOut > 0 {
            var leftEvents = 0
            for l in lanes.dropFirst(shownLanes.count) { leftEvents += l.intervals.count + l.markers.count }
            out += "<p class=\"note\">Showing the first \(shownLanes.count) of \(lanes.count) lanes by first appearance; "
            out += "\(leftOut) lane\(leftOut == 1 ? "" : "s") (\(leftEvents) attachments and markers) left out. "
            out += "Narrow the time range or filter by namespace, pod, network or IP to see them.</p>\n"
        }
        legend()

        let ticks = axisTicks(span: span)
        axis(ticks: ticks, span: span)

        // Stack each lane's intervals (earliest start first, lowest free row).
        var laid = shownLanes
        for li in laid.indices {
            let ids = laid[li].intervals.sorted {
                (max(intervals[$0].start ?? lo, lo), intervals[$0].order) < (max(intervals[$1].start ?? lo, lo), intervals[$1].order)
            }
            var rowEnd: [Int64] = []
            for i in ids {
                let s = max(intervals[i].start ?? lo, lo)
                let e = intervals[i].end ?? Int64.max
                var row = rowEnd.firstIndex { $0 < s }
                if row == nil {
                    if rowEnd.count < TimelineRenderer.maxRows { rowEnd.append(Int64.min); row = rowEnd.count - 1 }
                    else { row = rowEnd.indices.min { rowEnd[$0] < rowEnd[$1] } }
                }
                rowEnd[row!] = max(rowEnd[row!], e)
                intervals[i].row = row!
            }
            laid[li].rows = max(1, rowEnd.count)
        }

        // Lanes.
        var height = 0.0
        for l in laid { height += Double(l.rows) * L.rowHeight + 2 * L.lanePad }
        out += "<div class=\"lanes\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(L.width))\" height=\"\(n(height + 1))\""
        out += " viewBox=\"0 0 \(n(L.width)) \(n(height + 1))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
        for t in ticks {
            let x = xOf(t.time, span: span)
            out += "<line x1=\"\(n(x))\" y1=\"0\" x2=\"\(n(x))\" y2=\"\(n(height))\" stroke=\"#e3e3e3\" stroke-width=\"1\"/>\n"
        }
        var y = 0.0
        for (li, lane) in laid.enumerated() {
            let h = Double(lane.rows) * L.rowHeight + 2 * L.lanePad
            out += "<g class=\"lane\" data-lane=\"\(esc(lane.name))\">"
            out += "<rect x=\"0\" y=\"\(n(y))\" width=\"\(n(L.width))\" height=\"\(n(h))\" fill=\"\(li % 2 == 0 ? "#f6f8fb" : "#ffffff")\" fill-opacity=\"0.85\"/>"
            out += "<text x=\"8\" y=\"\(n(y + L.lanePad + L.rowHeight / 2 + 4))\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" fill=\"#222\">"
            out += "<title>\(esc(lane.name))</title>\(esc(truncate(lane.name, L.laneLabelChars)))</text>\n"
            // Markers are placed first so that bar labels can keep clear of them; drawn last, on top.
            var lastX: [Int: Double] = [:]   // per row: where the previous marker was drawn
            var placed: [(marker: Int, x: Double, row: Int)] = []
            for m in lane.markers.sorted(by: { (markers[$0].time, markers[$0].order) < (markers[$1].time, markers[$1].order) }) {
                let p = place(markers[m], laneIntervals: lane.intervals, span: span, lastX: &lastX)
                placed.append((m, p.x, p.row))
            }
            for i in lane.intervals {
                bar(intervals[i], laneY: y, span: span, markerXs: placed.filter { $0.row == intervals[i].row }.map(\.x).sorted())
            }
            for p in placed {
                marker(markers[p.marker], x: p.x, y: y + L.lanePad + Double(p.row) * L.rowHeight + L.rowHeight / 2, span: span)
            }
            out += "</g>\n"
            y += h
        }
        out += "<line x1=\"\(n(L.gutter))\" y1=\"0\" x2=\"\(n(L.gutter))\" y2=\"\(n(height))\" stroke=\"#999\" stroke-width=\"1\"/>\n"
        out += "</svg></div>\n"
        if leftOut > 0 {
            out += "<p class=\"note\">… \(leftOut) more lane\(leftOut == 1 ? "" : "s") left out.</p>\n"
        }
        out += "</body>\n</html>\n"
        return out
    }

    // MARK: pieces

    mutating func header() {
        out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<title>\(esc(title))</title>\n<style>\n"
        out += "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:16px;color:#222;background:#fff}\n"
        out += "h1{font-size:18px;margin:0 0 6px}p{margin:4px 0;font-size:13px}.note{color:#8a5a00}\n"
        out += ".axis{position:sticky;top:0;background:#fff;z-index:1;border-bottom:1px solid #999}\n"
        out += ".bar:hover rect,.marker:hover>*{stroke:#000;stroke-width:1.5}\n"
        out += ".lane:hover>rect:first-child{fill:#fff6d6}\nsvg{display:block}\n"
        out += "</style>\n</head>\n<body>\n<h1>\(esc(title))</h1>\n"
    }

    mutating func emptyPage(validRange: Bool) {
        if !validRange && !events.isEmpty {
            out += "<p class=\"empty\">No events in range: the range ends before it starts"
            out += " (\(esc(stamp(lo, span: msPrecision))) – \(esc(stamp(hi, span: msPrecision))) UTC).</p>\n"
        } else if events.isEmpty {
            out += "<p class=\"empty\">No events in range"
            if from != nil || to != nil {
                out += " (\(from.map { esc(stamp($0, span: msPrecision)) } ?? "…") – \(to.map { esc(stamp($0, span: msPrecision)) } ?? "…") UTC)"
            }
            out += ": there is nothing to draw.</p>\n"
        } else {
            let span = max(sat(hi, minus: lo), 1)
            out += "<p class=\"empty\">No events in range (\(esc(stamp(lo, span: span))) – \(esc(stamp(hi, span: span))) UTC).</p>\n"
            let times = events.map(\.timeNs)
            out += "<p>\(events.count) event\(events.count == 1 ? "" : "s") outside it, from \(esc(stamp(times.min()!, span: span)))"
            out += " to \(esc(stamp(times.max()!, span: span))) UTC.</p>\n"
        }
        out += "</body>\n</html>\n"
    }

    mutating func legend() {
        out += "<div class=\"legend\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(L.width))\" height=\"26\" viewBox=\"0 0 \(n(L.width)) 26\""
        out += " font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" fill=\"#222\">\n"
        var x = 4.0
        func item(_ shape: String, _ text: String, _ widthChars: Int) -> String {
            defer { x += 44 + Double(widthChars) * 7 }
            return "<g class=\"legend-item\">\(shape)<text x=\"\(n(x + 34))\" y=\"17\">\(esc(text))</text></g>\n"
        }
        var s = ""
        s += item("<rect x=\"\(n(x))\" y=\"7\" width=\"22\" height=\"12\" rx=\"2\" fill=\"\(L.barColor)\"/>", "attached", 8)
        s += item("<rect x=\"\(n(x))\" y=\"7\" width=\"22\" height=\"12\" rx=\"2\" fill=\"\(L.barOpenColor)\"/>"
                  + arrowRight(x + 22, 13), "still attached", 14)
        s += item(markerShape(.failure, x + 11, 13), "failure", 7)
        s += item(markerShape(.refused, x + 11, 13), "refused", 7)
        s += item(markerShape(.crashRecovered, x + 11, 13), "crash recovery", 14)
        s += item(markerShape(.gc, x + 11, 13), "GC release", 10)
        s += "<text x=\"\(n(x + 10))\" y=\"17\" fill=\"#666\">hover for details</text>\n"
        out += s
        out += "</svg></div>\n"
    }

    mutating func axis(ticks: [Tick], span: Int64) {
        out += "<div class=\"axis\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(L.width))\" height=\"\(n(L.axisHeight))\""
        out += " viewBox=\"0 0 \(n(L.width)) \(n(L.axisHeight))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\" fill=\"#222\">\n"
        out += "<text x=\"8\" y=\"16\" font-weight=\"bold\">\(esc(laneNoun.one))</text>"
        out += "<text x=\"\(n(L.gutter - 8))\" y=\"16\" text-anchor=\"end\" fill=\"#666\">time (UTC)</text>\n"
        out += "<line x1=\"\(n(L.gutter))\" y1=\"\(n(L.axisHeight - 1))\" x2=\"\(n(L.plotRight))\" y2=\"\(n(L.axisHeight - 1))\" stroke=\"#999\"/>\n"
        for t in ticks {
            let x = xOf(t.time, span: span)
            out += "<g class=\"tick\"><line x1=\"\(n(x))\" y1=\"\(n(L.axisHeight - 7))\" x2=\"\(n(x))\" y2=\"\(n(L.axisHeight - 1))\" stroke=\"#666\"/>"
            out += "<text x=\"\(n(x))\" y=\"16\" text-anchor=\"middle\">\(esc(t.label))</text>"
            if !t.context.isEmpty {
                out += "<text x=\"\(n(x))\" y=\"30\" text-anchor=\"middle\" fill=\"#666\" font-size=\"10\">\(esc(t.context))</text>"
            }
            out += "</g>\n"
        }
        out += "</svg></div>\n"
    }

    mutating func bar(_ iv: Interval, laneY: Double, span: Int64, markerXs: [Double]) {
        let s = max(iv.start ?? lo, lo), e = min(iv.end ?? hi, hi)
        let x0 = xOf(s, span: span)
        var x1 = xOf(e, span: span)
        if x1 - x0 < 3 { x1 = min(x0 + 3, L.plotRight + 3) }
        let y = laneY + L.lanePad + Double(iv.row) * L.rowHeight + (L.rowHeight - L.barHeight) / 2
        let open = iv.end.map { $0 > hi } ?? true
        let before = iv.start.map { $0 < lo } ?? true
        var tip = iv.label + "\n"
        if let st = iv.start {
            tip += "attached " + stamp(st, span: span) + " UTC" + (iv.startDetail.isEmpty ? "" : "\n  " + indent(iv.startDetail)) + "\n"
        } else {
            tip += "attached before the first event given\n"
        }
        if let en = iv.end {
            let how = iv.endKind == .gc ? "released by GC " : iv.endKind == .crashRecovered ? "recovered after a crash " : "detached "
            tip += how + stamp(en, span: span) + " UTC" + (iv.endDetail.isEmpty ? "" : "\n  " + indent(iv.endDetail)) + "\n"
        } else {
            tip += "still attached at the end of the range\n"
        }
        if let st = iv.start, let en = iv.end { tip += "duration " + duration(sat(en, minus: st)) }
        else if let st = iv.start { tip += "attached for at least " + duration(sat(hi, minus: st)) }
        else if let en = iv.end, before { tip += "attached for at least " + duration(sat(en, minus: lo)) }
        if tip.hasSuffix("\n") { tip.removeLast() }
        let cls = open ? "bar open" : "bar"
        out += "<g class=\"\(cls)\"><title>\(esc(tip))</title>"
        out += "<rect x=\"\(n(x0))\" y=\"\(n(y))\" width=\"\(n(x1 - x0))\" height=\"\(n(L.barHeight))\" rx=\"2\""
        out += " fill=\"\(open ? L.barOpenColor : L.barColor)\" stroke=\"#fff\" stroke-width=\"0.75\"/>"
        if open { out += arrowRight(x1, y + L.barHeight / 2) }
        if before { out += arrowLeft(x0, y + L.barHeight / 2) }
        // The label goes inside the bar, after any marker it would run into.
        var start = x0 + 4 + (before ? 6 : 0)
        let limit = x1 - 4 - (open ? 6 : 0)
        let full = Double(iv.label.count) * L.barCharWidth
        for mx in markerXs where mx + 7 > start {
            guard mx - 7 < start + min(full, limit - start) else { break }
            start = mx + 8
        }
        let room = limit - start
        if room >= Double(min(iv.label.count, 4)) * L.barCharWidth {
            let chars = Int(room / L.barCharWidth)
            let text = truncate(iv.label, chars)
            out += "<text x=\"\(n(start))\" y=\"\(n(y + L.barHeight - 2.5))\" font-size=\"10\""
            out += " font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" fill=\"\(open ? "#0b2a55" : "#fff")\">\(esc(text))</text>"
        }
        out += "</g>\n"
    }

    /// Where a marker goes: on the row of the interval it belongs to (same label, covering its
    /// time), else the lane's first row. Markers closer than `markerGap` to the previous one in
    /// their row are nudged right so that each stays visible and hoverable (the tooltip keeps the
    /// exact time); a burst overlaps rather than marching away from its time.
    func place(_ m: Marker, laneIntervals: [Int], span: Int64, lastX: inout [Int: Double]) -> (x: Double, row: Int) {
        var row = 0
        if let c = m.closed {
            row = intervals[c].row
        } else if let hit = laneIntervals.first(where: {
            let iv = intervals[$0]
            return iv.label == m.label && (iv.start ?? Int64.min) <= m.time && (iv.end ?? Int64.max) >= m.time
        }) {
            row = intervals[hit].row
        }
        var x = xOf(m.time, span: span)
        if let prev = lastX[row], x < prev + L.markerGap, prev + L.markerGap - x <= 2 * L.markerGap {
            x = min(prev + L.markerGap, L.plotRight + L.markerGap)
        }
        lastX[row] = x
        return (x, row)
    }

    mutating func marker(_ m: Marker, x: Double, y: Double, span: Int64) {
        let name: String
        switch m.kind {
        case .failure: name = "failure"
        case .refused: name = "refused"
        case .crashRecovered: name = "crash recovery"
        case .gc: name = "GC release"
        case .attachStart: name = "attached"
        case .attachEnd: name = "detached"
        }
        var tip = name + ": " + m.label + "\n" + stamp(m.time, span: span) + " UTC"
        if !m.detail.isEmpty { tip += "\n" + m.detail }
        out += "<g class=\"marker \(cssClass(m.kind))\"><title>\(esc(tip))</title>\(markerShape(m.kind, x, y))</g>\n"
    }

    // MARK: geometry

    func xOf(_ t: Int64, span: Int64) -> Double {
        let c = min(max(t, lo), hi)
        let f = Double(sat(c, minus: lo)) / Double(span)
        return L.gutter + f * (L.plotRight - L.gutter)
    }

    func axisTicks(span: Int64) -> [Tick] {
        let maxTicks = max(2, Int((L.plotRight - L.gutter) / L.minTickSpacing))
        let step = tickSteps.first { span / $0.ns < Int64(maxTicks) } ?? tickSteps[tickSteps.count - 1]
        var first = floorDiv(lo, step.ns) * step.ns
        if first < lo { first = sat(first, plus: step.ns) }
        var ticks: [Tick] = []
        var lastContext = ""
        var t = first
        while t <= hi && ticks.count < 1000 {
            let label = step.label(t)
            let ctx = step.context(t)
            ticks.append(Tick(time: t, label: label, context: ctx != lastContext ? ctx : ""))
            lastContext = ctx
            let next = sat(t, plus: step.ns)
            if next == t { break }
            t = next
        }
        return ticks
    }
}

private struct Tick {
    var time: Int64
    var label: String
    var context: String
}

private struct TickStep {
    var ns: Int64
    var label: (Int64) -> String
    var context: (Int64) -> String
}

private let tickSteps: [TickStep] = {
    var steps: [TickStep] = []
    let dateCtx: (Int64) -> String = { date($0) }
    let minuteCtx: (Int64) -> String = { date($0) + " " + String(clock($0, digits: 0).prefix(5)) }
    // 1 ns … 500 ns, 1 µs … 500 µs, 1 ms … 500 ms
    var unit: Int64 = 1
    for decade in 0..<9 {
        for m: Int64 in [1, 2, 5] {
            let ns = unit * m
            if decade < 3 {
                steps.append(TickStep(ns: ns, label: { String(clock($0, digits: 9).dropFirst(6)) }, context: minuteCtx))
            } else if decade < 6 {
                steps.append(TickStep(ns: ns, label: { String(clock($0, digits: 6).dropFirst(6)) }, context: minuteCtx))
            } else {
                steps.append(TickStep(ns: ns, label: { clock($0, digits: 3) }, context: dateCtx))
            }
        }
        unit *= 10
    }
    let s: Int64 = 1_000_000_000
    for m: Int64 in [1, 2, 5, 10, 15, 30] {
        steps.append(TickStep(ns: m * s, label: { clock($0, digits: 0) }, context: dateCtx))
    }
    for m: Int64 in [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200] {
        steps.append(TickStep(ns: m * s, label: { String(clock($0, digits: 0).prefix(5)) }, context: dateCtx))
    }
    let day = 86_400 * s
    for m: Int64 in [1, 2, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650, 36500] {
        steps.append(TickStep(ns: m * day, label: { date($0) }, context: { _ in "" }))
    }
    return steps
}()

// MARK: - Shapes

private func cssClass(_ k: TimelineEvent.Kind) -> String {
    switch k {
    case .failure: return "failure"
    case .refused: return "refused"
    case .crashRecovered: return "crash"
    case .gc: return "gc"
    case .attachStart: return "start"
    case .attachEnd: return "end"
    }
}

private func markerShape(_ k: TimelineEvent.Kind, _ x: Double, _ y: Double) -> String {
    switch k {
    case .failure:
        return "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"5.5\" fill=\"\(L.failColor)\" stroke=\"#fff\" stroke-width=\"1\"/>"
            + "<path d=\"M\(n(x - 2.5)) \(n(y - 2.5))L\(n(x + 2.5)) \(n(y + 2.5))M\(n(x + 2.5)) \(n(y - 2.5))L\(n(x - 2.5)) \(n(y + 2.5))\" stroke=\"#fff\" stroke-width=\"1.5\"/>"
    case .refused:
        return "<path d=\"M\(n(x)) \(n(y - 6.5))L\(n(x + 6.5)) \(n(y))L\(n(x)) \(n(y + 6.5))L\(n(x - 6.5)) \(n(y))Z\" fill=\"#fff\" stroke=\"\(L.failColor)\" stroke-width=\"2\"/>"
            + "<path d=\"M\(n(x - 2.5)) \(n(y))L\(n(x + 2.5)) \(n(y))\" stroke=\"\(L.failColor)\" stroke-width=\"2\"/>"
    case .crashRecovered:
        return "<path d=\"M\(n(x)) \(n(y - 6.5))L\(n(x + 6)) \(n(y + 5))L\(n(x - 6)) \(n(y + 5))Z\" fill=\"\(L.crashColor)\" stroke=\"#fff\" stroke-width=\"1\"/>"
    case .gc:
        return "<rect x=\"\(n(x - 4.5))\" y=\"\(n(y - 4.5))\" width=\"9\" height=\"9\" fill=\"\(L.gcColor)\" stroke=\"#fff\" stroke-width=\"1\"/>"
    case .attachStart, .attachEnd:
        return "<path d=\"M\(n(x)) \(n(y - 6))L\(n(x)) \(n(y + 6))\" stroke=\"#333\" stroke-width=\"2\"/>"
    }
}

private func arrowRight(_ x: Double, _ y: Double) -> String {
    "<path d=\"M\(n(x - 1)) \(n(y - 6))L\(n(x + 6)) \(n(y))L\(n(x - 1)) \(n(y + 6))Z\" fill=\"\(L.barOpenColor)\"/>"
}

private func arrowLeft(_ x: Double, _ y: Double) -> String {
    "<path d=\"M\(n(x + 1)) \(n(y - 6))L\(n(x - 6)) \(n(y))L\(n(x + 1)) \(n(y + 6))Z\" fill=\"\(L.barColor)\"/>"
}

// MARK: - Text

/// XML-escapes text for element content and attribute values; drops characters XML 1.0 forbids.
func timelineEscape(_ s: String) -> String {
    var r = ""
    r.reserveCapacity(s.utf8.count)
    for u in s.unicodeScalars {
        switch u {
        case "&": r += "&amp;"
        case "<": r += "&lt;"
        case ">": r += "&gt;"
        case "\"": r += "&quot;"
        case "'": r += "&#39;"
        case "\n": r += "&#10;"
        case "\t": r += "&#9;"
        default:
            if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF { r.unicodeScalars.append("\u{FFFD}") }
            else { r.unicodeScalars.append(u) }
        }
    }
    return r
}

private func esc(_ s: String) -> String { timelineEscape(s) }

private func truncate(_ s: String, _ max: Int) -> String {
    guard s.count > max else { return s }
    guard max > 1 else { return "…" }
    return String(s.prefix(max - 1)) + "…"
}

private func indent(_ s: String) -> String {
    s.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  ")
}

/// A coordinate with one decimal, deterministic and locale-free.
private func n(_ v: Double) -> String {
    let t = Int((v * 10).rounded())
    let sign = t < 0 ? "-" : ""
    let a = t < 0 ? -t : t
    return a % 10 == 0 ? "\(sign)\(a / 10)" : "\(sign)\(a / 10).\(a % 10)"
}

// MARK: - Time

private func sat(_ a: Int64, minus b: Int64) -> Int64 {
    let (r, o) = a.subtractingReportingOverflow(b)
    return o ? (b < 0 ? Int64.max : Int64.min) : r
}

private func sat(_ a: Int64, plus b: Int64) -> Int64 {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? (b > 0 ? Int64.max : Int64.min) : r
}

private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

private func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// "YYYY-MM-DD" (proleptic Gregorian, UTC) of a time in ns since the epoch.
private func date(_ ns: Int64) -> String {
    let (y, m, d) = Timestamp.civil(fromDays: floorDiv(ns, 86_400_000_000_000))
    return "\(y < 0 ? "-" : "")\(pad(y < 0 ? -y : y, 4))-\(pad(m, 2))-\(pad(d, 2))"
}

/// "HH:MM:SS" with `digits` (0, 3, 6 or 9) fractional digits.
private func clock(_ ns: Int64, digits: Int) -> String {
    let inDay = ns - floorDiv(ns, 86_400_000_000_000) * 86_400_000_000_000
    let secs = inDay / 1_000_000_000
    let frac = inDay % 1_000_000_000
    var s = "\(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):\(pad(secs % 60, 2))"
    if digits > 0 {
        var div: Int64 = 1
        for _ in 0..<(9 - digits) { div *= 10 }
        s += "." + pad(frac / div, digits)
    }
    return s
}

private let msPrecision: Int64 = 10_000_000_000

/// A full timestamp: milliseconds, or micro/nanoseconds when the range is shorter than 10 s/10 ms.
private func stamp(_ ns: Int64, span: Int64) -> String {
    date(ns) + " " + clock(ns, digits: span >= 10_000_000_000 ? 3 : span >= 10_000_000 ? 6 : 9)
}

private func duration(_ ns: Int64) -> String {
    let us: Int64 = 1_000, ms: Int64 = 1_000_000, s: Int64 = 1_000_000_000
    let m = 60 * s, h = 60 * m, d = 24 * h
    func dec(_ v: Int64, _ unit: Int64, _ name: String) -> String {
        // one to three decimals, trailing zeros dropped
        let whole = v / unit
        var frac = (v % unit) * 1000 / unit
        var digits = 3
        while digits > 0 && frac % 10 == 0 { frac /= 10; digits -= 1 }
        return digits == 0 ? "\(whole) \(name)" : "\(whole).\(pad(frac, digits)) \(name)"
    }
    if ns < us { return "\(ns) ns" }
    if ns < ms { return dec(ns, us, "µs") }
    if ns < s { return dec(ns, ms, "ms") }
    if ns < m { return dec(ns, s, "s") }
    if ns < h { return "\(ns / m) min \(ns % m / s) s" }
    if ns < d { return "\(ns / h) h \(ns % h / m) min" }
    return "\(ns / d) d \(ns % d / h) h"
}
