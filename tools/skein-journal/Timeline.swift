import Glibc
import SkeinJournal

// `audit timeline`: renders the attachment history as one self-contained HTML/SVG file
// (TimelineRenderer in SkeinJournal does the drawing; this only writes it out).

/// Renders `events` and writes the page to `out` (nil or "-": stdout). A file is written next to
/// its destination and renamed over it, so a reader never sees half a page.
/// Returns the exit code: 0 written, 4 the output cannot be written.
func runTimeline(_ events: [TimelineEvent], title: String, out: String?, ipLanes: Bool,
                 from: Int64?, to: Int64?) -> Int32 {
    let page = TimelineRenderer.html(title: title, lanes: ipLanes ? .ip : .pod, events: events, from: from, to: to)
    let bytes = Array(page.utf8)
    func complain(_ what: String, _ path: String) -> Int32 {
        let reason = String(cString: strerror(errno))
        fputs("skein-journal: cannot \(what) \(path): \(reason)\n", stderr)
        return 4
    }
    guard let path = out, path != "-" else {
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, stdout) }
        guard written == bytes.count, fflush(stdout) == 0 else { return complain("write", "standard output") }
        return 0
    }
    let temp = path + ".tmp-\(getpid())"
    guard let file = fopen(temp, "w") else { return complain("write", path) }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    let flushed = fflush(file) == 0 && fsync(fileno(file)) == 0
    let closed = fclose(file) == 0
    guard written == bytes.count, flushed, closed else {
        let code = complain("write", temp)
        unlink(temp)
        return code
    }
    guard rename(temp, path) == 0 else {
        let code = complain("rename \(temp) to", path)
        unlink(temp)
        return code
    }
    if isatty(STDERR_FILENO) != 0 { fputs("skein-journal: wrote \(path) (\(bytes.count) bytes)\n", stderr) }
    return 0
}
