import Foundation
import Testing
@testable import SkeinInstall
import SkeinModel

@Suite("Installer in a temporary root")
struct InstallerTests {
    @Test func freshInstall() throws {
        let node = try TempNode("fresh")
        try node.addDefaultNetwork()
        let reports = try node.installer().install()

        #expect(reports.map(\.path) == ["/opt/cni/bin/skein", "/opt/cni/bin/skein-journal",
                                        "/etc/cni/net.d/skein.d/skein.token", "/etc/cni/net.d/skein.d/skein-ca.crt",
                                        "/etc/cni/net.d/skein.d/skein.kubeconfig", "/etc/cni/net.d/00-skein.conflist"])
        #expect(reports.allSatisfy { $0.action == .written })
        for name in InstallOptions.binaries {
            #expect(node.read(node.binDir + "/" + name) == node.read(node.sourceDir + "/" + name))
            #expect(node.mode(node.binDir + "/" + name) == 0o755)
        }
        #expect(node.mode(node.confDir + "/skein.d") == 0o700)
        #expect(node.mode(node.confDir + "/skein.d/skein.token") == 0o600)
        #expect(node.mode(node.confDir + "/skein.d/skein.kubeconfig") == 0o600)
        #expect(node.read(node.confDir + "/skein.d/skein.token") == "token-1")

        let config = try JSON.parse(#require(node.read(node.confDir + "/00-skein.conflist")))
        #expect(config["cniVersion"] == .string("0.3.1"))
        #expect(config["name"] == .string("skein-cni-network"))
        let plugin = try #require(config["plugins"]?[0])
        #expect(plugin["type"] == .string("skein"))
        #expect(plugin["clusterNetwork"] == .string("/etc/cni/net.d/10-flannel.conflist"))
        #expect(plugin["kubeconfig"] == .string("/etc/cni/net.d/skein.d/skein.kubeconfig"))
        #expect(plugin["stateDir"] == .string("/var/lib/skein"))
        #expect(plugin["capabilities"] == .obj([("bandwidth", .bool(true)), ("portMappings", .bool(true))]))
        // No temporary file is left where the runtime or an operator would see it.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: node.binDir) + FileManager.default.contentsOfDirectory(atPath: node.confDir)
        #expect(!leftovers.contains { $0.hasSuffix(".skein-tmp") })
    }

    /// The old skein is running from the install path (a copy of sleep stands in for it). A copy
    /// that opened that file for writing would fail with ETXTBSY; the rename replaces the entry.
    @Test func upgradeWhileTheOldBinaryIsExecuting() throws {
        let node = try TempNode("upgrade")
        try node.addDefaultNetwork()
        let installed = node.binDir + "/skein"
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: installed)
        let old = Process()
        old.executableURL = URL(fileURLWithPath: installed)
        old.arguments = ["30"]
        try old.run()
        defer { kill(old.processIdentifier, SIGKILL); old.waitUntilExit() }
        usleep(100_000)

        let naive = open(installed, O_WRONLY)
        let naiveErrno = errno
        if naive >= 0 { close(naive) }
        #expect(naive < 0 && naiveErrno == ETXTBSY, "the premise: writing a running binary in place fails")

        try node.setBinaries(version: "2")
        let reports = try node.installer().install()
        #expect(actions(reports)["/opt/cni/bin/skein"] == .written)
        #expect(node.read(installed) == "#!/bin/sh\necho skein 2\n")
        #expect(old.isRunning, "the old process keeps its inode and goes on")
        #expect(kill(old.processIdentifier, 0) == 0)
    }

    @Test func waitsForTheDefaultNetworkThenProceeds() throws {
        let node = try TempNode("wait")
        let start = Date()
        let writer = Thread {
            usleep(400_000)
            try? node.addDefaultNetwork("20-calico.conflist", cniVersion: "1.0.0")
        }
        writer.start()
        let reports = try node.installer().install()
        #expect(Date().timeIntervalSince(start) >= 0.4)
        #expect(actions(reports)["/etc/cni/net.d/00-skein.conflist"] == .written)
        let config = try JSON.parse(#require(node.read(node.confDir + "/00-skein.conflist")))
        #expect(config["plugins"]?[0]?["clusterNetwork"] == .string("/etc/cni/net.d/20-calico.conflist"))
        #expect(config["cniVersion"] == .string("1.0.0"))
        #expect(node.logLines.contains { $0.hasPrefix("waiting for a default network config") })
        // The binaries were installed while it waited, before the config that makes the runtime use them.
        #expect(actions(reports)["/opt/cni/bin/skein"] == .written)
    }

    @Test func waitingIsBounded() throws {
        let node = try TempNode("timeout")
        #expect(throws: InstallError.self) { try node.installer { $0.waitTimeoutS = 0 }.install() }
        do { _ = try node.installer { $0.waitTimeoutS = 0 }.install() } catch {
            #expect(error.kind == .timeout)
            #expect(error.message.contains("no network config in /etc/cni/net.d yet"))
        }
        #expect(!node.exists(node.confDir + "/00-skein.conflist"))
    }

    @Test func secondRunChangesNothing() throws {
        let node = try TempNode("idem")
        try node.addDefaultNetwork()
        _ = try node.installer().install()
        let before = node.snapshot()
        let reports = try node.installer().install()
        #expect(reports.allSatisfy { $0.action == .unchanged })
        #expect(node.snapshot() == before)
        #expect(before.count >= 8)
    }

    @Test func aWrongModeIsFixedWithoutRewriting() throws {
        let node = try TempNode("mode")
        try node.addDefaultNetwork()
        _ = try node.installer().install()
        chmod(node.binDir + "/skein", 0o700)
        let inode = node.snapshot()["opt/cni/bin/skein"]?[0]
        #expect(actions(try node.installer().install())["/opt/cni/bin/skein"] == .modeFixed)
        #expect(node.mode(node.binDir + "/skein") == 0o755)
        #expect(node.snapshot()["opt/cni/bin/skein"]?[0] == inode)
    }

    @Test func uninstallKeepsTheBinariesUnlessAsked() throws {
        let node = try TempNode("uninstall")
        try node.addDefaultNetwork()
        _ = try node.installer().install()
        let reports = try node.installer().uninstall()
        #expect(actions(reports)["/etc/cni/net.d/00-skein.conflist"] == .removed)
        #expect(actions(reports)["/opt/cni/bin/skein"] == .kept)
        #expect(!node.exists(node.confDir + "/00-skein.conflist"))
        #expect(!node.exists(node.confDir + "/skein.d"))
        #expect(node.exists(node.binDir + "/skein") && node.exists(node.binDir + "/skein-journal"))
        #expect(node.exists(node.confDir + "/10-flannel.conflist"), "the default network is not Skein's to remove")

        let again = try node.installer { $0.removeBinaries = true }.uninstall()
        #expect(actions(again)["/etc/cni/net.d/00-skein.conflist"] == .absent)
        #expect(actions(again)["/opt/cni/bin/skein"] == .removed)
        #expect(!node.exists(node.binDir + "/skein") && !node.exists(node.binDir + "/skein-journal"))
    }

    @Test func statusMatchesOnlyAfterInstall() throws {
        let node = try TempNode("status")
        try node.addDefaultNetwork()
        #expect(try node.installer().status().contains { $0.action == .missing })
        _ = try node.installer().install()
        #expect(try node.installer().status().allSatisfy { $0.action == .ok })

        try node.setBinaries(version: "3")  // a new image: the probe says not ready until install ran
        #expect(actions(try node.installer().status())["/opt/cni/bin/skein"] == .differs)
        _ = try node.installer().install()
        #expect(try node.installer().status().allSatisfy { $0.action == .ok })

        try node.addDefaultNetwork(cniVersion: "1.0.0")  // the default network changed under Skein
        #expect(actions(try node.installer().status())["/etc/cni/net.d/00-skein.conflist"] == .differs)
    }

    @Test func aConfigSortingBeforeSkeinsFailsTheInstall() throws {
        let node = try TempNode("conflict")
        try node.addDefaultNetwork()
        try node.write(node.confDir + "/00-multus.conf", #"{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus-shim"}"#)
        do {
            _ = try node.installer().install()
            Issue.record("install succeeded with 00-multus.conf in front of Skein's config")
        } catch {
            #expect(error.kind == .conflict)
            #expect(error.message.contains("/etc/cni/net.d/00-multus.conf sorts before 00-skein.conflist"))
        }
        #expect(!node.exists(node.binDir + "/skein"), "nothing is written when the install cannot work")
        // Choosing an earlier name is the documented way out.
        let reports = try node.installer { $0.confFileName = "00-0-skein.conflist" }.install()
        #expect(actions(reports)["/etc/cni/net.d/00-0-skein.conflist"] == .written)
    }

    @Test func resyncFollowsTokenRotationAndRestoresTheConfig() throws {
        let node = try TempNode("resync")
        try node.addDefaultNetwork()
        let installer = node.installer()
        _ = try installer.install()
        try node.write(node.dir + "/sa/token", "token-2")
        try FileManager.default.removeItem(atPath: node.confDir + "/00-skein.conflist")
        let reports = actions(try installer.resync())
        #expect(reports["/etc/cni/net.d/skein.d/skein.token"] == .written)
        #expect(reports["/etc/cni/net.d/skein.d/skein.kubeconfig"] == .unchanged, "tokenFile: the kubeconfig needs no rewrite")
        #expect(reports["/etc/cni/net.d/00-skein.conflist"] == .written)
        #expect(node.read(node.confDir + "/skein.d/skein.token") == "token-2")

        // The default network's file vanishing (a CNI being reinstalled) leaves Skein's config alone.
        try FileManager.default.removeItem(atPath: node.confDir + "/10-flannel.conflist")
        _ = try installer.resync()
        #expect(node.exists(node.confDir + "/00-skein.conflist"))
        #expect(node.logLines.contains { $0.contains("keeping /etc/cni/net.d/00-skein.conflist as it is") })
    }

    @Test func missingSourceBinaryIsAnError() throws {
        let node = try TempNode("nosource")
        try node.addDefaultNetwork()
        try FileManager.default.removeItem(atPath: node.sourceDir + "/skein-journal")
        do { _ = try node.installer().install(); Issue.record("install without skein-journal succeeded") } catch {
            #expect(error.kind == .io)
            #expect(error.message.contains("skein-journal is missing"))
        }
    }

    @Test func noKubeconfigWritesNeitherFileNorKey() throws {
        let node = try TempNode("nokube")
        try node.addDefaultNetwork()
        let reports = try Installer(options: node.options { $0.writeKubeconfig = false }, environment: [:]).install()
        #expect(reports.count == 3)
        let config = try JSON.parse(#require(node.read(node.confDir + "/00-skein.conflist")))
        #expect(config["plugins"]?[0]?["kubeconfig"] == nil)
        #expect(!node.exists(node.confDir + "/skein.d"))
    }
}
