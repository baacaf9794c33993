/* SPDX-License-Identifier: MIT */
/*
 * uringx/steer.h - which NIC rx queue a flow lands on, and choosing it.
 *
 * A zcrx area serves one rx queue, so a server with a ring (and an area) per
 * queue wants each connection's packets on its ring's queue. Two ways:
 *
 *  - Servers steer a port (or one flow) to a queue with an ntuple rule,
 *    uringx_steer_add(). Rules go through the ethtool ioctl
 *    (ETHTOOL_SRXCLSRLINS, as `ethtool -N` does): ethtool netlink has no
 *    ntuple messages.
 *  - Clients choose a local port whose RSS hash lands on the queue they want
 *    (uringx_rss_read(), uringx_rss_bind_port()): the Toeplitz hash with the
 *    device's key and indirection table (ETHTOOL_GRSSH), over the addresses
 *    and ports of the packets that device receives.
 *
 * Errors are negative errnos with a reason: a device without RSS or without
 * ntuple filters, no privilege (CAP_NET_ADMIN for rules), no such device.
 */
#ifndef URINGX_STEER_H
#define URINGX_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uringx/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_rss {
	unsigned int rx_queues;		/* rx + combined channels */
	uint32_t indir_size;		/* entries in @indir */
	uint32_t *indir;		/* queue of each hash bucket */
	uint32_t key_size;		/* bytes in @key */
	uint8_t *key;
	bool toeplitz;			/* the device hashes with Toeplitz (ETH_RSS_HASH_TOP) */
	bool ntuple;			/* the device answers for rx flow rules */
};

/*
 * uringx_rss_read - the RSS configuration of @ifname (the default context).
 * Needs no privilege. Returns 0, or -errno with @why (NO_SUCH_DEVICE,
 * NO_RSS: the driver reports no indirection table or key). Free with
 * uringx_rss_free().
 */
int uringx_rss_read(const char *ifname, struct uringx_rss *out, enum uringx_reason *why);
void uringx_rss_free(struct uringx_rss *rss);

/* The Toeplitz hash of @len bytes of @data under @key (@key_len >= @len + 4). */
uint32_t uringx_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len);

/*
 * uringx_rss_queue - the queue a TCP or UDP packet from @from to @to lands
 * on (both AF_INET or both AF_INET6, ports included), as the device hashes
 * it: Toeplitz over source address, destination address, source port,
 * destination port. -EINVAL for mixed families, -EOPNOTSUPP if the device
 * does not hash with Toeplitz.
 */
int uringx_rss_queue(const struct uringx_rss *rss, const struct sockaddr *from,
		     const struct sockaddr *to);

/*
 * uringx_rss_pick_port - a local port in [@lo, @hi] for a connection from
 * @local (its port ignored) to @remote such that what the device receives
 * from @remote lands on @queue; bind the socket to it before connecting.
 * Starts at a point derived from the addresses so that concurrent callers
 * spread. Returns the port, -EADDRNOTAVAIL if no port in the range maps to
 * @queue, or the errors of uringx_rss_queue().
 */
int uringx_rss_pick_port(const struct uringx_rss *rss, const struct sockaddr *local,
			 const struct sockaddr *remote, unsigned int queue, uint16_t lo,
			 uint16_t hi);

/*
 * uringx_rss_bind_port - binds socket @fd to @local's address and a port in
 * [@lo, @hi] that maps to @queue as uringx_rss_pick_port() computes,
 * skipping ports bind() refuses as in use (EADDRINUSE; an earlier
 * connection in TIME_WAIT, another socket). Returns the port, or
 * -EADDRNOTAVAIL when every matching port is taken, or bind()'s error.
 */
int uringx_rss_bind_port(int fd, const struct uringx_rss *rss, const struct sockaddr *local,
			 const struct sockaddr *remote, unsigned int queue, uint16_t lo,
			 uint16_t hi);

/*
 * uringx_steer_add - an ntuple rule on @ifname: TCP packets to @dst (its
 * port; its address too unless it is the wildcard address) go to rx queue
 * @queue. @rule_out gets the rule's location for uringx_steer_del(). Needs
 * CAP_NET_ADMIN. Returns 0, or -errno with @why (NOT_PERMITTED,
 * NO_SUCH_DEVICE, NO_SUCH_QUEUE, NO_NTUPLE: the driver has no rx flow
 * rules or they are off, `ethtool -K IF ntuple on`).
 */
int uringx_steer_add(const char *ifname, const struct sockaddr *dst, unsigned int queue,
		     uint32_t *rule_out, enum uringx_reason *why);
int uringx_steer_del(const char *ifname, uint32_t rule);

/*
 * Which rx queue received a connection: the kernel records in each socket
 * the NAPI instance its last packet came through (SO_INCOMING_NAPI_ID,
 * CONFIG_NET_RX_BUSY_POLL), and the netdev netlink family says which NAPI
 * serves each rx queue (queue-get). A server with a zcrx area per queue
 * uses the two to hand an accepted connection to the ring whose area that
 * queue fills.
 */
struct uringx_rx_queue_napi {
	uint32_t queue;		/* rx queue index */
	uint32_t napi_id;	/* 0: no NAPI instance (queue stopped, virtual device) */
};

/*
 * uringx_rx_queues_napi - the rx queues of @ifname with their NAPI ids,
 * queue order, at most @max. Returns the number of rx queues the device has
 * (more than @max: only @max written), or -errno with @why (NO_SUCH_DEVICE;
 * OTHER: the kernel has no netdev netlink family, Linux before 6.9). Needs
 * no privilege.
 */
int uringx_rx_queues_napi(const char *ifname, struct uringx_rx_queue_napi *out,
			  unsigned int max, enum uringx_reason *why);

/*
 * uringx_socket_rx_queue - the queue in @queues whose NAPI instance received
 * socket @fd's last packet. -ENOENT with NO_NAPI when the socket has no NAPI
 * id (loopback, a device without NAPI, nothing received yet) or one of no
 * queue in @queues (another device); getsockopt()'s errno otherwise.
 */
int uringx_socket_rx_queue(int fd, const struct uringx_rx_queue_napi *queues, unsigned int n,
			   enum uringx_reason *why);

#ifdef __cplusplus
}
#endif

#endif
