import CNetlink
import Glibc

extension NetlinkHandle {
    /// Sends one dump request and parses the replies into `cache`. Built by hand rather
    /// than nl_cache_refill so the header can carry filters (ifindex, table, oif) that a
    /// strict-checking kernel applies itself; callers still filter client-side.
    func dump(_ op: String, into cache: OpaquePointer, type: Int32, header: UnsafeRawBufferPointer,
              attrs: (OpaquePointer) -> Int32 = { _ in 0 }) throws {
        // A dump interrupted by a concurrent change (NLE_DUMP_INTR) is simply retried.
        for attempt in 0..<3 {
            guard let msg = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_DUMP) else {
                throw NetlinkError(op: op, errno: ENOMEM, message: "nlmsg_alloc_simple")
            }
            defer { nlmsg_free(msg) }
            try call(op) { nlmsg_append(msg, UnsafeMutableRawPointer(mutating: header.baseAddress), header.count, Int32(NLMSG_ALIGNTO)) }
            try call(op) { attrs(msg) }
            try call(op) { nl_send_auto(sock, msg) }
            do {
                try call(op) { nl_cache_pickup(sock, cache) }
                return
            } catch let e as NetlinkError where e.errno == EAGAIN && attempt < 2 {
                nl_cache_clear(cache)
            }
        }
    }

    /// Calls `body` for each object in `cache` (borrowed references).
    func forEach(_ cache: OpaquePointer, _ body: (OpaquePointer) -> Void) {
        var obj = nl_cache_get_first(cache)
        while let o = obj {
            body(o)
            obj = nl_cache_get_next(o)
        }
    }
}
