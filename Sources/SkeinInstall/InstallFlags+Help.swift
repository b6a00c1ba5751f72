// Help text, generated from the flag table so it cannot drift from what the parser accepts.

extension InstallFlags {
    public static let overview = """
    usage: skein install|install-status|uninstall [options]     (skein <command> --help)

    Without arguments skein is the CNI plugin (the runtime passes none). With one of these commands
    it installs itself on a node, from the DaemonSet in deploy/ or by hand:

      install         copy skein and skein-journal into the CNI bin directory (atomically, by
                      rename), wait for a default network config, write 00-skein.conflist naming it
                      as clusterNetwork, and a kubeconfig that reads a copied service-account token
      install-status  exit 0 only if every installed file is what install would write now
                      (the DaemonSet's readiness probe)
      uninstall       remove Skein's config and kubeconfig; the binaries stay unless
                      --remove-binaries, so existing pods can still be deleted

    exit codes: 0 ok, 1 failed or not installed (install-status), 2 usage error
    """

    static let summaries: [InstallCommand: String] = [
        .install: """
        Installs Skein on this node. Idempotent: a file whose contents and mode are already right is
        not written ("unchanged"). Every write is a temporary file in the same directory, fsync'ed,
        then renamed over the old one: a running skein keeps its old file and the runtime never sees
        a half-written binary or config. Nothing is removed on exit or SIGTERM: a node without Skein's
        config would start pods without their extra networks.
        """,
        .status: """
        Compares every file install would write (binaries, kubeconfig, token and CA copies, the
        config generated from the current default network) with what is on the node. Exit 0 when
        all match, 1 otherwise, naming each file that is missing or differs.
        """,
        .uninstall: """
        Removes Skein's config file first (the runtime stops calling Skein for new pods), then the
        kubeconfig and the token and CA copies. The binaries stay: pods created through Skein are
        still deleted through it by runtimes that use the cached config, and DEL works from the
        journal. --remove-binaries removes them too, once no such pod is left.
        """,
    ]

    public static func help(for command: InstallCommand) -> String {
        var text = "usage: skein \(command.rawValue) [options]\n\n\(summaries[command]!)\n\noptions:\n"
        for flag in table where flag.commands.contains(command) {
            let head = "  " + flag.name + (flag.value.map { " " + $0 } ?? "")
            let pad = head.count < 30 ? String(repeating: " ", count: 30 - head.count) : "\n" + String(repeating: " ", count: 30)
            text += head + pad + flag.help + "\n"
        }
        return text + "  -h, --help                    this text\n"
    }
}
