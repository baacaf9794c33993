// SPDX-License-Identifier: MIT
/* Generic netlink requests and dumps over a raw NETLINK_GENERIC socket. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "genl.h"

struct nlmsghdr *nl_begin(struct nl_msg *m, uint16_t type, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;
	struct genlmsghdr *g;

	memset(m->buf, 0, sizeof(m->buf));
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = 1;
	g = (struct genlmsghdr *)NLMSG_DATA(nlh);
	g->cmd = cmd;
	g->version = version;
	m->len = NLMSG_LENGTH(GENL_HDRLEN);
	return nlh;
}

struct nlattr *nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->len));

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (data)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	m->len = NLMSG_ALIGN(m->len) + NLA_ALIGN(a->nla_len);
	return a;
}

static int nl_send(int fd, struct nl_msg *m)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;

	nlh->nlmsg_len = (uint32_t)m->len;
	if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

int nl_call(int fd, struct nl_msg *m, char *reply, size_t reply_len)
{
	struct nlmsghdr *nlh;
	ssize_t n;
	int ret;

	ret = nl_send(fd, m);
	if (ret < 0)
		return ret;
	n = recv(fd, reply, reply_len, 0);
	if (n < 0)
		return -errno;
	nlh = (struct nlmsghdr *)reply;
	if (!NLMSG_OK(nlh, (unsigned int)n))
		return -EBADMSG;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(nlh);

		return e->error ? e->error : -ENODATA;
	}
	return (int)n;
}

int nl_dump(int fd, struct nl_msg *m,
	    int (*each)(const struct nlmsghdr *nlh, void *arg), void *arg)
{
	static _Thread_local char reply[NL_BUF * 4];
	int ret;

	((struct nlmsghdr *)m->buf)->nlmsg_flags |= NLM_F_DUMP;
	ret = nl_send(fd, m);
	if (ret < 0)
		return ret;
	for (;;) {
		ssize_t n = recv(fd, reply, sizeof(reply), 0);
		struct nlmsghdr *nlh;
		unsigned int left;

		if (n < 0)
			return -errno;
		left = (unsigned int)n;
		for (nlh = (struct nlmsghdr *)reply; NLMSG_OK(nlh, left);
		     nlh = NLMSG_NEXT(nlh, left)) {
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int err = 0;

				/* A dump's own error comes as a negative DONE payload. */
				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
				return err < 0 ? err : 0;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(nlh);

				return e->error ? e->error : -ENODATA;
			}
			ret = each(nlh, arg);
			if (ret < 0)
				return ret;
		}
	}
}

int genl_family(int fd, const char *name, uint16_t *family)
{
	static _Thread_local char reply[NL_BUF];
	struct nl_msg m;
	struct genlmsghdr *g;
	int n;

	nl_begin(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	nl_put(&m, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	n = nl_call(fd, &m, reply, sizeof(reply));
	if (n < 0)
		return n;
	g = (struct genlmsghdr *)NLMSG_DATA((struct nlmsghdr *)reply);
	for_each_attr(a, (char *)g + GENL_HDRLEN,
		      ((struct nlmsghdr *)reply)->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) {
			memcpy(family, (char *)a + NLA_HDRLEN, sizeof(*family));
			return 0;
		}
	}
	return -ENOENT;
}
