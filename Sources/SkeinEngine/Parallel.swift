import Glibc

/// Runs `body` for every item on a thread of its own and waits for all of them; the results come
/// back in the items' order. For kernel work that is mostly waiting: deleting a link waits in the
/// kernel for an RCU grace period (tens of ms), and deletions on separate threads share the wait.
/// A thread that cannot be started runs its item inline instead.
enum Parallel {
    static func map<T, R>(_ items: [T], _ body: @escaping (T) -> R) -> [R] {
        guard items.count > 1 else { return items.map(body) }
        let jobs = items.map { ParallelJob(item: $0, body: body) }
        var threads: [pthread_t] = []
        for job in jobs {
            let arg = Unmanaged<ParallelJobBase>.passRetained(job).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                Unmanaged<ParallelJobBase>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, arg)
            if rc == 0 {
                threads.append(tid)
            } else {
                Unmanaged<ParallelJobBase>.fromOpaque(arg).release()
                job.run()
            }
        }
        for tid in threads { pthread_join(tid, nil) }
        // Joined: every job has run and is no longer shared.
        return jobs.map { $0.result! }
    }
}

/// Type-erased so the non-generic C thread entry can run it.
class ParallelJobBase {
    func run() {}
}

final class ParallelJob<T, R>: ParallelJobBase {
    let item: T
    let body: (T) -> R
    var result: R?

    init(item: T, body: @escaping (T) -> R) {
        self.item = item
        self.body = body
    }

    override func run() { result = body(item) }
}
