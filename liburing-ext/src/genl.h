/* SPDX-License-Identifier: MIT */
/*
 * Generic netlink requests without a netlink library: build a message, send
 * it, read one reply or a dump. Used for ethtool (ring parameters) and
 * netdev (queues and their NAPI instances).
 */
#ifndef URINGX_SRC_GENL_H
#define URINGX_SRC_GENL_H

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

#define NL_BUF 8192

struct nl_msg {
	char buf[NL_BUF];
	size_t len;
};

struct nlmsghdr *nl_begin(struct nl_msg *m, uint16_t type, uint8_t cmd, uint8_t version);
struct nlattr *nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len);

/* Send @m, read one reply into @reply: its length or -errno (an NLMSG_ERROR's). */
int nl_call(int fd, struct nl_msg *m, char *reply, size_t reply_len);

/*
 * Send @m as a dump request and call @each on every reply message until
 * NLMSG_DONE. Returns 0, -errno (the kernel's error), or what @each returned
 * when it stopped the dump with a negative value.
 */
int nl_dump(int fd, struct nl_msg *m,
	    int (*each)(const struct nlmsghdr *nlh, void *arg), void *arg);

/* The id of generic netlink family @name. */
int genl_family(int fd, const char *name, uint16_t *family);

/* Each attribute in [start, start + len). */
#define for_each_attr(a, start, len)                                              \
	for (struct nlattr *a = (struct nlattr *)(start); (char *)a + NLA_HDRLEN <=  \
	     (char *)(start) + (len) && a->nla_len >= NLA_HDRLEN &&                   \
	     (char *)a + a->nla_len <= (char *)(start) + (len);                     \
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))

#endif
