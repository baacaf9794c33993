// SPDX-License-Identifier: MIT
/*
 * nictx_test - IORING_REGISTER_NET_TX_BUF and SEND_ZC from a NIC-registered
 * pool on a netdevsim port (inside kernel/run-vm, after nsim_pair): bad
 * registrations, other opcodes and sockets refused, gathered sends
 * (SENDMSG_ZC and vectored SEND_ZC, verified at the peer, with the port's
 * DMA counters when NICTX_TX_COUNTERS names them), -ENODEV for a route
 * through another device, the slot cleared with sends in flight, and the
 * device removed under a live pool. The streamed data path (verified bytes,
 * zero-copy reports, DMA counters) is netdevsim_nictx.sh's uringx-stream run.
 *
 * Usage (in namespace zc-a): nictx_test IFNAME NSIM_ID PEER_NETNS PEER_ADDR
 *                            [VETH_PEER_ADDR]
 *                            nictx_test --echo IFNAME PEER_NETNS OWN_ADDR
 * (VETH_PEER_ADDR: the peer's end of a veth pair, for the route check)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netdev.h>
#include <linux/netlink.h>
#include <linux/udmabuf.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uringx/uringx.h>

#include "../../liburing-ext/src/uapi.h"

#define CHUNK (256u << 10)
#define POOL (16u * CHUNK)

static const char *peer_netns, *peer_addr;
static int failures;
/* CQEs of this pool's sends may arrive while complete_one() waits. */
static struct uringx_nictx *tracked;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			printf("ok: ");                                        \
		} else {                                                       \
			printf("FAIL: ");                                      \
			failures++;                                            \
		}                                                              \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		fflush(stdout);                                                \
	} while (0)

static int register_net_tx(struct io_uring *ring, int dmabuf_fd, unsigned int ifindex,
			   unsigned int slot, unsigned int flags)
{
	struct ux_net_tx_buf reg = { .dmabuf_fd = (uint32_t)dmabuf_fd, .ifindex = ifindex,
				     .buf_index = slot, .flags = flags };

	return io_uring_register(ring->ring_fd, UX_IORING_REGISTER_NET_TX_BUF, &reg, 1);
}

/* Submits what is prepared and returns the first CQE's res; waits for the
 * notification too when the first CQE says one follows. */
static int complete_one(struct io_uring *ring, bool *copied)
{
	struct io_uring_cqe *cqe;
	int res, ret;
	bool more;

	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	for (;;) {
		struct uringx_nictx_event ev;

		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			return ret;
		if (!tracked || !uringx_nictx_owns(cqe))
			break;
		uringx_nictx_complete(tracked, cqe, &ev);
		io_uring_cqe_seen(ring, cqe);
	}
	res = cqe->res;
	more = cqe->flags & IORING_CQE_F_MORE;
	io_uring_cqe_seen(ring, cqe);
	while (more) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			return ret;
		if (tracked && uringx_nictx_owns(cqe)) {
			struct uringx_nictx_event ev;

			uringx_nictx_complete(tracked, cqe, &ev);
		} else if (cqe->flags & IORING_CQE_F_NOTIF) {
			if (copied)
				*copied = cqe->res & IORING_NOTIF_USAGE_ZC_COPIED;
			more = false;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	return res;
}

static int send_from_slot(struct io_uring *ring, int fd, uint64_t offset, uint32_t len,
			  unsigned int slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_send_zc_fixed(sqe, fd, (void *)(uintptr_t)offset, len, 0,
				    IORING_SEND_ZC_REPORT_USAGE, slot);
	return complete_one(ring, NULL);
}

/* The peer: in its own network namespace, accepts connections and reads
 * them, or waits while *hold is set. */
struct peer {
	int lfd;
	volatile int hold;
	uint64_t received;
	pthread_t thread;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	char *buf = malloc(1 << 20);

	for (;;) {
		int fd = accept(p->lfd, NULL, NULL);
		ssize_t n;

		if (fd < 0)
			break;
		for (;;) {
			while (p->hold)
				usleep(1000);
			n = read(fd, buf, 1 << 20);
			if (n <= 0)
				break;
			__atomic_add_fetch(&p->received, (uint64_t)n, __ATOMIC_RELAXED);
		}
		close(fd);
	}
	free(buf);
	return NULL;
}

/* A listening socket on @addr:@port in the peer namespace, or -errno. */
static int listen_in_peer(const char *addr_text, uint16_t port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	char path[128];
	int nsfd, own, lfd, one = 1;

	/* Only this thread changes namespace, for the socket's sake. */
	snprintf(path, sizeof(path), "/run/netns/%s", peer_netns);
	own = open("/proc/thread-self/ns/net", O_RDONLY);
	nsfd = open(path, O_RDONLY);
	if (own < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET))
		return -errno;
	inet_pton(AF_INET, addr_text, &addr.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 8))
		return -errno;
	if (setns(own, CLONE_NEWNET))
		return -errno;
	close(own);
	close(nsfd);
	return lfd;
}

static int start_peer(struct peer *p, uint16_t port)
{
	p->lfd = listen_in_peer(peer_addr, port);
	if (p->lfd < 0)
		return p->lfd;
	return pthread_create(&p->thread, NULL, peer_main, p) ? -EAGAIN : 0;
}

static int connect_to(const char *addr_text, uint16_t port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, addr_text, &addr.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	return fd;
}

static int connect_peer(uint16_t port)
{
	return connect_to(peer_addr, port);
}

