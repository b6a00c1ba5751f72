// Finding the host-device a config selects, before the ADD is journaled: its origin (name, ifindex,
// MAC, MTU, promisc, allmulticast, txqueuelen) goes into the request so DEL can put it back exactly
// so. Selectors as the reference host-device plugin takes them, first non-empty wins: device,
// hwaddr, kernelpath, pciBusID.

import Glibc
import SkeinModel
import SkeinNetlink

extension Executor {
    /// nil when no host link matches. The device must be in the HOST netns (the one the executor
    /// was created in): a device already moved into some pod is not found.
    public func resolveHostDevice(device: String?, hwaddr: String?, kernelpath: String?,
                                  pciBusID: String?) throws -> HostDeviceOrigin? {
        let op = "resolve host-device"
        let link: Link?
        do {
            if let device, !device.isEmpty {
                link = try host.linkGet(name: device)
            } else if let hwaddr, !hwaddr.isEmpty {
                guard let mac = MACAddress(hwaddr) else {
                    throw ExecutorError(op: op, errno: EINVAL, message: "invalid hwaddr \"\(hwaddr)\"")
                }
                link = try host.linkList().first { $0.mac == mac.bytes }
            } else if let kernelpath, !kernelpath.isEmpty {
                guard kernelpath.hasPrefix("/sys/devices/"), !Self.hasDotDot(kernelpath) else {
                    throw ExecutorError(op: op, errno: EINVAL,
                                        message: "kernelpath \"\(kernelpath)\" must be an absolute path under /sys/devices/")
                }
                link = try firstHostLink(ofDevice: kernelpath)
            } else if let pciBusID, !pciBusID.isEmpty {
                guard !pciBusID.contains("/"), !Self.hasDotDot(pciBusID) else {
                    throw ExecutorError(op: op, errno: EINVAL, message: "invalid pciBusID \"\(pciBusID)\"")
                }
                link = try firstHostLink(ofDevice: "/sys/bus/pci/devices/\(pciBusID)")
            } else {
                throw ExecutorError(op: op, errno: EINVAL,
                                    message: "specify one of \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"")
            }
        } catch {
            throw ExecutorError(error, op: op)
        }
        return link.map {
            HostDeviceOrigin(name: $0.name, index: $0.index, mac: MACAddress(bytes: $0.mac), mtu: $0.mtu,
                             promisc: $0.promisc, allmulti: $0.allmulti, txQLen: $0.txQLen)
        }
    }

    /// A device's interfaces sit in its net/ directory, or one level down for virtio devices
    /// (<pci function>/virtioN/net/).
    private func firstHostLink(ofDevice dir: String) throws -> Link? {
        if let link = try firstHostLink(inNetDirOf: dir) { return link }
        for entry in try Self.directoryEntries(dir) ?? [] where entry.hasPrefix("virtio") {
            if let link = try firstHostLink(inNetDirOf: "\(dir)/\(entry)") { return link }
        }
        return nil
    }

    /// sysfs shows the interfaces of the netns that mounted it, which need not be the executor's:
    /// a name counts only if the host socket knows it with the ifindex sysfs gives.
    private func firstHostLink(inNetDirOf device: String) throws -> Link? {
        for name in try Self.directoryEntries("\(device)/net") ?? [] {
            guard let link = try host.linkGet(name: name) else { continue }
            let sysIndex = (try? Self.readSmallFile("\(device)/net/\(name)/ifindex")).flatMap { Int32($0) }
            if sysIndex == nil || sysIndex == link.index { return link }
        }
        return nil
    }

    private static func hasDotDot(_ path: String) -> Bool {
        path.split(separator: "/").contains { $0 == ".." || $0 == "." }
    }

    /// Sorted names of a directory, without "." and ".."; nil if it does not exist.
    static func directoryEntries(_ path: String) throws -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ExecutorError(op: "read \(path)", errno: errno, message: String(cString: strerror(errno)))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A sysfs attribute without its trailing newline.
    static func readSmallFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ExecutorError(op: "read \(path)", errno: errno, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw ExecutorError(op: "read \(path)", errno: errno, message: String(cString: strerror(errno))) }
        var bytes = buf[0..<n]
        while bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
