// SPDX-License-Identifier: MIT
/*
 * steer.c - RSS (which queue a flow hashes to) and ntuple rules (which queue
 * a flow is sent to), over the ethtool ioctl; which queue received a socket
 * (SO_INCOMING_NAPI_ID against netdev netlink's queue-get).
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/netdev.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uringx/steer.h"

#include "genl.h"

/* hfunc bit 0: the first of the ETH_SS_RSS_HASH_FUNCS strings, "toeplitz"
 * (the kernel's ETH_RSS_HASH_TOP, not in the UAPI header).
 */
#define RSS_HASH_TOEPLITZ 1u

static int ethtool_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr;
	int fd, ret = 0;

	if (!ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_data = cmd;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

static void set_why(enum uringx_reason *why, enum uringx_reason r)
{
	if (why)
		*why = r;
}

static enum uringx_reason reason_of(int err, enum uringx_reason unsupported)
{
	switch (err) {
	case -ENODEV: return URINGX_REASON_NO_SUCH_DEVICE;
	case -EPERM: return URINGX_REASON_NOT_PERMITTED;
	case -ENOMEM: return URINGX_REASON_NO_MEMORY;
	case -EOPNOTSUPP: return unsupported;
	default: return URINGX_REASON_OTHER;
	}
}

int uringx_rss_read(const char *ifname, struct uringx_rss *out, enum uringx_reason *why)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ethtool_rxnfc cnt = { .cmd = ETHTOOL_GRXCLSRLCNT };
	struct ethtool_rxfh head = { .cmd = ETHTOOL_GRSSH };
	struct ethtool_rxfh *rxfh;
	size_t cfg;
	int ret;

	set_why(why, URINGX_REASON_NONE);
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!if_nametoindex(ifname ? ifname : "")) {
		set_why(why, URINGX_REASON_NO_SUCH_DEVICE);
		return -ENODEV;
	}
	ret = ethtool_ioctl(ifname, &head);
	if (!ret && (!head.indir_size || !head.key_size))
		ret = -EOPNOTSUPP;
	if (ret) {
		set_why(why, reason_of(ret, URINGX_REASON_NO_RSS));
		return ret;
	}
	cfg = head.indir_size * sizeof(uint32_t) + head.key_size;
	rxfh = calloc(1, sizeof(*rxfh) + cfg);
	out->indir = calloc(head.indir_size, sizeof(uint32_t));
	out->key = malloc(head.key_size);
	if (!rxfh || !out->indir || !out->key) {
		free(rxfh);
		uringx_rss_free(out);
		set_why(why, URINGX_REASON_NO_MEMORY);
		return -ENOMEM;
	}
	rxfh->cmd = ETHTOOL_GRSSH;
	rxfh->indir_size = head.indir_size;
	rxfh->key_size = head.key_size;
	ret = ethtool_ioctl(ifname, rxfh);
	if (ret) {
		free(rxfh);
		uringx_rss_free(out);
		set_why(why, reason_of(ret, URINGX_REASON_NO_RSS));
		return ret;
	}
	out->indir_size = rxfh->indir_size;
	out->key_size = rxfh->key_size;
	memcpy(out->indir, rxfh->rss_config, out->indir_size * sizeof(uint32_t));
	memcpy(out->key, (uint8_t *)rxfh->rss_config + out->indir_size * sizeof(uint32_t),
	       out->key_size);
	out->toeplitz = rxfh->hfunc & RSS_HASH_TOEPLITZ;
	free(rxfh);

	if (!ethtool_ioctl(ifname, &ch))
		out->rx_queues = ch.rx_count + ch.combined_count;
	out->ntuple = !ethtool_ioctl(ifname, &cnt);
	return 0;
}

void uringx_rss_free(struct uringx_rss *rss)
{
	free(rss->indir);
	free(rss->key);
	rss->indir = NULL;
	rss->key = NULL;
	rss->indir_size = rss->key_size = 0;
}

uint32_t uringx_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len)
{
	uint32_t hash = 0, window;

	if (!key || !data || key_len < 4 || len > key_len - 4)
		return 0;
	/* The 32 key bits aligned with the current input bit, sliding by one. */
	window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	for (size_t i = 0; i < len; i++) {
		for (int bit = 7; bit >= 0; bit--) {
			if (data[i] & (1u << bit))
				hash ^= window;
			window = window << 1 | ((key[i + 4] >> bit) & 1);
		}
	}
	return hash;
}

/* The hash input of a packet from @from to @to: addresses, then ports. */
static int flow_input(const struct sockaddr *from, const struct sockaddr *to, uint8_t *in,
		      size_t *len)
{
	if (!from || !to || from->sa_family != to->sa_family)
		return -EINVAL;
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *f = (const void *)from, *t = (const void *)to;

		memcpy(in, &f->sin_addr, 4);
		memcpy(in + 4, &t->sin_addr, 4);
		memcpy(in + 8, &f->sin_port, 2);
		memcpy(in + 10, &t->sin_port, 2);
		*len = 12;
		return 0;
	}
	if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *f = (const void *)from, *t = (const void *)to;

		memcpy(in, &f->sin6_addr, 16);
		memcpy(in + 16, &t->sin6_addr, 16);
		memcpy(in + 32, &f->sin6_port, 2);
		memcpy(in + 34, &t->sin6_port, 2);
		*len = 36;
		return 0;
	}
	return -EAFNOSUPPORT;
}

