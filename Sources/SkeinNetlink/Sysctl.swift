import Glibc

/// /proc/sys/net resolves against the calling *thread's* network namespace, so calling
/// these inside a `withNetNS` body reads and writes that namespace's settings.
public func sysctlWrite(_ key: String, _ value: String) throws {
    let path = try sysctlPath(key)
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw NetlinkError.posix("sysctlWrite \(key)", "open \(path)") }
    defer { close(fd) }
    let bytes = Array(value.utf8)
    // One write(2): /proc/sys handlers parse each write as a whole value.
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard n >= 0 else { throw NetlinkError.posix("sysctlWrite \(key)", "write \(path)") }
    guard n == bytes.count else {
        throw NetlinkError(op: "sysctlWrite \(key)", errno: EIO, message: "short write (\(n) of \(bytes.count))")
    }
}

/// The value without its trailing newline.
public func sysctlRead(_ key: String) throws -> String {
    let path = try sysctlPath(key)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw NetlinkError.posix("sysctlRead \(key)", "open \(path)") }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw NetlinkError.posix("sysctlRead \(key)", "read \(path)") }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    while out.last == UInt8(ascii: "\n") { out.removeLast() }
    return String(decoding: out, as: UTF8.self)
}

/// Keys use '/' separators ("net/ipv4/ip_forward"); dots are legal inside interface
/// names (eth0.100), so they are not translated.
private func sysctlPath(_ key: String) throws -> String {
    let parts = key.split(separator: "/", omittingEmptySubsequences: false)
    guard !key.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
        throw NetlinkError.invalid("sysctl", "invalid sysctl key \"\(key)\"")
    }
    return "/proc/sys/" + key
}