static int loopback_pair(int *client, int *server)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len))
		return -errno;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*client, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	*server = accept(lfd, NULL, NULL);
	close(lfd);
	return *server < 0 ? -errno : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_registration(const char *ifname)
{
	struct uringx_nictx pool, second;
	struct io_uring ring, bare;
	int ret;

	io_uring_queue_init(8, &ring, 0);
	io_uring_queue_init(8, &bare, 0);
	io_uring_register_buffers_sparse(&ring, 4);

	ret = uringx_nictx_create(&pool, &bare, ifname, POOL, CHUNK, 0);
	CHECK(ret == -ENXIO, "a ring without a buffer table: %s", uringx_strerror(ret));

	ret = uringx_nictx_create(&pool, &ring, "lo", POOL, CHUNK, 0);
	CHECK(ret == -EOPNOTSUPP && pool.reason == URINGX_REASON_NO_NETMEM_TX,
	      "lo (no netmem TX): %s: %s", uringx_strerror(ret), uringx_reason_str(pool.reason));

	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 9);
	CHECK(ret == -EINVAL, "slot 9 of a 4-slot table: %s", uringx_strerror(ret));

	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 1);
	CHECK(ret == 0 && pool.dmabuf_id != 0, "registered on %s slot 1: binding id %u", ifname,
	      pool.dmabuf_id);
	if (ret)
		goto out;

	ret = register_net_tx(&ring, pool.dmabuf_fd, pool.ifindex, 1, 0);
	CHECK(ret == -EBUSY, "a second pool on the same slot: %s", uringx_strerror(ret));
	ret = register_net_tx(&ring, pool.dmabuf_fd, pool.ifindex, 2, 1);
	CHECK(ret == -EINVAL, "unknown flags: %s", uringx_strerror(ret));
	ret = register_net_tx(&ring, pool.dmabuf_fd, 999999, 2, 0);
	CHECK(ret == -ENODEV, "no such ifindex: %s", uringx_strerror(ret));
	ret = register_net_tx(&ring, pool.memfd, pool.ifindex, 2, 0);
	CHECK(ret == -EINVAL, "a memfd that is not a dma-buf: %s", uringx_strerror(ret));

	/* The same dma-buf may be bound twice, as netlink allows. */
	ret = uringx_nictx_create(&second, &ring, ifname, POOL, CHUNK, 2);
	CHECK(ret == 0 && second.dmabuf_id != pool.dmabuf_id,
	      "a second pool on slot 2: binding id %u", second.dmabuf_id);
	if (!ret)
		uringx_nictx_destroy(&second);
	uringx_nictx_destroy(&pool);
out:
	io_uring_queue_exit(&bare);
	io_uring_queue_exit(&ring);
}

static void test_refusals(const char *ifname)
{
	struct io_uring_sqe *sqe;
	struct uringx_nictx pool;
	struct io_uring ring;
	int ret, pfd[2], client = -1, server = -1, udp;

	io_uring_queue_init(8, &ring, 0);
	io_uring_register_buffers_sparse(&ring, 2);
	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 0);
	if (ret) {
		CHECK(0, "pool for the refusal tests: %s", uringx_strerror(ret));
		return;
	}

	pipe(pfd);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write_fixed(sqe, pfd[1], (void *)0, 4096, 0, 0);
	ret = complete_one(&ring, NULL);
	CHECK(ret == -EOPNOTSUPP, "WRITE_FIXED from the slot: %s", uringx_strerror(ret));

	loopback_pair(&client, &server);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_send(sqe, client, (void *)0, 4096, 0);
	sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
	sqe->buf_index = 0;
	ret = complete_one(&ring, NULL);
	CHECK(ret == -EOPNOTSUPP, "plain SEND with the slot: %s", uringx_strerror(ret));

	ret = send_from_slot(&ring, client, 0, 4096, 0);
	CHECK(ret == -ENODEV, "SEND_ZC over lo, not the pool's device: %s", uringx_strerror(ret));

	ret = send_from_slot(&ring, client, POOL - 100, 4096, 0);
	CHECK(ret == -EFAULT, "a range past the pool's end: %s", uringx_strerror(ret));

	udp = socket(AF_INET, SOCK_DGRAM, 0);
	{
		struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(9) };

		inet_pton(AF_INET, peer_addr, &addr.sin_addr);
		connect(udp, (struct sockaddr *)&addr, sizeof(addr));
	}
	ret = send_from_slot(&ring, udp, 0, 1000, 0);
	CHECK(ret == -EOPNOTSUPP, "SEND_ZC from the slot on UDP: %s", uringx_strerror(ret));

	close(udp);
	close(client);
	close(server);
	close(pfd[0]);
	close(pfd[1]);
	uringx_nictx_destroy(&pool);
	io_uring_queue_exit(&ring);
}

/* A TCP connection whose route leaves through another real device (a veth
 * pair to the same peer namespace): SEND_ZC from the pool fails with
 * -ENODEV, the data never copied into ordinary frags, nothing queued. */
static void test_route_via_veth(const char *ifname, const char *veth_peer_addr)
{
	struct uringx_nictx pool;
	struct io_uring ring;
	int ret, lfd, client;

	io_uring_queue_init(8, &ring, 0);
	io_uring_register_buffers_sparse(&ring, 2);
	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 0);
	if (ret) {
		CHECK(0, "pool for the veth route test: %s", uringx_strerror(ret));
		io_uring_queue_exit(&ring);
		return;
	}
	lfd = listen_in_peer(veth_peer_addr, 7500);
	client = lfd < 0 ? lfd : connect_to(veth_peer_addr, 7500);
	CHECK(client >= 0, "connected to %s:7500 over the veth pair: %s", veth_peer_addr,
	      client < 0 ? strerror(-client) : "ok");
	if (client >= 0) {
		int unsent = -1;

		ret = send_from_slot(&ring, client, 0, 4096, 0);
		CHECK(ret == -ENODEV, "SEND_ZC over veth, not the pool's device: %s",
		      uringx_strerror(ret));
		ioctl(client, SIOCOUTQ, &unsent);
		CHECK(unsent == 0, "nothing queued on the veth socket (%d bytes)", unsent);
		close(client);
	}
	if (lfd >= 0)
		close(lfd);
	uringx_nictx_destroy(&pool);
	io_uring_queue_exit(&ring);
}

/*
 * One dma-buf both ways: a zcrx area (udmabuf) on the pool's own port and
 * the same dma-buf bound for that port's TX. A peer's stream is received
 * zero-copy into the area and sent back from the very bytes that arrived
 * (SEND_ZC on the TX slot at each view's dma-buf offset, one send at a time
 * so the stream keeps its order); a view goes back to the refill ring only
 * once its sends are notified. The peer verifies every byte.
 */
#define ECHO_BYTES (4u << 20)
#define ECHO_PORT 7600
#define ECHO_VIEWS 8192u
#define ECHO_RECV_TAG 1ull
#define ECHO_SEND_TAG 2ull
#define ECHO_EVENT_TAG 3ull

static uint8_t echo_byte(uint64_t i)
{
	return (uint8_t)(i * 31 + 7);
}

struct echo_peer {
	pthread_t writer, reader;
	int fd;
	uint64_t received, bad, first_bad;
	int err;
};

static void *echo_peer_write(void *arg)
{
	struct echo_peer *e = arg;
	static uint8_t buf[65536];
	uint64_t sent = 0;

	while (sent < ECHO_BYTES) {
		size_t n = sizeof(buf), i;
		ssize_t w;

		if (n > ECHO_BYTES - sent)
			n = ECHO_BYTES - sent;
		for (i = 0; i < n; i++)
			buf[i] = echo_byte(sent + i);
		w = write(e->fd, buf, n);
		if (w <= 0) {
			e->err = errno;
			return NULL;
		}
		sent += (uint64_t)w;
	}
	shutdown(e->fd, SHUT_WR);
	return NULL;
}

