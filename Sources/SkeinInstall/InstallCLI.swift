import Glibc

// `skein install | install-status | uninstall`: parses, runs, prints one line per file on stdout
// and progress on stderr. `skein` calls this only when it is given arguments, which a CNI runtime
// never does.

public enum InstallCLI {
    /// `arguments` without argv[0]. Returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        if let first = arguments.first, ["-h", "--help", "help"].contains(first) {
            print(InstallFlags.overview)
            return 0
        }
        if let first = arguments.first, InstallCommand(rawValue: first) == nil {
            fputs("skein: unknown command \"\(first)\"\n\n\(InstallFlags.overview)\n", stderr)
            return 2
        }
        let parsed: ParsedCommand
        do { parsed = try InstallFlags.parse(arguments) } catch {
            fputs("skein \(arguments[0]): \(error)\n", stderr)
            return error.exitCode
        }
        if parsed.help {
            print(InstallFlags.help(for: parsed.command), terminator: "")
            return 0
        }
        Termination.block()
        let name = parsed.command.rawValue
        let installer = Installer(options: parsed.options, environment: environment()) { fputs("skein \(name): \($0)\n", stderr) }
        do {
            return try run(parsed, installer)
        } catch {
            fputs("skein \(name): error: \(error)\n", stderr)
            return error.exitCode
        }
    }

    static func run(_ parsed: ParsedCommand, _ installer: Installer) throws(InstallError) -> Int32 {
        switch parsed.command {
        case .install:
            report(try installer.install())
            return parsed.options.keepRunning ? installer.keepRunning() : 0
        case .status:
            let reports = try installer.status()
            let bad = reports.filter { $0.action != .ok }
            report(bad)
            print(bad.isEmpty ? "installed: \(reports.count) files match" : "not installed: \(bad.count) of \(reports.count) files differ")
            fflush(stdout)
            return bad.isEmpty ? 0 : 1
        case .uninstall:
            report(try installer.uninstall())
            return 0
        }
    }

    static func report(_ reports: [FileReport]) {
        for r in reports { print(r.line) }
        fflush(stdout)
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }
}
