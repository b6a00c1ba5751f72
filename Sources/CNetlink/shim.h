#ifndef SKEIN_CNETLINK_SHIM_H
#define SKEIN_CNETLINK_SHIM_H
#include <sched.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
// setns(2) and CLONE_NEWNET are hidden from Swift's Glibc module without _GNU_SOURCE.
#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif
extern int setns(int fd, int nstype);
static inline int skein_clone_newnet(void) { return CLONE_NEWNET; }
#endif