static void *echo_peer_read(void *arg)
{
	struct echo_peer *e = arg;
	static uint8_t buf[65536];
	ssize_t n;

	while ((n = read(e->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != echo_byte(e->received + (uint64_t)i) && !e->bad++)
				e->first_bad = e->received + (uint64_t)i;
		e->received += (uint64_t)n;
	}
	if (n < 0)
		e->err = errno;
	return NULL;
}

/* Connects from the peer namespace to @addr_text:@port. */
static int connect_from_peer(const char *addr_text, uint16_t port)
{
	char path[128];
	int nsfd, own, fd;

	snprintf(path, sizeof(path), "/run/netns/%s", peer_netns);
	own = open("/proc/thread-self/ns/net", O_RDONLY);
	nsfd = open(path, O_RDONLY);
	if (own < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET))
		return -errno;
	fd = connect_to(addr_text, port);
	if (setns(own, CLONE_NEWNET))
		abort();	/* cannot go on in the wrong namespace */
	close(own);
	close(nsfd);
	return fd;
}

struct echo_view {
	uint64_t off, token, pos;
	uint32_t len, sent, notifs;
};

static void print_tcp_info(const char *name, int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		printf("stall: %s: TCP_INFO: %s\n", name, strerror(errno));
		return;
	}
	printf("stall: %s: state %u, bytes sent %llu acked %llu received %llu, "
	       "retransmitted %u, backoff %u, rto %u us, unacked %u, lost %u\n", name,
	       ti.tcpi_state, (unsigned long long)ti.tcpi_bytes_sent,
	       (unsigned long long)ti.tcpi_bytes_acked, (unsigned long long)ti.tcpi_bytes_received,
	       ti.tcpi_total_retrans, ti.tcpi_backoff, ti.tcpi_rto, ti.tcpi_unacked, ti.tcpi_lost);
}

/* Bytes of @v in @area that are not the peer's stream at their position. */
static uint32_t echo_view_bad(const char *area, const struct echo_view *v)
{
	const uint8_t *p = (const uint8_t *)area + v->off;
	uint32_t bad = 0;

	for (uint32_t i = 0; i < v->len; i++)
		bad += p[i] != echo_byte(v->pos + i);
	return bad;
}

/*
 * Prep functions leave user_data to the caller, as liburing's do: a reused
 * SQE still carries the tag of the SEND_ZC it held before, and a receive
 * with that tag would be taken for a send.
 */
static void echo_prep_recv(struct io_uring *ring, struct uringx_zcrx *z, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	uringx_zcrx_prep_recv(z, sqe, fd);
	io_uring_sqe_set_data64(sqe, ECHO_RECV_TAG << 56);
}

