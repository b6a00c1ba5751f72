#ifndef SKEIN_CNETLINK_SHIM_H
#define SKEIN_CNETLINK_SHIM_H
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/handlers.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/ipvlan.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
// setns(2) and CLONE_NEWNET are hidden from Swift's Glibc module without _GNU_SOURCE.
#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif
extern int setns(int fd, int nstype);
static inline int skein_clone_newnet(void) { return CLONE_NEWNET; }

// statfs is not in Swift's Glibc module. Returns f_type, or -1 with errno set.
static inline long skein_fstatfs_type(int fd) {
    struct statfs st;
    return fstatfs(fd, &st) == 0 ? (long)st.f_type : -1;
}

// ioctl(2) is variadic and does not import. NS_GET_NSTYPE = _IO(0xb7, 0x3), Linux >= 4.11.
static inline int skein_ns_get_nstype(int fd) { return ioctl(fd, (unsigned long)0xb703); }

// Where the raw kernel errno and extended-ack text of the last NLMSG_ERROR land.
// libnl folds errnos it does not know into NLE_FAILURE; this keeps the real one.
struct skein_nlerr {
    int err;        // positive errno, 0 if none seen
    char msg[256];  // NLMSGERR_ATTR_MSG, "" if none
};

static inline const char *skein_nlerr_msg(const struct skein_nlerr *e) { return e->msg; }
static inline void skein_nlerr_reset(struct skein_nlerr *e) { e->err = 0; e->msg[0] = 0; }

// Copies NLMSGERR_ATTR_MSG from the TLVs that follow `payload` bytes of h's data.
static inline void skein_nlerr_extack(const struct nlmsghdr *h, size_t payload, struct skein_nlerr *out) {
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
        return;
    const char *start = (const char *)h + NLMSG_HDRLEN + NLMSG_ALIGN(payload);
    const char *end = (const char *)h + h->nlmsg_len;
    if (start >= end)
        return;
    struct nlattr *a = nla_find((struct nlattr *)start, (int)(end - start), NLMSGERR_ATTR_MSG);
    if (a && nla_len(a) > 0)
        nla_strlcpy(out->msg, a, sizeof(out->msg));
}

static inline int skein_nl_err_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg) {
    (void)who;
    struct skein_nlerr *out = (struct skein_nlerr *)arg;
    out->err = e->error < 0 ? -e->error : e->error;
    out->msg[0] = 0;
    // The NLMSG_ERROR header sits right before its payload (the nlmsgerr).
    const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
    size_t payload = sizeof(*e);
    if (!(h->nlmsg_flags & NLM_F_CAPPED))
        payload += e->msg.nlmsg_len - NLMSG_HDRLEN;
    skein_nlerr_extack(h, payload, out);
    return NL_STOP;  // libnl then returns -nl_syserr2nlerr(e->error)
}

// A dump that fails after it started (bad filter, missing device or table) ends with an
// NLMSG_DONE carrying the errno; libnl 3.7 ignores it and reports an empty, successful dump.
static inline int skein_nl_finish_cb(struct nl_msg *msg, void *arg) {
    struct skein_nlerr *out = (struct skein_nlerr *)arg;
    const struct nlmsghdr *h = nlmsg_hdr(msg);
    if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(int))
        return NL_STOP;
    int e;
    memcpy(&e, nlmsg_data(h), sizeof(e));
    if (e >= 0)
        return NL_STOP;
    out->err = -e;
    out->msg[0] = 0;
    skein_nlerr_extack(h, sizeof(int), out);
    return -nl_syserr2nlerr(e);
}

// Installs the error hooks and asks the kernel for extended acks, capped echoes and
// strict (kernel-side filtered) dumps. Options the kernel lacks are ignored.
static inline int skein_nl_setup(struct nl_sock *sk, struct skein_nlerr *slot) {
    struct nl_cb *cb = nl_socket_get_cb(sk);
    if (!cb)
        return -NLE_NOMEM;
    int rc = nl_cb_err(cb, NL_CB_CUSTOM, skein_nl_err_cb, slot);
    if (rc >= 0)
        rc = nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, skein_nl_finish_cb, slot);
    nl_cb_put(cb);
    if (rc < 0)
        return rc;
    int one = 1, fd = nl_socket_get_fd(sk);
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    return setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) == 0;
}
#endif