int uringx_rss_queue(const struct uringx_rss *rss, const struct sockaddr *from,
		     const struct sockaddr *to)
{
	uint8_t in[36];
	size_t len;
	int ret;

	if (!rss || !rss->indir_size || !rss->key)
		return -EINVAL;
	if (!rss->toeplitz)
		return -EOPNOTSUPP;
	ret = flow_input(from, to, in, &len);
	if (ret)
		return ret;
	if (len + 4 > rss->key_size)
		return -EOPNOTSUPP;	/* key too short for this family's tuple */
	return (int)rss->indir[uringx_toeplitz(rss->key, rss->key_size, in, len) %
			       rss->indir_size];
}

/* The next port at or after step @from of [@lo, @hi] (from a start derived
 * from the addresses) that maps to @queue; *@step gets its step. */
static int next_port(const struct uringx_rss *rss, const struct sockaddr *local,
		     const struct sockaddr *remote, unsigned int queue, uint16_t lo, uint16_t hi,
		     uint32_t from, uint32_t *step)
{
	struct sockaddr_in6 me;
	uint8_t in[36];
	size_t len;
	uint32_t span, start;
	int ret;

	if (!rss || !rss->key || !local || lo > hi || !lo)
		return -EINVAL;
	ret = flow_input(remote, local, in, &len);
	if (ret)
		return ret;
	/* Spread callers with different addresses: start where they point. */
	span = (uint32_t)(hi - lo) + 1;
	start = uringx_toeplitz(rss->key, rss->key_size, in, len - 4) % span;
	memset(&me, 0, sizeof(me));
	memcpy(&me, local, local->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
							  sizeof(struct sockaddr_in));
	for (uint32_t i = from; i < span; i++) {
		uint16_t port = (uint16_t)(lo + (start + i) % span);

		if (me.sin6_family == AF_INET6)
			me.sin6_port = htons(port);
		else
			((struct sockaddr_in *)&me)->sin_port = htons(port);
		ret = uringx_rss_queue(rss, remote, (const struct sockaddr *)&me);
		if (ret < 0)
			return ret;
		if ((unsigned int)ret == queue) {
			*step = i;
			return port;
		}
	}
	return -EADDRNOTAVAIL;
}

int uringx_rss_pick_port(const struct uringx_rss *rss, const struct sockaddr *local,
			 const struct sockaddr *remote, unsigned int queue, uint16_t lo,
			 uint16_t hi)
{
	uint32_t step;

	return next_port(rss, local, remote, queue, lo, hi, 0, &step);
}

int uringx_rss_bind_port(int fd, const struct uringx_rss *rss, const struct sockaddr *local,
			 const struct sockaddr *remote, unsigned int queue, uint16_t lo,
			 uint16_t hi)
{
	struct sockaddr_storage me;
	socklen_t len = local && local->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
								  sizeof(struct sockaddr_in);
	uint32_t step = 0;

	if (!local)
		return -EINVAL;
	memset(&me, 0, sizeof(me));
	memcpy(&me, local, len);
	for (uint32_t from = 0;; from = step + 1) {
		int port = next_port(rss, local, remote, queue, lo, hi, from, &step);

		if (port < 0)
			return port;
		if (me.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&me)->sin6_port = htons((uint16_t)port);
		else
			((struct sockaddr_in *)&me)->sin_port = htons((uint16_t)port);
		if (!bind(fd, (struct sockaddr *)&me, len))
			return port;
		if (errno != EADDRINUSE)
			return -errno;
	}
}

