import Glibc
import SkeinModel

// The few files the meta-plugin reads: NAD files in nadDir, confs in confDir, flannel's
// subnet.env, the readiness indicator. Small and bounded; errors are CNI errors naming the path.
enum LocalFiles {
    /// Configs and NADs are small; a bigger file is a mistake, not something to load.
    static let maxBytes = 1 << 20

    /// The file's text; nil when it does not exist.
    static func read(_ path: String, limit: Int = maxBytes) throws(CNIError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .ioFailure("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n > 0 {
                out.append(contentsOf: chunk[0..<n])
                if out.count > limit { throw .ioFailure("\(path) is larger than \(limit) bytes") }
            } else if n == 0 {
                return String(decoding: out, as: UTF8.self)
            } else if errno != EINTR {
                throw .ioFailure("cannot read \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Names of the entries of a directory (no "." or ".."); nil when it does not exist.
    static func list(_ dir: String) throws(CNIError) -> [String]? {
        guard let d = opendir(dir) else {
            if errno == ENOENT { return nil }
            throw .ioFailure("cannot list \(dir): \(String(cString: strerror(errno)))")
        }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every file of `dir` whose name passes `wanted`, read whole, in name order.
    static func readAll(_ dir: String, where wanted: (String) -> Bool) throws(CNIError) -> [(name: String, text: String)]? {
        guard let names = try list(dir) else { return nil }
        var out: [(name: String, text: String)] = []
        for name in names where wanted(name) && isRegular(path(dir, name)) {
            // One unreadable or oversized file must not take the directory's other networks down
            // with it: it is skipped and logged, and a lookup of what it defined says "not found".
            do throws(CNIError) {
                if let text = try read(path(dir, name)) { out.append((name, text)) }
            } catch {
                Log.error("skipping \(path(dir, name)): \(error.msg)")
            }
        }
        return out
    }

    static func isDirectory(_ p: String) -> Bool { mode(p) == S_IFDIR }
    static func isRegular(_ p: String) -> Bool { mode(p) == S_IFREG }
    static func exists(_ p: String) -> Bool { mode(p) != nil }

    /// Follows symlinks (a NAD file or subnet.env may be one, as ConfigMap mounts are).
    static func mode(_ p: String) -> mode_t? {
        var st = stat()
        guard stat(p, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    static func path(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }
}
