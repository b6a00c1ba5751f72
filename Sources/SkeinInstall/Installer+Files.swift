import Glibc
import SkeinModel

// What install wants on the node, writing it, and taking it away again.

extension Installer {
    /// Binaries, then the token and CA copies, then the kubeconfig that names them.
    func supportFiles() throws(InstallError) -> [PlannedFile] {
        let source = try sourceDirectory()
        var files: [PlannedFile] = []
        for name in InstallOptions.binaries {
            let path = joinPath(source, name)
            var st = stat()
            guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                throw InstallError(.io, "\(path) is missing: --source-dir must hold \(InstallOptions.binaries.joined(separator: " and "))")
            }
            files.append(PlannedFile(path: joinPath(options.cniBinDir, name), content: .file(path), mode: 0o755, directoryMode: 0o755))
        }
        guard options.writeKubeconfig else { return files }
        let server = try GeneratedFiles.serverURL(options, environment: environment)
        guard let token = try Files.read(options.tokenFile, limit: 64 << 10), !token.isEmpty else {
            throw InstallError(.io, "no service-account token at \(options.tokenFile) (is automountServiceAccountToken off?)")
        }
        guard let ca = try Files.read(options.caFile), !ca.isEmpty else {
            throw InstallError(.io, "no CA bundle at \(options.caFile)")
        }
        let kubeconfig = GeneratedFiles.kubeconfig(server: server, caPath: options.caCopy, tokenPath: options.tokenCopy)
        files.append(PlannedFile(path: options.tokenCopy, content: .bytes(token), mode: 0o600, directoryMode: 0o700))
        files.append(PlannedFile(path: options.caCopy, content: .bytes(ca), mode: 0o644, directoryMode: 0o700))
        files.append(PlannedFile(path: options.kubeconfig, content: .bytes(kubeconfig), mode: 0o600, directoryMode: 0o700))
        return files
    }

    func configFile(_ network: DefaultNetwork) -> PlannedFile {
        PlannedFile(path: options.confPath, content: .bytes(GeneratedFiles.conflist(network, options: options)),
                    mode: 0o644, directoryMode: 0o755)
    }

    /// Writes what differs, in order; a file whose bytes are right but whose mode is not is chmod'ed.
    func apply(_ files: [PlannedFile]) throws(InstallError) -> [FileReport] {
        var reports: [FileReport] = []
        for file in files {
            let path = real(file.path)
            if try Files.matches(path, file.content) {
                if Files.info(path)?.mode == file.mode {
                    reports.append(FileReport(.unchanged, file.path))
                    continue
                }
                guard chmod(path, file.mode) == 0 else {
                    throw InstallError(.io, "cannot chmod \(path): \(Files.errorText(errno))")
                }
                reports.append(FileReport(.modeFixed, file.path))
                continue
            }
            try Files.makeDirectories(parentDirectory(file.path), root: options.hostRoot, mode: file.directoryMode)
            try Files.writeAtomically(path, file.content, mode: file.mode)
            reports.append(FileReport(.written, file.path))
        }
        return reports
    }

    /// The config first, so the runtime stops choosing Skein before its credentials go; binaries
    /// only when asked, because pods created through Skein are still torn down through it.
    public func uninstall() throws(InstallError) -> [FileReport] {
        var reports: [FileReport] = []
        for path in [options.confPath, options.kubeconfig, options.tokenCopy, options.caCopy] {
            reports.append(FileReport(try Files.remove(real(path)) ? .removed : .absent, path))
        }
        let kubeconfigDir = parentDirectory(options.kubeconfig)
        if baseName(kubeconfigDir) == InstallOptions.defaultKubeconfigDirName {
            _ = Files.removeEmptyDirectory(real(kubeconfigDir))
        }
        for name in InstallOptions.binaries {
            let path = joinPath(options.cniBinDir, name)
            if options.removeBinaries {
                reports.append(FileReport(try Files.remove(real(path)) ? .removed : .absent, path))
            } else {
                reports.append(FileReport(Files.info(real(path)) == nil ? .absent : .kept, path,
                                          note: "DEL of existing pods needs it; --remove-binaries removes it"))
            }
        }
        try Files.syncDirectory(real(options.cniConfDir))
        return reports
    }

    /// --source-dir, else the directory this executable was started from (the image's /usr/local/bin).
    func sourceDirectory() throws(InstallError) -> String {
        if let dir = options.sourceDir { return dir }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw InstallError(.io, "cannot find this executable's directory; give --source-dir") }
        return parentDirectory(String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