int uringx_steer_add(const char *ifname, const struct sockaddr *dst, unsigned int queue,
		     uint32_t *rule_out, enum uringx_reason *why)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_SRXCLSRLINS };
	struct ethtool_rx_flow_spec *fs = &nfc.fs;
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	int ret;

	set_why(why, URINGX_REASON_NONE);
	if (!dst || (dst->sa_family != AF_INET && dst->sa_family != AF_INET6)) {
		set_why(why, URINGX_REASON_OTHER);
		return -EINVAL;
	}
	if (!if_nametoindex(ifname ? ifname : "")) {
		set_why(why, URINGX_REASON_NO_SUCH_DEVICE);
		return -ENODEV;
	}
	if (!ethtool_ioctl(ifname, &ch) && queue >= ch.rx_count + ch.combined_count) {
		set_why(why, URINGX_REASON_NO_SUCH_QUEUE);
		return -EINVAL;
	}
	if (dst->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)dst;

		fs->flow_type = TCP_V4_FLOW;
		fs->h_u.tcp_ip4_spec.pdst = a->sin_port;
		fs->m_u.tcp_ip4_spec.pdst = 0xffff;
		if (a->sin_addr.s_addr != htonl(INADDR_ANY)) {
			fs->h_u.tcp_ip4_spec.ip4dst = a->sin_addr.s_addr;
			fs->m_u.tcp_ip4_spec.ip4dst = 0xffffffff;
		}
	} else {
		const struct sockaddr_in6 *a = (const void *)dst;

		fs->flow_type = TCP_V6_FLOW;
		fs->h_u.tcp_ip6_spec.pdst = a->sin6_port;
		fs->m_u.tcp_ip6_spec.pdst = 0xffff;
		if (!IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) {
			memcpy(fs->h_u.tcp_ip6_spec.ip6dst, &a->sin6_addr, 16);
			memset(fs->m_u.tcp_ip6_spec.ip6dst, 0xff, 16);
		}
	}
	fs->ring_cookie = queue;
	fs->location = RX_CLS_LOC_ANY;
	ret = ethtool_ioctl(ifname, &nfc);
	if (ret) {
		set_why(why, reason_of(ret, URINGX_REASON_NO_NTUPLE));
		return ret;
	}
	if (rule_out)
		*rule_out = fs->location;
	return 0;
}

int uringx_steer_del(const char *ifname, uint32_t rule)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_SRXCLSRLDEL };

	nfc.fs.location = rule;
	return ethtool_ioctl(ifname, &nfc);
}

/* --- rx queue of a socket: SO_INCOMING_NAPI_ID and netdev queue-get ------ */

struct queue_dump {
	uint32_t ifindex;
	struct uringx_rx_queue_napi *out;
	unsigned int max;
	unsigned int count;
};

static int queue_one(const struct nlmsghdr *nlh, void *arg)
{
	struct queue_dump *d = arg;
	uint32_t id = UINT32_MAX, type = UINT32_MAX, napi = 0, ifindex = 0;

	for_each_attr(a, (char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		      nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		uint32_t v;

		if (a->nla_len < NLA_HDRLEN + sizeof(v))
			continue;
		memcpy(&v, (char *)a + NLA_HDRLEN, sizeof(v));
		switch (a->nla_type & NLA_TYPE_MASK) {
		case NETDEV_A_QUEUE_ID: id = v; break;
		case NETDEV_A_QUEUE_TYPE: type = v; break;
		case NETDEV_A_QUEUE_NAPI_ID: napi = v; break;
		case NETDEV_A_QUEUE_IFINDEX: ifindex = v; break;
		}
	}
	if (type != NETDEV_QUEUE_TYPE_RX || id == UINT32_MAX || ifindex != d->ifindex)
		return 0;
	/* The dump lists rx queues in order; keep the array indexed by queue. */
	if (id < d->max) {
		d->out[id].queue = id;
		d->out[id].napi_id = napi;
	}
	if (id + 1 > d->count)
		d->count = id + 1;
	return 0;
}

int uringx_rx_queues_napi(const char *ifname, struct uringx_rx_queue_napi *out,
			  unsigned int max, enum uringx_reason *why)
{
	struct queue_dump d = { .out = out, .max = out ? max : 0 };
	struct nl_msg m;
	uint16_t family;
	int fd, ret;

	set_why(why, URINGX_REASON_NONE);
	if (!ifname || (max && !out))
		return -EINVAL;
	d.ifindex = if_nametoindex(ifname);
	if (!d.ifindex) {
		set_why(why, URINGX_REASON_NO_SUCH_DEVICE);
		return -ENODEV;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0) {
		set_why(why, URINGX_REASON_OTHER);
		return -errno;
	}
	ret = genl_family(fd, NETDEV_FAMILY_NAME, &family);
	if (ret == 0) {
		nl_begin(&m, family, NETDEV_CMD_QUEUE_GET, NETDEV_FAMILY_VERSION);
		nl_put(&m, NETDEV_A_QUEUE_IFINDEX, &d.ifindex, sizeof(d.ifindex));
		ret = nl_dump(fd, &m, queue_one, &d);
	}
	close(fd);
	if (ret < 0) {
		set_why(why, ret == -ENODEV ? URINGX_REASON_NO_SUCH_DEVICE : URINGX_REASON_OTHER);
		return ret;
	}
	return (int)d.count;
}

int uringx_socket_rx_queue(int fd, const struct uringx_rx_queue_napi *queues, unsigned int n,
			   enum uringx_reason *why)
{
	unsigned int napi = 0;
	socklen_t len = sizeof(napi);

	set_why(why, URINGX_REASON_NONE);
	if (n && !queues)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, &napi, &len)) {
		set_why(why, URINGX_REASON_OTHER);
		return -errno;
	}
	/* NAPI ids below MIN_NAPI_ID (sender_cpu values) name no instance. */
	if (napi)
		for (unsigned int i = 0; i < n; i++)
			if (queues[i].napi_id == napi)
				return (int)queues[i].queue;
	set_why(why, URINGX_REASON_NO_NAPI);
	return -ENOENT;
}
