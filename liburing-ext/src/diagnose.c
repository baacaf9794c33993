// SPDX-License-Identifier: MIT
/*
 * Device diagnosis for zcrx: sysfs for the device and its queues, ethtool
 * generic netlink for header/data split (ETHTOOL_MSG_RINGS_GET).
 */
#include <dirent.h>
#include <errno.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diagnose.h"
#include "genl.h"

int zcrx_query(struct io_uring_query_zcrx *q, struct ux_query_zcrx_event *qe)
{
	struct io_uring_query_hdr hdr_ev = { 0 };
	struct io_uring_query_hdr hdr = { 0 };
	int ret;

	memset(q, 0, sizeof(*q));
	memset(qe, 0, sizeof(*qe));
	hdr.query_op = IO_URING_QUERY_ZCRX;
	hdr.query_data = (uint64_t)(uintptr_t)q;
	hdr.size = sizeof(*q);
	hdr_ev.query_op = UX_IO_URING_QUERY_ZCRX_EVENT;
	hdr_ev.query_data = (uint64_t)(uintptr_t)qe;
	hdr_ev.size = sizeof(*qe);
	hdr.next_entry = (uint64_t)(uintptr_t)&hdr_ev;

	ret = io_uring_register_query(&hdr);
	if (ret < 0)
		return ret;
	if (hdr.result < 0) {
		memset(q, 0, sizeof(*q));
		return hdr.result;
	}
	if (hdr_ev.result < 0)
		memset(qe, 0, sizeof(*qe));
	return 0;
}

bool zcrx_share_supported(void)
{
	struct io_uring_query_zcrx q;
	struct ux_query_zcrx_event qe;

	return zcrx_query(&q, &qe) == 0 && (q.register_flags & ZCRX_REG_IMPORT) &&
	       q.nr_ctrl_opcodes > ZCRX_CTRL_EXPORT;
}

static unsigned int count_rx_queues(const char *ifname)
{
	char path[128];
	struct dirent *de;
	unsigned int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "rx-", 3))
			n++;
	closedir(dir);
	return n;
}

/* --- ethtool netlink ---------------------------------------------------- */

static void ethtool_hds(const char *ifname, struct uringx_zcrx_verdict *v)
{
	static _Thread_local char reply[NL_BUF];
	struct nlattr *hdr;
	struct nl_msg m;
	struct nlmsghdr *nlh;
	uint16_t family;
	bool seen_split = false;
	int fd, n;

	v->hds = URINGX_HDS_UNKNOWN;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return;
	if (genl_family(fd, ETHTOOL_GENL_NAME, &family))
		goto out;

	nl_begin(&m, family, ETHTOOL_MSG_RINGS_GET, ETHTOOL_GENL_VERSION);
	hdr = nl_put(&m, ETHTOOL_A_RINGS_HEADER | NLA_F_NESTED, NULL, 0);
	{
		size_t before = m.len;

		nl_put(&m, ETHTOOL_A_HEADER_DEV_NAME, ifname, strlen(ifname) + 1);
		hdr->nla_len = (uint16_t)(hdr->nla_len + (m.len - before));
	}
	n = nl_call(fd, &m, reply, sizeof(reply));
	if (n == -EOPNOTSUPP) {
		v->hds = URINGX_HDS_UNSUPPORTED;	/* no get_ringparam at all */
		goto out;
	}
	if (n < 0)
		goto out;
	nlh = (struct nlmsghdr *)reply;
	for_each_attr(a, (char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		      nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		const void *data = (char *)a + NLA_HDRLEN;

		switch (a->nla_type & NLA_TYPE_MASK) {
		case ETHTOOL_A_RINGS_TCP_DATA_SPLIT:
			seen_split = true;
			switch (*(const uint8_t *)data) {
			case ETHTOOL_TCP_DATA_SPLIT_ENABLED:
				v->hds = URINGX_HDS_ENABLED;
				break;
			case ETHTOOL_TCP_DATA_SPLIT_DISABLED:
				v->hds = URINGX_HDS_DISABLED;
				break;
			default:
				v->hds = URINGX_HDS_UNSUPPORTED;
				break;
			}
			break;
		case ETHTOOL_A_RINGS_HDS_THRESH:
			memcpy(&v->hds_thresh, data, sizeof(v->hds_thresh));
			v->hds_thresh_known = true;
			break;
		}
	}
	if (!seen_split)
		v->hds = URINGX_HDS_UNSUPPORTED;
out:
	close(fd);
}

void device_facts(const char *ifname, struct uringx_zcrx_verdict *v)
{
	char path[128];
	struct stat st;

	v->ifindex = if_nametoindex(ifname);
	if (!v->ifindex)
		return;
	v->rx_queues = count_rx_queues(ifname);
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", ifname);
	v->has_parent_device = stat(path, &st) == 0;
	ethtool_hds(ifname, v);
}

enum uringx_reason zcrx_diagnose(const char *ifname, unsigned int queue, int err,
				 struct uringx_zcrx_verdict *out)
{
	struct uringx_zcrx_verdict local = { 0 };
	struct uringx_zcrx_verdict *v = out ? out : &local;

	device_facts(ifname, v);
	if (!v->ifindex || err == -ENODEV)
		return URINGX_REASON_NO_SUCH_DEVICE;
	if (err == -EPERM)
		return URINGX_REASON_NOT_PERMITTED;
	if (queue >= v->rx_queues)
		return URINGX_REASON_NO_SUCH_QUEUE;
	if (err == -EOPNOTSUPP)
		return v->has_parent_device ? URINGX_REASON_NO_QUEUE_API :
					      URINGX_REASON_VIRTUAL_DEVICE;
	if (err == -EBUSY || err == -EEXIST)
		return URINGX_REASON_QUEUE_BUSY;
	if (err == -EINVAL) {
		/* The kernel refuses binding a queue without split headers. */
		if (v->hds == URINGX_HDS_UNSUPPORTED)
			return URINGX_REASON_HDS_UNSUPPORTED;
		if (v->hds == URINGX_HDS_DISABLED)
			return URINGX_REASON_HDS_OFF;
		if (v->hds_thresh_known && v->hds_thresh)
			return URINGX_REASON_HDS_THRESHOLD;
		/* Split reported on, threshold 0, still refused: the kernel
		 * checks the configured mode, and a driver default (netdevsim
		 * reports "on" while unset) does not count.
		 */
		if (v->hds == URINGX_HDS_ENABLED)
			return URINGX_REASON_HDS_UNCONFIGURED;
	}
	if (err == -ENOMEM)
		return URINGX_REASON_NO_MEMORY;
	return URINGX_REASON_OTHER;
}
