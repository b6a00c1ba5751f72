import SkeinModel

// The exec'ed part of one attachment's chain (AttachmentRecord.exec): ADD and CHECK in chain
// order, DEL in reverse, as libcni runs a conflist. Each plugin gets the result so far as
// prevResult on ADD, and the attachment's final (journaled) result on DEL and CHECK.

struct ExecSuffix {
    let runner: DelegateRunner
    let plugins: [ExecPlugin]
    let target: PluginTarget

    init(runner: DelegateRunner, configs: [JSON], target: PluginTarget) throws(CNIError) {
        self.runner = runner
        self.target = target
        var plugins: [ExecPlugin] = []
        for c in configs { plugins.append(try ExecPlugin(c)) }
        self.plugins = plugins
    }

    enum AddOutcome {
        case done(CNIResult)
        /// Plugin `at` failed; `last` is the result the chain had before it (nil if none).
        case failed(at: Int, CNIError, last: CNIResult?)
    }

    /// ADD of every plugin in order (there is at least one). `failpoint(i)` runs after plugin i succeeded.
    func add(prevResult: CNIResult?, failpoint: (Int) -> Void) -> AddOutcome {
        precondition(!plugins.isEmpty, "an exec'ed suffix has at least one plugin")
        var result = prevResult
        for (i, plugin) in plugins.enumerated() {
            do {
                result = try runner.add(plugin, target, prevResult: result)
            } catch {
                return .failed(at: i, named(error, i, "ADD"), last: result)
            }
            failpoint(i)
        }
        guard let result else { preconditionFailure("a successful ADD always has a result") }
        return .done(result)
    }

    /// DEL of plugins[0..<count] in reverse, stopping at the first failure so that what a later
    /// plugin built on an earlier one is always removed first; a retried DEL runs them all again
    /// (every plugin's DEL is idempotent by contract). `failpoint(i)` runs after plugin i's DEL.
    ///
    /// Two refusals prove the plugin holds nothing, and are passed over instead of failing the DEL
    /// forever (which would keep the attachment's addresses and links held for good): a plugin that
    /// refuses the config's cniVersion (code 1) refused the same config on ADD too; and a plugin
    /// binary that cannot be found, for an attachment whose ADD never completed, never ran. A
    /// plugin that vanished after a completed ADD still fails the DEL: it may hold something.
    func del(count: Int, prevResult: CNIResult?, applied: Bool, failpoint: (Int) -> Void) throws(CNIError) {
        for i in stride(from: min(count, plugins.count) - 1, through: 0, by: -1) {
            do {
                if !applied, (try? runner.locate(plugins[i].type)) == nil { failpoint(i); continue }
                try runner.del(plugins[i], target, prevResult: prevResult)
            } catch where error.code == 1 {
                // Incompatible version: see above.
            } catch {
                throw named(error, i, "DEL")
            }
            failpoint(i)
        }
    }

    /// CHECK of every plugin that speaks 0.4.0 or later, in order.
    func check(prevResult: CNIResult) throws(CNIError) {
        for (i, plugin) in plugins.enumerated() where plugin.allowsCheck {
            do {
                try runner.check(plugin, target, prevResult: prevResult)
            } catch {
                throw named(error, i, "CHECK")
            }
        }
    }

    /// The plugin's own error, with where in the chain it sits in the details.
    func named(_ error: CNIError, _ i: Int, _ command: String) -> CNIError {
        let place = "\(command) of exec'ed plugin \(i + 1) of \(plugins.count) (\(plugins[i].type))"
        return CNIError(code: error.code, msg: error.msg, details: error.details.isEmpty ? place : "\(place): \(error.details)")
    }

    /// "tuning, ptp": the types of plugins[range] in the order given, for journal messages.
    func types(_ indices: [Int]) -> String {
        indices.map { plugins[$0].type }.joined(separator: ", ")
    }
}
