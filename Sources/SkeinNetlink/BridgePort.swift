import CNetlink
import Glibc

extension NetlinkHandle {
    /// Hairpin mode lets a port send frames back out the port they came in on (a pod
    /// reaching itself through a service IP). Raw RTM_SETLINK/AF_BRIDGE with
    /// IFLA_PROTINFO{IFLA_BRPORT_MODE}, as iproute2 does: libnl's bridge flag helpers need
    /// an AF_BRIDGE link object and would also send a link-info kind meant for bridges.
    public func bridgePortSetHairpin(index: Int32, on: Bool) throws {
        let op = "bridgePortSetHairpin #\(index)"
        guard index > 0 else { throw NetlinkError.invalid(op, "ifindex must be > 0") }
        guard let msg = nlmsg_alloc_simple(Int32(RTM_SETLINK), 0) else {
            throw NetlinkError(op: op, errno: ENOMEM, message: "nlmsg_alloc_simple")
        }
        var sent = false
        defer { if !sent { nlmsg_free(msg) } }
        var ifi = ifinfomsg()
        ifi.ifi_family = UInt8(AF_BRIDGE)
        ifi.ifi_index = index
        try call(op) { nlmsg_append(msg, &ifi, MemoryLayout<ifinfomsg>.size, Int32(NLMSG_ALIGNTO)) }
        guard let nest = nla_nest_start(msg, Int32(IFLA_PROTINFO) | Int32(NLA_F_NESTED)) else {
            throw NetlinkError(op: op, errno: EMSGSIZE, message: "nla_nest_start")
        }
        try call(op) { nla_put_u8(msg, Int32(IFLA_BRPORT_MODE), on ? 1 : 0) }
        try call(op) { nla_nest_end(msg, nest) }
        sent = true
        try call(op) { nl_send_sync(sock, msg) }  // frees msg, success or not
    }
}
