import Glibc

// File operations on real paths (a node path already joined to the host root). Binaries are
// streamed in 64 KiB chunks, never held whole: two 16 MB binaries compared every resync must fit
// the DaemonSet's memory limit with room to spare.

/// What a file should contain: bytes built here, or a source file streamed as it is.
enum Content: Equatable {
    case bytes([UInt8])
    case file(String)
}

enum Files {
    static let chunk = 1 << 16

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    struct Info: Equatable {
        let mode: mode_t
        let isRegular: Bool
    }

    /// lstat: a symlink at an install path is not "the file", it is something to replace.
    static func info(_ path: String) -> Info? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return Info(mode: st.st_mode & 0o7777, isRegular: st.st_mode & S_IFMT == S_IFREG)
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(InstallError) -> Int32? {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let e = errno
            if e == EINTR { continue }
            if e == ENOENT { return nil }
            throw InstallError(.io, "cannot open \(path): \(errorText(e))")
        }
    }

    /// Reads until `buffer` is full or the file ends; the count read.
    static func fill(_ fd: Int32, _ buffer: inout [UInt8], path: String) throws(InstallError) -> Int {
        var got = 0
        while got < buffer.count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n > 0 { got += n; continue }
            if n == 0 { break }
            if errno != EINTR { throw InstallError(.io, "cannot read \(path): \(errorText(errno))") }
        }
        return got
    }

    /// The whole file, or nil if it does not exist. Only for small files (configs, tokens).
    static func read(_ path: String, limit: Int = 1 << 20) throws(InstallError) -> [UInt8]? {
        guard let fd = try open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit + 1)
        let n = try fill(fd, &buffer, path: path)
        guard n <= limit else { throw InstallError(.io, "\(path) is larger than \(limit) bytes") }
        return Array(buffer[..<n])
    }

    /// True when `path` is a regular file holding exactly `content`.
    static func matches(_ path: String, _ content: Content) throws(InstallError) -> Bool {
        guard info(path)?.isRegular == true, let fd = try open(path, O_RDONLY | O_NOFOLLOW) else { return false }
        defer { close(fd) }
        switch content {
        case .bytes(let bytes):
            var buffer = [UInt8](repeating: 0, count: bytes.count + 1)
            let n = try fill(fd, &buffer, path: path)
            return n == bytes.count && same(buffer, bytes, count: n)
        case .file(let source):
            guard let src = try open(source, O_RDONLY) else { throw InstallError(.io, "source \(source) does not exist") }
            defer { close(src) }
            var a = [UInt8](repeating: 0, count: chunk), b = a
            while true {
                let na = try fill(src, &a, path: source), nb = try fill(fd, &b, path: path)
                guard na == nb, same(a, b, count: na) else { return false }
                if na < chunk { return true }
            }
        }
    }

    /// memcmp: a byte loop costs seconds per resync on two 16 MB binaries in a debug build.
    static func same(_ a: [UInt8], _ b: [UInt8], count: Int) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in count == 0 || memcmp(pa.baseAddress!, pb.baseAddress!, count) == 0 } }
    }

    static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, path: String) throws(InstallError) {
        var off = bytes.startIndex
        while off < bytes.endIndex {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { off += n } else if errno != EINTR {
                throw InstallError(.io, "cannot write \(path): \(errorText(errno))")
            }
        }
    }
}