static void test_one_dmabuf_both_ways(const char *ifname, const char *own_addr)
{
	struct uringx_zcrx_params zp = { .ifname = ifname, .queue = 0, .area_size = 4u << 20,
					 .rq_entries = 1024, .mem = URINGX_ZCRX_MEM_UDMABUF,
					 .event_user_data = ECHO_EVENT_TAG << 56 };
	static struct echo_view views[ECHO_VIEWS];
	struct io_uring_params params = { .flags = IORING_SETUP_SINGLE_ISSUER |
						   IORING_SETUP_DEFER_TASKRUN |
						   IORING_SETUP_CQE32 };
	uint64_t echoed = 0, notifs = 0, copied_notifs = 0;
	uint32_t head = 0, tail = 0, released = 0;
	uint64_t rx_pos = 0, bad_rx = 0, bad_release = 0, first_bad_rx = 0, first_bad_release = 0;
	enum uringx_reason reason = URINGX_REASON_NONE;
	struct uringx_zcrx_stats stats;
	struct echo_peer peer = { .fd = -1 };
	struct uringx_zcrx *z = NULL;
	bool sending = false, eof = false;
	int ret, lfd = -1, fd = -1, failed = 0;
	struct io_uring ring;
	const char *area;
	uint64_t area_len = 0;
	double deadline;

	memset(views, 0, sizeof(views));
	ret = io_uring_queue_init_params(256, &ring, &params);
	if (ret) {
		CHECK(0, "echo ring: %s", uringx_strerror(ret));
		return;
	}
	io_uring_register_buffers_sparse(&ring, 1);
	ret = uringx_zcrx_create(&ring, &zp, &z, &reason);
	CHECK(ret == 0, "zcrx udmabuf area on %s queue 0: %s%s%s", ifname,
	      ret ? uringx_strerror(ret) : "ok", ret ? ": " : "",
	      ret ? uringx_reason_str(reason) : "");
	if (ret)
		goto out;
	area = uringx_zcrx_area(z, &area_len);
	ret = uringx_zcrx_bind_tx(z, ifname, 0, &reason);
	CHECK(ret == 0 && uringx_zcrx_tx_slot(z) == 0,
	      "the zcrx area's dma-buf bound for %s's TX too (uringx_zcrx_bind_tx): %s%s%s", ifname,
	      ret ? uringx_strerror(ret) : "ok", ret ? ": " : "", ret ? uringx_reason_str(reason) : "");
	if (ret)
		goto out;
	ret = uringx_zcrx_bind_tx(z, ifname, 0, &reason);
	CHECK(ret == -EALREADY, "bound twice: %s (want EALREADY)", uringx_strerror(ret));
	{
		struct io_uring_sqe scratch;

		memset(&scratch, 0xa5, sizeof(scratch));
		ret = uringx_zcrx_prep_send(z, &scratch, 0, area + area_len - 10, 11, 0);
		CHECK(ret == -EINVAL && scratch.opcode == 0xa5,
		      "a send past the area's end: %s (want EINVAL, nothing prepared)",
		      uringx_strerror(ret));
		ret = uringx_zcrx_prep_send(z, &scratch, 0, area - 1, 1, 0);
		CHECK(ret == -EINVAL && scratch.opcode == 0xa5,
		      "a send before the area: %s (want EINVAL, nothing prepared)",
		      uringx_strerror(ret));
	}

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ECHO_PORT) };
		int one = 1;

		inet_pton(AF_INET, own_addr, &a.sin_addr);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1)) {
			CHECK(0, "listen on %s:%d: %s", own_addr, ECHO_PORT, strerror(errno));
			goto out;
		}
	}
	peer.fd = connect_from_peer(own_addr, ECHO_PORT);
	fd = peer.fd < 0 ? -1 : accept(lfd, NULL, NULL);
	if (peer.fd < 0 || fd < 0) {
		CHECK(0, "peer connection: %s", strerror(peer.fd < 0 ? -peer.fd : errno));
		goto out;
	}
	pthread_create(&peer.writer, NULL, echo_peer_write, &peer);
	pthread_create(&peer.reader, NULL, echo_peer_read, &peer);

	echo_prep_recv(&ring, z, fd);
	deadline = now() + 60;
	while ((echoed < ECHO_BYTES || released < tail || !eof) && !failed && now() < deadline) {
		struct __kernel_timespec ts = { 1, 0 };
		struct io_uring_cqe *cqe;

		if (!sending && head < tail) {
			struct echo_view *v = &views[head];
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			ret = uringx_zcrx_prep_send(z, sqe, fd, area + v->off + v->sent,
						    v->len - v->sent, MSG_NOSIGNAL);
			if (ret) {
				CHECK(0, "a view's send: %s", uringx_strerror(ret));
				break;
			}
			sqe->user_data = ECHO_SEND_TAG << 56 | head;
			sending = true;
		}
		ret = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		if (ret == -ETIME || ret == -EINTR)
			continue;
		if (ret < 0) {
			CHECK(0, "echo wait: %s", uringx_strerror(ret));
			break;
		}
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			uint64_t tag = cqe->user_data >> 56;

			if (uringx_zcrx_is_event(z, cqe)) {
				/* a copy-fallback event: the stats count it */
			} else if (tag == ECHO_SEND_TAG) {
				struct echo_view *v = &views[cqe->user_data & 0xffffff];

				if (cqe->flags & IORING_CQE_F_NOTIF) {
					notifs++;
					if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
						copied_notifs++;
					v->notifs--;
				} else if (cqe->res < 0) {
					CHECK(0, "SEND_ZC from the area: %s", uringx_strerror(cqe->res));
					failed = 1;
				} else {
					if (cqe->flags & IORING_CQE_F_MORE)
						v->notifs++;
					v->sent += (uint32_t)cqe->res;
					echoed += (uint64_t)cqe->res;
					sending = false;
					if (v->sent == v->len)
						head++;
				}
				if (v->sent == v->len && !v->notifs && v->token) {
					uint32_t bad = echo_view_bad(area, v);

					if (bad && !bad_release)
						first_bad_release = v->pos;
					bad_release += bad;
					ret = uringx_zcrx_release(z, v->token);
					if (ret) {
						CHECK(0, "the view at %llu back to the refill ring: %s",
						      (unsigned long long)v->pos, uringx_strerror(ret));
						failed = 1;
					}
					uringx_zcrx_flush(z);
					v->token = 0;
					released++;
				}
			} else if (tag != ECHO_RECV_TAG) {
				CHECK(0, "a completion nothing was submitted for: user_data %#llx, res %d",
				      (unsigned long long)cqe->user_data, cqe->res);
				failed = 1;
			} else {
				struct uringx_rx_view view;
				struct uringx_rx_event ev;

				ret = uringx_zcrx_decode(z, cqe, &view, &ev);
				if (ret || ev.error) {
					CHECK(0, "RECV_ZC: %s", uringx_strerror(ret ? ret : ev.error));
					failed = 1;
				} else {
					if (ev.nr_views) {
						if (tail == ECHO_VIEWS) {
							CHECK(0, "more than %u views", ECHO_VIEWS);
							failed = 1;
						} else {
							views[tail].off = (uint64_t)((const char *)view.data - area);
							views[tail].len = view.len;
							views[tail].token = view.token;
							views[tail].pos = rx_pos;
							rx_pos += view.len;
							ret = (int)echo_view_bad(area, &views[tail]);
							if (ret && !bad_rx)
								first_bad_rx = views[tail].pos;
							bad_rx += (uint64_t)ret;
							tail++;
						}
					}
					eof = eof || ev.eof;
					if (ev.rearm && !ev.eof)
						echo_prep_recv(&ring, z, fd);
				}
			}
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	if (echoed < ECHO_BYTES || !eof) {
		/* Where the bytes are: both ends' TCP, and what the peer read. */
		printf("stall: views %u received, %u sent, %u released, a send %s\n", tail, head,
		       released, sending ? "in flight" : "not in flight");
		print_tcp_info("echo socket", fd);
		print_tcp_info("peer socket", peer.fd);
		printf("stall: the peer has read %llu bytes\n",
		       (unsigned long long)__atomic_load_n(&peer.received, __ATOMIC_RELAXED));
	}
	CHECK(echoed == ECHO_BYTES && eof, "echoed %llu of %u bytes from the area they arrived in%s",
	      (unsigned long long)echoed, ECHO_BYTES, eof ? "" : " (no end of stream)");
	shutdown(fd, SHUT_WR);
	pthread_join(peer.writer, NULL);
	pthread_join(peer.reader, NULL);
	CHECK(!bad_rx, "received views hold the peer's bytes: %llu wrong, the first view at %llu",
	      (unsigned long long)bad_rx, (unsigned long long)first_bad_rx);
	CHECK(!bad_release, "views still hold them once their sends are notified: %llu wrong, "
	      "the first view at %llu", (unsigned long long)bad_release,
	      (unsigned long long)first_bad_release);
	if (peer.bad)
		printf("the peer's first wrong byte: %llu\n", (unsigned long long)peer.first_bad);
	CHECK(peer.received == ECHO_BYTES && !peer.bad && !peer.err,
	      "the peer got %llu bytes back, %llu wrong (%s)", (unsigned long long)peer.received,
	      (unsigned long long)peer.bad, peer.err ? strerror(peer.err) : "ok");
	uringx_zcrx_get_stats(z, &stats);
	CHECK(stats.kernel_counts && !stats.copy_count,
	      "received without a copy: zcrx copy fallback %llu completions",
	      (unsigned long long)stats.copy_count);
	CHECK(notifs > 0 && !copied_notifs, "sent without a copy: %llu notifications, %llu copied",
	      (unsigned long long)notifs, (unsigned long long)copied_notifs);
	CHECK(released == tail, "%u of %u views back in the refill ring after their sends",
	      released, tail);
out:
	if (fd >= 0)
		close(fd);
	if (peer.fd >= 0)
		close(peer.fd);
	if (lfd >= 0)
		close(lfd);
	io_uring_queue_exit(&ring);
	uringx_zcrx_destroy(z);
}

/* Sends queued behind a full receive window keep the pool alive after its
 * slot is cleared, and complete; the cleared slot then refuses. */
