import Glibc

// Writes that are never seen half-done. rename(2) replaces a directory entry, not a file's bytes:
// a process executing the old binary keeps its inode (so no "text file busy", which only opening a
// running file for writing causes), and anyone opening the path gets the old file or the new one.

extension Files {
    /// Writes `content` to a temporary file beside `path`, fsyncs it, sets `mode`, renames it over
    /// `path` and fsyncs the directory, so the rename itself survives a power cut.
    static func writeAtomically(_ path: String, _ content: Content, mode: mode_t) throws(InstallError) {
        let dir = parentDirectory(path)
        // Hidden, and ending in none of .conf/.conflist/.json: the runtime never loads it as a config.
        let tmp = joinPath(dir, "." + baseName(path) + ".skein-tmp")
        unlink(tmp)  // left by a run that was killed mid-copy
        guard let fd = try open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600) else {
            throw InstallError(.io, "cannot create \(tmp): directory \(dir) does not exist")
        }
        var renamed = false
        defer { if !renamed { unlink(tmp) } }
        try fillTemporary(fd, content, mode: mode, path: tmp)
        guard rename(tmp, path) == 0 else {
            throw InstallError(.io, "cannot rename \(tmp) to \(path): \(errorText(errno))")
        }
        renamed = true
        try syncDirectory(dir)
    }

    /// Copies, sets the mode (fchmod, so the umask does not decide it), fsyncs and closes `fd`.
    private static func fillTemporary(_ fd: Int32, _ content: Content, mode: mode_t, path: String) throws(InstallError) {
        defer { close(fd) }
        switch content {
        case .bytes(let bytes):
            try writeAll(fd, bytes[...], path: path)
        case .file(let source):
            guard let src = try open(source, O_RDONLY) else { throw InstallError(.io, "source \(source) does not exist") }
            defer { close(src) }
            var buffer = [UInt8](repeating: 0, count: chunk)
            while true {
                let n = try fill(src, &buffer, path: source)
                try writeAll(fd, buffer[..<n], path: path)
                if n < chunk { break }
            }
        }
        guard fchmod(fd, mode) == 0 else { throw InstallError(.io, "cannot chmod \(path): \(errorText(errno))") }
        guard fsync(fd) == 0 else { throw InstallError(.io, "cannot fsync \(path): \(errorText(errno))") }
    }

    static func syncDirectory(_ dir: String) throws(InstallError) {
        guard let fd = try open(dir, O_RDONLY | O_DIRECTORY) else { return }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw InstallError(.io, "cannot fsync \(dir): \(errorText(errno))") }
    }

    /// `mkdir -p` of a node path below `root` (which must exist: it is the mounted host). An
    /// existing component may be a symlink to a directory (some distributions link /opt/cni/bin).
    static func makeDirectories(_ nodePath: String, root: String, mode: mode_t) throws(InstallError) {
        guard isDirectory(root) else { throw InstallError(.io, "host root \(root) is not a directory") }
        var current = root == "/" ? "" : root
        for part in nodePath.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) == 0 { continue }
            let e = errno
            if e == EEXIST && isDirectory(current) { continue }
            throw InstallError(.io, "cannot create directory \(current): \(errorText(e == EEXIST ? ENOTDIR : e))")
        }
    }

    /// stat, following symlinks.
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
    }

    /// Entry names of a directory, or nil if it does not exist.
    static func list(_ dir: String) throws(InstallError) -> [String]? {
        guard let d = opendir(dir) else {
            if errno == ENOENT { return nil }
            throw InstallError(.io, "cannot list \(dir): \(errorText(errno))")
        }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// False if there was nothing to remove.
    static func remove(_ path: String) throws(InstallError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw InstallError(.io, "cannot remove \(path): \(errorText(errno))")
    }

    /// Removes an empty directory; false if it is absent or not empty.
    static func removeEmptyDirectory(_ path: String) -> Bool {
        rmdir(path) == 0
    }
}