/* A reader in the peer namespace that keeps what it reads, for comparing. */
struct sink {
	int lfd;
	uint8_t *buf;
	size_t cap, got;
	pthread_t thread;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return NULL;
	while (s->got < s->cap) {
		n = read(fd, s->buf + s->got, s->cap - s->got);
		if (n <= 0)
			break;
		s->got += (size_t)n;
	}
	close(fd);
	return NULL;
}

static uint8_t vec_byte(size_t pool_offset)
{
	return (uint8_t)(pool_offset * 131 + (pool_offset >> 12));
}

/* netdevsim's transmit counter @name of the sender port, or -1: the script
 * mounts debugfs where `ip netns exec` does not hide it (NICTX_TX_COUNTERS). */
static long long tx_counter(const char *name)
{
	const char *dir = getenv("NICTX_TX_COUNTERS");
	char path[256];
	long long v = -1;
	FILE *f;

	if (!dir)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* SENDMSG_ZC on slot 0 (liburing's prep helpers leave user_data as it was). */
static struct io_uring_sqe *prep_sendmsg_slot(struct io_uring *ring, int fd,
					      const struct msghdr *msg, int flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_sendmsg_zc_fixed(sqe, fd, msg, flags, 0);
	sqe->user_data = 0;
	return sqe;
}

/* Kernel patch 16: SENDMSG_ZC and vectored SEND_ZC from the slot gather
 * ranges of the pool in the order given, verified byte for byte at the
 * peer, never copied and never DMA-mapped per packet; a control message of
 * the caller's, an empty or out-of-pool segment and another route are
 * refused. */
static void test_vectored(const char *ifname, uint16_t port)
{
	/* Pool ranges, out of order and across chunks, the last one whole. */
	static const struct {
		uint64_t off;
		uint32_t len;
	} gather[] = {
		{ 3 * CHUNK + 100, 5000 }, { 7, 70000 }, { POOL - 4096, 4096 }, { 9 * CHUNK, CHUNK },
	};
	struct iovec iov[4], lib_iov[3];
	struct sink sink = { 0 };
	struct uringx_nictx pool;
	struct io_uring ring;
	struct msghdr msg = { 0 };
	long long maps0, bytes0, maps1, bytes1;
	size_t want = 0, lib_want = 0, i, bad = SIZE_MAX;
	uint8_t *expect, *chunk_base;
	bool copied = true;
	int ret, fd, client = -1, server = -1, chunk, res, notifs = 0;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	io_uring_queue_init(16, &ring, 0);
	io_uring_register_buffers_sparse(&ring, 1);
	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 0);
	if (ret) {
		CHECK(0, "pool for the vectored sends: %s", uringx_strerror(ret));
		return;
	}
	for (i = 0; i < POOL; i++)
		((uint8_t *)pool.base)[i] = vec_byte(i);
	for (i = 0; i < 4; i++) {
		iov[i].iov_base = (void *)(uintptr_t)gather[i].off;
		iov[i].iov_len = gather[i].len;
		want += gather[i].len;
	}
	/* The library's form: three ranges of one chunk, header last. */
	chunk = uringx_nictx_alloc(&pool);
	chunk_base = uringx_nictx_chunk(&pool, (uint32_t)chunk);
	lib_iov[0] = (struct iovec){ chunk_base + 4096, 1000 };
	lib_iov[1] = (struct iovec){ chunk_base + 200000, 60000 };
	lib_iov[2] = (struct iovec){ chunk_base, 64 };
	expect = malloc(want + 61064);
	for (i = 0, want = 0; i < 4; i++)
		for (size_t j = 0; j < gather[i].len; j++)
			expect[want++] = vec_byte(gather[i].off + j);
	for (i = 0; i < 3; i++) {
		size_t off = (size_t)((uint8_t *)lib_iov[i].iov_base - (uint8_t *)pool.base);

		for (size_t j = 0; j < lib_iov[i].iov_len; j++)
			expect[want + lib_want++] = vec_byte(off + j);
	}

	sink.cap = want + lib_want;
	sink.buf = malloc(sink.cap);
	sink.lfd = listen_in_peer(peer_addr, port);
	if (sink.lfd < 0 || pthread_create(&sink.thread, NULL, sink_main, &sink)) {
		CHECK(0, "the verifying peer: %s", uringx_strerror(sink.lfd));
		return;
	}
	fd = connect_peer(port);
	maps0 = tx_counter("tx_dma_maps");
	bytes0 = tx_counter("tx_netmem_bytes");

	msg.msg_iov = iov;
	msg.msg_iovlen = 4;
	sqe = prep_sendmsg_slot(&ring, fd, &msg, MSG_WAITALL);
	sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
	res = complete_one(&ring, &copied);
	CHECK(res == (int)want && !copied, "SENDMSG_ZC of 4 pool ranges: %d of %zu bytes, %s", res,
	      want, copied ? "reported copied" : "zero-copy");

	ret = uringx_nictx_prep_sendv(&pool, io_uring_get_sqe(&ring), fd, (uint32_t)chunk,
				      lib_iov, 3, 5, MSG_WAITALL);
	CHECK(ret == 0, "uringx_nictx_prep_sendv of 3 ranges of chunk %d: %s", chunk,
	      uringx_strerror(ret));
	io_uring_submit(&ring);
	res = -1;
	while (notifs < 1 && !io_uring_wait_cqe(&ring, &cqe)) {
		struct uringx_nictx_event ev;

		if (!uringx_nictx_complete(&pool, cqe, &ev)) {
			if (ev.kind == URINGX_NICTX_SENT)
				res = ev.res;
			else
				notifs++;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	CHECK(res == (int)lib_want && pool.copied_notifications == 0,
	      "vectored SEND_ZC from uringx_nictx_prep_sendv: %d of %zu bytes, %llu copied", res,
	      lib_want, (unsigned long long)pool.copied_notifications);

	close(fd);
	pthread_join(sink.thread, NULL);
	close(sink.lfd);
	for (i = 0; i < sink.got && i < sink.cap; i++)
		if (sink.buf[i] != expect[i]) {
			bad = i;
			break;
		}
	CHECK(sink.got == sink.cap && bad == SIZE_MAX,
	      "the peer received %zu of %zu bytes, in the order gathered%s", sink.got, sink.cap,
	      bad == SIZE_MAX ? "" : " (NOT: wrong bytes)");
	if (bad != SIZE_MAX)
		printf("  first wrong byte at %zu: 0x%02x, want 0x%02x\n", bad, sink.buf[bad],
		       expect[bad]);
	maps1 = tx_counter("tx_dma_maps");
	bytes1 = tx_counter("tx_netmem_bytes");
	if (maps0 < 0 || maps1 < 0) {
		CHECK(0, "no transmit counters (NICTX_TX_COUNTERS=%s)",
		      getenv("NICTX_TX_COUNTERS") ? getenv("NICTX_TX_COUNTERS") : "unset");
	} else {
		CHECK(maps1 == maps0 && bytes1 - bytes0 >= (long long)sink.cap,
		      "sender port: tx_dma_maps +%lld, tx_netmem_bytes +%lld (sent %zu)",
		      maps1 - maps0, bytes1 - bytes0, sink.cap);
	}

	/* Refusals. */
	fd = connect_peer(7300);
	{
		char control[CMSG_SPACE(sizeof(int))] = { 0 };
		struct cmsghdr *cm = (struct cmsghdr *)control;

		iov[0] = (struct iovec){ (void *)0, 4096 };
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SO_MARK;
		msg = (struct msghdr){ .msg_iov = iov, .msg_iovlen = 1, .msg_control = control,
				       .msg_controllen = sizeof(control) };
		prep_sendmsg_slot(&ring, fd, &msg, 0);
		ret = complete_one(&ring, NULL);
		CHECK(ret == -EINVAL, "SENDMSG_ZC from the slot with a control message: %s",
		      uringx_strerror(ret));
	}
	msg = (struct msghdr){ .msg_iov = iov, .msg_iovlen = 2 };
	iov[0] = (struct iovec){ (void *)0, 4096 };
	iov[1] = (struct iovec){ (void *)(uintptr_t)(POOL - 100), 4096 };
	prep_sendmsg_slot(&ring, fd, &msg, 0);
	ret = complete_one(&ring, NULL);
	CHECK(ret == -EFAULT, "a segment past the pool's end: %s", uringx_strerror(ret));
	iov[1] = (struct iovec){ (void *)4096, 0 };
	prep_sendmsg_slot(&ring, fd, &msg, 0);
	ret = complete_one(&ring, NULL);
	CHECK(ret == -EFAULT, "an empty segment: %s", uringx_strerror(ret));
	close(fd);
	if (!loopback_pair(&client, &server)) {
		iov[1] = (struct iovec){ (void *)4096, 4096 };
		prep_sendmsg_slot(&ring, client, &msg, 0);
		ret = complete_one(&ring, NULL);
		CHECK(ret == -ENODEV, "SENDMSG_ZC over lo, not the pool's device: %s",
		      uringx_strerror(ret));
		close(client);
		close(server);
	}
	free(expect);
	free(sink.buf);
	uringx_nictx_destroy(&pool);
	io_uring_queue_exit(&ring);
}

/* Sends a genetlink request and copies its reply's attribute @want to @out;
 * -errno: the kernel's error, or -ENOENT without the attribute. */
static int genl_call(int nl, struct nlmsghdr *req, uint16_t want, void *out, size_t out_len)
{
	char reply[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *n = (struct nlmsghdr *)reply;
	ssize_t got;

	if (send(nl, req, req->nlmsg_len, 0) < 0)
		return -errno;
	got = recv(nl, reply, sizeof(reply), 0);
	if (got < 0)
		return -errno;
	for (; NLMSG_OK(n, (size_t)got); n = NLMSG_NEXT(n, got)) {
		struct nlattr *a;
		int left;

		if (n->nlmsg_type == NLMSG_ERROR) {
			int err = ((struct nlmsgerr *)NLMSG_DATA(n))->error;

			return err ? err : -ENOENT;
		}
		a = (struct nlattr *)((char *)NLMSG_DATA(n) + GENL_HDRLEN);
		left = (int)n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		for (; left >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= left;
		     left -= NLA_ALIGN(a->nla_len),
		     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
			if ((a->nla_type & NLA_TYPE_MASK) == want &&
			    (size_t)(a->nla_len - NLA_HDRLEN) >= out_len) {
				memcpy(out, (char *)a + NLA_HDRLEN, out_len);
				return 0;
			}
	}
	return -ENOENT;
}

struct genl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[128];
};

static void genl_put(struct genl_req *r, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void genl_start(struct genl_req *r, uint16_t family, uint8_t cmd)
{
	memset(r, 0, sizeof(*r));
	r->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->n.nlmsg_type = family;
	r->n.nlmsg_flags = NLM_F_REQUEST;
	r->g.cmd = cmd;
	r->g.version = 1;
}

/* NETDEV_CMD_BIND_TX of @dmabuf_fd to @ifindex, the way a socket user binds
 * (ncdevmem's `netdev bind-tx`): the binding's id, or -errno. It lives as
 * long as @nl stays open. */
static int netlink_bind_tx(int nl, unsigned int ifindex, int dmabuf_fd)
{
	struct genl_req r;
	uint16_t family;
	uint32_t id, fd = (uint32_t)dmabuf_fd;
	int ret;

	genl_start(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	genl_put(&r, CTRL_ATTR_FAMILY_NAME, NETDEV_FAMILY_NAME, sizeof(NETDEV_FAMILY_NAME));
	ret = genl_call(nl, &r.n, CTRL_ATTR_FAMILY_ID, &family, sizeof(family));
	if (ret)
		return ret;
	genl_start(&r, family, NETDEV_CMD_BIND_TX);
	genl_put(&r, NETDEV_A_DMABUF_IFINDEX, &ifindex, sizeof(ifindex));
	genl_put(&r, NETDEV_A_DMABUF_FD, &fd, sizeof(fd));
	ret = genl_call(nl, &r.n, NETDEV_A_DMABUF_ID, &id, sizeof(id));
	return ret ? ret : (int)id;
}

/* A udmabuf over @len bytes of a sealed memfd, its CPU view in *@base. */
static int make_udmabuf(size_t len, uint8_t **base)
{
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
	int memfd = memfd_create("nictx-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int dev, fd;

	if (memfd < 0 || ftruncate(memfd, (off_t)len) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -errno;
	*base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (*base == MAP_FAILED) {
		*base = NULL;
		return -errno;
	}
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	create.memfd = (uint32_t)memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &create);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	close(memfd);
	return fd;
}

/* CAP_IPC_LOCK in this thread's effective set: io_uring charges pinned
 * memory to RLIMIT_MEMLOCK for rings created without it. */
static int ipc_lock_effective(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1u << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* Kernel patch 17: a SENDMSG_ZC naming a socket user's own TX binding
 * (SCM_DEVMEM_DMABUF) is not charged to RLIMIT_MEMLOCK, since it pins
 * nothing; an ordinary SENDMSG_ZC still is; a control message changed
 * between prep and issue so that it no longer names the binding cannot
 * make the send pin user pages uncharged. The ring is created without
 * CAP_IPC_LOCK, and the limit is 64 pages. */
static void test_user_binding_memlock(const char *ifname, uint16_t port)
{
	const size_t pool_len = 4u << 20, send_off = 4096, send_len = 1u << 20;
	/* Both a user address and an offset inside the dma-buf. */
	const uintptr_t low = 0x100000;
	const size_t low_len = 64u << 10;
	char control[CMSG_SPACE(sizeof(uint32_t))] = { 0 };
	struct cmsghdr *cm = (struct cmsghdr *)control;
	struct io_uring_params params = { .flags = IORING_SETUP_SINGLE_ISSUER |
						   IORING_SETUP_DEFER_TASKRUN };
	struct rlimit old_limit, limit;
	struct sink sink = { 0 };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct msghdr msg;
	struct iovec iov;
	uint8_t *pool = NULL, *low_map, *user_buf;
	int nl = -1, dmabuf = -1, id, fd = -1, ret, res;
	bool copied = true;
	size_t i, bad = SIZE_MAX;
	uint32_t binding;

	dmabuf = make_udmabuf(pool_len, &pool);
	if (dmabuf < 0) {
		CHECK(0, "a 4 MiB udmabuf: %s", uringx_strerror(dmabuf));
		return;
	}
	for (i = 0; i < pool_len; i++)
		pool[i] = vec_byte(i);
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	id = netlink_bind_tx(nl, if_nametoindex(ifname), dmabuf);
	CHECK(id > 0, "NETDEV_CMD_BIND_TX of the udmabuf to %s: %s", ifname,
	      id > 0 ? "ok" : uringx_strerror(id));
	if (id <= 0)
		goto out;
	binding = (uint32_t)id;
	low_map = mmap((void *)low, low_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(low_map == (void *)low, "user memory mapped at %#lx (also a dma-buf offset): %s",
	      (unsigned long)low, low_map == (void *)low ? "ok" : strerror(errno));
	if (low_map != (void *)low)
		goto out;
	memset(low_map, 0xee, low_len);

	ret = ipc_lock_effective(false);
	CHECK(ret == 0, "CAP_IPC_LOCK dropped for the ring's creation: %s",
	      ret ? uringx_strerror(ret) : "ok");
	ret = io_uring_queue_init_params(16, &ring, &params);
	ipc_lock_effective(true);
	if (ret) {
		CHECK(0, "ring: %s", uringx_strerror(ret));
		goto out_low;
	}
	getrlimit(RLIMIT_MEMLOCK, &old_limit);
	limit = (struct rlimit){ .rlim_cur = 64 * 4096, .rlim_max = old_limit.rlim_max };
	setrlimit(RLIMIT_MEMLOCK, &limit);

	sink.cap = send_len + low_len + 1;
	sink.buf = malloc(sink.cap);
	sink.lfd = listen_in_peer(peer_addr, port);
	if (sink.lfd < 0 || pthread_create(&sink.thread, NULL, sink_main, &sink)) {
		CHECK(0, "the verifying peer: %s", uringx_strerror(sink.lfd));
		goto out_ring;
	}
	fd = connect_peer(port);

	/* 1 MiB of the dma-buf, 258 pages were it charged. */
	cm->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	memcpy(CMSG_DATA(cm), &binding, sizeof(binding));
	iov = (struct iovec){ (void *)send_off, send_len };
	msg = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			       .msg_controllen = sizeof(control) };
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_sendmsg_zc(sqe, fd, &msg, MSG_WAITALL);
	sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
	sqe->user_data = 0;
	res = complete_one(&ring, &copied);
	CHECK(res == (int)send_len && !copied,
	      "SENDMSG_ZC of 1 MiB from binding %u under a 64-page RLIMIT_MEMLOCK: %s, %s",
	      binding, res < 0 ? uringx_strerror(res) : "sent",
	      copied ? "reported copied" : "zero-copy");

	/* The same length from user memory is still charged. */
	user_buf = malloc(send_len);
	memset(user_buf, 0x55, send_len);
	iov = (struct iovec){ user_buf, send_len };
	msg = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1 };
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_sendmsg_zc(sqe, fd, &msg, 0);
	sqe->user_data = 0;
	res = complete_one(&ring, NULL);
	CHECK(res == -ENOMEM, "SENDMSG_ZC of 1 MiB of user memory under the same limit: %s "
	      "(want ENOMEM, charged as before)", uringx_strerror(res));
	free(user_buf);

	/* Named at prep, gone at issue: the deferred issue must not pin
	 * the user memory that the iovec now means (16 pages, under the
	 * limit, had it been charged). */
	iov = (struct iovec){ (void *)low, low_len };
	msg = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			       .msg_controllen = sizeof(control) };
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_sendmsg_zc(sqe, fd, &msg, 0);
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	sqe->user_data = 0;
	ret = io_uring_submit(&ring);
	cm->cmsg_level = SOL_IP;
	res = complete_one(&ring, NULL);
	CHECK(ret == 1 && res == -EFAULT,
	      "binding named at prep, not at issue: %d, %s (want EFAULT, nothing pinned)", res,
	      res < 0 ? uringx_strerror(res) : "bytes sent from pinned user memory");

	close(fd);
	pthread_join(sink.thread, NULL);
	close(sink.lfd);
	for (i = 0; i < sink.got && i < send_len; i++)
		if (sink.buf[i] != vec_byte(send_off + i)) {
			bad = i;
			break;
		}
	CHECK(sink.got == send_len && bad == SIZE_MAX,
	      "the peer received %zu bytes (want the %zu of the dma-buf, nothing else)%s",
	      sink.got, send_len, bad == SIZE_MAX ? "" : ", NOT the dma-buf's bytes");
	free(sink.buf);
out_ring:
	setrlimit(RLIMIT_MEMLOCK, &old_limit);
	io_uring_queue_exit(&ring);
out_low:
	munmap((void *)low, low_len);
out:
	close(nl);
	close(dmabuf);
	if (pool && pool != MAP_FAILED)
		munmap(pool, pool_len);
}

static void test_clear_in_flight(const char *ifname, struct peer *peer, uint16_t port)
{
	struct uringx_nictx pool;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	uint64_t want = 0, got_bytes = 0, start;
	int ret, fd, sends = 8, firsts = 0, notifs = 0, copied = 0, errors = 0;
	double deadline;

	io_uring_queue_init(64, &ring, 0);
	io_uring_register_buffers_sparse(&ring, 1);
	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 0);
	fd = connect_peer(port);
	if (ret || fd < 0) {
		CHECK(0, "pool and connection for the in-flight test: %s / %s",
		      uringx_strerror(ret), uringx_strerror(fd));
		return;
	}
	start = __atomic_load_n(&peer->received, __ATOMIC_RELAXED);
	peer->hold = 1;
	for (int i = 0; i < sends; i++) {
		int chunk = uringx_nictx_alloc(&pool);

		memset(uringx_nictx_chunk(&pool, (uint32_t)chunk), 'a' + i, CHUNK);
		uringx_nictx_prep_send(&pool, io_uring_get_sqe(&ring), fd, (uint32_t)chunk, 0,
				       CHUNK, (uint32_t)i, MSG_WAITALL);
		want += CHUNK;
	}
	io_uring_submit(&ring);
	usleep(200000);
	/* Clear the slot while the peer reads nothing: sends are still queued. */
	{
		struct iovec empty = { 0 };

		ret = io_uring_register_buffers_update_tag(&ring, 0, &empty, NULL, 1);
		CHECK(ret == 1, "slot cleared with %u sends in flight", pool.in_flight);
	}
	peer->hold = 0;
	deadline = now() + 20;
	while ((firsts < sends || notifs < sends) && now() < deadline) {
		struct __kernel_timespec ts = { .tv_sec = 1 };
		struct uringx_nictx_event ev;

		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
			continue;
		if (!uringx_nictx_complete(&pool, cqe, &ev)) {
			if (ev.kind == URINGX_NICTX_SENT) {
				firsts++;
				if (ev.res < 0)
					errors++;
				else
					got_bytes += (uint64_t)ev.res;
			} else {
				notifs++;
			}
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	copied = (int)pool.copied_notifications;
	CHECK(firsts == sends && notifs == sends && !errors && got_bytes == want && !copied,
	      "after the clear: %d/%d sends (%llu bytes), %d notifications, %d errors, %d copied",
	      firsts, sends, (unsigned long long)got_bytes, notifs, errors, copied);
	deadline = now() + 10;
	while (__atomic_load_n(&peer->received, __ATOMIC_RELAXED) - start < want && now() < deadline)
		usleep(10000);
	CHECK(__atomic_load_n(&peer->received, __ATOMIC_RELAXED) - start == want,
	      "the peer received all %llu bytes", (unsigned long long)want);

	ret = send_from_slot(&ring, fd, 0, 4096, 0);
	CHECK(ret == -EFAULT, "SEND_ZC on the cleared slot: %s", uringx_strerror(ret));

	close(fd);
	uringx_nictx_destroy(&pool);	/* the slot is clear already: frees the memory */
	io_uring_queue_exit(&ring);
}

/* The device goes away under a registered pool with data in flight. */
static void test_device_removal(const char *ifname, const char *nsim_id, uint16_t port)
{
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	struct uringx_nictx pool;
	struct io_uring ring;
	int ret, fd, chunk, del;
	double t0;

	io_uring_queue_init(64, &ring, 0);
	io_uring_register_buffers_sparse(&ring, 1);
	ret = uringx_nictx_create(&pool, &ring, ifname, POOL, CHUNK, 0);
	fd = connect_peer(port);
	if (ret || fd < 0) {
		CHECK(0, "pool and connection for the removal test: %s / %s",
		      uringx_strerror(ret), uringx_strerror(fd));
		return;
	}
	tracked = &pool;
	ret = send_from_slot(&ring, fd, 0, CHUNK, 0);
	CHECK(ret > 0, "a send before the removal: %d bytes queued", ret);

	/* Queue a send the peer will never acknowledge, then remove the device. */
	chunk = uringx_nictx_alloc(&pool);
	uringx_nictx_prep_send(&pool, io_uring_get_sqe(&ring), fd, (uint32_t)chunk, 0, CHUNK, 0,
			       0);
	io_uring_submit(&ring);
	del = open("/sys/bus/netdevsim/del_device", O_WRONLY);
	ret = del >= 0 && write(del, nsim_id, strlen(nsim_id)) > 0 ? 0 : -errno;
	if (del >= 0)
		close(del);
	CHECK(ret == 0, "netdevsim%s removed under the pool", nsim_id);

	/* The binding forgot the device (-ENODEV); if the route went first,
	 * the route lookup fails earlier (-EHOSTUNREACH, -ENETUNREACH). Either
	 * way the send fails and nothing is copied. */
	ret = send_from_slot(&ring, fd, 0, 4096, 0);
	CHECK(ret == -ENODEV || ret == -EHOSTUNREACH || ret == -ENETUNREACH,
	      "a send after the removal: %s", uringx_strerror(ret));

	/* An abortive close frees the unacknowledged data: every notification comes. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
	close(fd);
	t0 = now();
	while (pool.in_flight && now() - t0 < 20) {
		struct __kernel_timespec ts = { .tv_sec = 1 };
		struct uringx_nictx_event ev;
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
			continue;
		uringx_nictx_complete(&pool, cqe, &ev);
		io_uring_cqe_seen(&ring, cqe);
	}
	CHECK(pool.in_flight == 0, "every send of the removed device notified (%u left)",
	      pool.in_flight);
	/* Unbinding now unmaps for a device that is gone. */
	tracked = NULL;
	uringx_nictx_destroy(&pool);
	io_uring_queue_exit(&ring);
	CHECK(1, "pool unbound and ring closed after the removal");
}

int main(int argc, char **argv)
{
	struct peer peer = { 0 };
	int ret;

	if (argc == 5 && !strcmp(argv[1], "--echo")) {
		/* nictx_test --echo IFNAME PEER_NETNS OWN_ADDR */
		peer_netns = argv[3];
		test_one_dmabuf_both_ways(argv[2], argv[4]);
		printf("nictx_test --echo: %s (%d failure%s)\n", failures ? "FAIL" : "ok", failures,
		       failures == 1 ? "" : "s");
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: nictx_test IFNAME NSIM_ID PEER_NETNS PEER_ADDR [VETH_PEER_ADDR]\n");
		return 2;
	}
	peer_netns = argv[3];
	peer_addr = argv[4];
	ret = start_peer(&peer, 7300);
	if (ret) {
		fprintf(stderr, "nictx_test: peer in %s: %s\n", peer_netns, strerror(-ret));
		return 1;
	}
	test_registration(argv[1]);
	test_refusals(argv[1]);
	test_vectored(argv[1], 7310);
	test_user_binding_memlock(argv[1], 7320);
	if (argc == 6)
		test_route_via_veth(argv[1], argv[5]);
	test_clear_in_flight(argv[1], &peer, 7300);
	test_device_removal(argv[1], argv[2], 7300);
	printf("nictx_test: %s (%d failure%s)\n", failures ? "FAIL" : "ok", failures,
	       failures == 1 ? "" : "s");
	fflush(stdout);
	_exit(failures ? 1 : 0);
}
