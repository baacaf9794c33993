// SPDX-License-Identifier: MIT
/*
 * uringx-stream - move a byte stream over loopback TCP with liburing-ext and
 * say what it did: which receive mechanism was chosen and why, throughput,
 * completions and io_uring_enter calls per MB, and how much the kernel
 * copied on the zero-copy send side.
 *
 * Receiver: main thread, multishot receive from a uringx_rxsrc (zcrx when the
 * named NIC queue allows, else a provided-buffer ring). Sender: a thread with
 * its own ring, SEND_ZC from a registered uringx_bufpool (or plain send).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uringx/uringx.h>

#define RECV_TAG 1ULL
#define EVENT_TAG 2ULL

struct options {
	const char *listen;	/* receive only: accept one connection here */
	const char *connect;	/* send only: connect here */
	uint64_t bytes;
	uint32_t chunk;
	enum uringx_rxsrc_mode mode;
	const char *ifname;
	uint32_t queue;
	bool send_zc;
	bool send_auto;		/* SEND_ZC until the kernel reports it copied */
	const char *tx_ifname;	/* --send nic: the pool is mapped for this NIC */
	bool verify;
};

struct sender {
	int fd;
	const struct options *opt;
	uint64_t enters;
	uint64_t zc_bytes, copied_bytes;
	uint64_t plain_from;	/* --send auto: byte offset where plain sends began */
	bool switched;
	int error;
	const char *error_what;
	enum uringx_reason reason;
};

/* The stream's content: byte i is a function of i, so any slice is checkable. */
static inline uint8_t pattern(uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ULL;

	return (uint8_t)(x >> (8 * (i & 7)));
}

/*
 * Byte i is byte (i % 8) of the little-endian word (i / 8) * K: whole words
 * are filled and checked with one multiply each, at memory speed, so the
 * stream measures the network path rather than the pattern.
 */
static void fill_pattern(uint8_t *dst, uint64_t off, uint32_t n)
{
	uint32_t i = 0;

	for (; i < n && ((off + i) & 7); i++)
		dst[i] = pattern(off + i);
	for (; i + 8 <= n; i += 8) {
		uint64_t w = ((off + i) >> 3) * 0x9E3779B97F4A7C15ULL;

		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = pattern(off + i);
}

/* The offset within @src of the first byte that differs, or -1. */
static long check_pattern(const uint8_t *src, uint64_t off, uint32_t n)
{
	uint32_t i = 0;

	for (; i < n && ((off + i) & 7); i++)
		if (src[i] != pattern(off + i))
			return i;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = ((off + i) >> 3) * 0x9E3779B97F4A7C15ULL, got;

		memcpy(&got, src + i, 8);
		if (got != w)
			break;	/* the byte loop names the first wrong byte */
	}
	for (; i < n; i++)
		if (src[i] != pattern(off + i))
			return i;
	return -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uringx-stream [options]\n"
		"  --bytes N        bytes to move (default 1 GiB; suffixes K M G)\n"
		"  --chunk N        send size (default 256K: 16 of them, 4 MiB, are registered)\n"
		"  --rx MODE        auto (default), pbuf, zcrx (zcrx without --ifname: NODEV copy mode)\n"
		"  --ifname IF      NIC for zcrx, with --queue N (default 0)\n"
		"  --send KIND      auto (default: SEND_ZC from registered chunks until the kernel\n"
		"                   reports it copies on this path, as loopback and veth do, then\n"
		"                   IORING_OP_SEND), zc (always SEND_ZC), plain (IORING_OP_SEND), or\n"
		"                   nic (SEND_ZC from a pool --tx-ifname IF has DMA-mapped once)\n"
		"  --verify         check every received byte\n"
		"  --listen ADDR    receive only: accept one connection on ADDR: A.B.C.D:P,\n"
		"                   [IPv6]:P, unix:/path or unix:@abstract-name\n"
		"  --connect ADDR   send only: connect to ADDR (same forms)\n"
		"Without --listen/--connect both ends run here, over 127.0.0.1.\n"
		"Prints what it did; exits non-zero unless every byte arrived (and matched).\n");
}

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	default: break;
	}
	if (*end || !v) {
		fprintf(stderr, "uringx-stream: %s wants a positive size, got '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void *send_main(void *arg)
{
	struct sender *s = arg;
	const struct options *opt = s->opt;
	struct uringx_bufpool_params pp = { .chunk_size = opt->chunk, .nr_chunks = 16 };
	struct uringx_bufpool *pool = NULL;
	struct uringx_sendzc sz;
	struct io_uring ring;
	uint64_t queued = 0, done = 0;
	int inflight = 0, ret;
	bool zc = opt->send_zc;

	ret = io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER);
	if (ret) {
		s->error = ret;
		s->error_what = "sender io_uring_queue_init";
		return NULL;
	}
	ret = uringx_bufpool_create(&ring, &pp, &pool, NULL);
	if (!ret)
		ret = uringx_sendzc_init(&sz, pool, true);
	if (ret) {
		s->error = ret;
		s->error_what = "sender buffer pool";
		goto out;
	}
	while (done < opt->bytes || sz.in_flight) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		/*
		 * One send in flight per socket: two could complete out of order if
		 * the first one has to wait for socket space.
		 */
		while (queued < opt->bytes && inflight < 1) {
			struct uringx_chunk c;
			uint32_t len;

			if (uringx_bufpool_alloc(pool, &c))
				break;	/* every chunk lent: wait for notifications */
			len = opt->bytes - queued < c.len ? (uint32_t)(opt->bytes - queued) : c.len;
			fill_pattern(c.addr, queued, len);
			/*
			 * --send auto: once 1 MiB of notifications all said "copied"
			 * (loopback and veth always copy: the receiver is local), a
			 * zero-copy send only adds a notification per send.
			 */
			if (zc && opt->send_auto && !sz.bytes_zerocopy &&
			    sz.bytes_copied >= (1u << 20)) {
				zc = false;
				s->switched = true;
				s->plain_from = queued;
			}
			if (zc) {
				uringx_sendzc_prep(&sz, io_uring_get_sqe(&ring), s->fd, c.token, 0, len,
						   len, MSG_WAITALL);
				/* Lent to the kernel: really freed at its notification. */
				uringx_bufpool_free(pool, c.token);
			} else {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				/* The kernel copies when the send runs, maybe later: free on completion. */
				io_uring_prep_send(sqe, s->fd, c.addr, len, MSG_WAITALL);
				io_uring_sqe_set_data64(sqe, c.token);
			}
			queued += len;
			inflight++;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		s->enters++;
		if (ret < 0) {
			s->error = ret;
			s->error_what = "sender io_uring_enter";
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			if (uringx_sendzc_owns(cqe)) {
				struct uringx_sendzc_event ev;

				uringx_sendzc_complete(&sz, cqe, &ev);
				if (ev.kind != URINGX_SENDZC_SENT)
					continue;
				ret = ev.res;
			} else {
				ret = cqe->res;
				uringx_bufpool_free(pool, cqe->user_data);
			}
			if (ret < 0) {
				s->error = ret;
				s->error_what = "send";
				done = opt->bytes;
				queued = opt->bytes;
			} else {
				done += (uint64_t)ret;
			}
			inflight--;
		}
		io_uring_cq_advance(&ring, seen);
		if (s->error)
			break;
	}
	s->zc_bytes = sz.bytes_zerocopy;
	s->copied_bytes = sz.bytes_copied;
	uringx_sendzc_fini(&sz);
out:
	shutdown(s->fd, SHUT_WR);
	io_uring_queue_exit(&ring);
	uringx_bufpool_destroy(pool);
	return NULL;
}

/*
 * --send nic: SEND_ZC from a pool the NIC mapped once (uringx_nictx). Every
 * chunk is filled with the stream's bytes, sent, and refilled only after its
 * notification; one send in flight keeps the bytes in order.
 */
static void *send_main_nic(void *arg)
{
	struct sender *s = arg;
	const struct options *opt = s->opt;
	struct uringx_nictx pool;
	struct io_uring ring;
	uint64_t queued = 0, done = 0;
	int inflight = 0, ret;

	ret = io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER);
	if (ret) {
		s->error = ret;
		s->error_what = "sender io_uring_queue_init";
		return NULL;
	}
	ret = io_uring_register_buffers_sparse(&ring, 1);
	if (!ret)
		ret = uringx_nictx_create(&pool, &ring, opt->tx_ifname, 16ULL * opt->chunk,
					  opt->chunk, 0);
	if (ret) {
		s->error = ret;
		s->error_what = "NIC-registered pool";
		s->reason = pool.reason;
		goto out;
	}
	while (done < opt->bytes || pool.in_flight) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		while (queued < opt->bytes && inflight < 1) {
			uint32_t len = opt->bytes - queued < opt->chunk ?
				       (uint32_t)(opt->bytes - queued) : opt->chunk;
			int chunk = uringx_nictx_alloc(&pool);
			uint8_t *p;

			if (chunk < 0)
				break;	/* every chunk lent: wait for notifications */
			p = uringx_nictx_chunk(&pool, (uint32_t)chunk);
			fill_pattern(p, queued, len);
			uringx_nictx_prep_send(&pool, io_uring_get_sqe(&ring), s->fd,
					       (uint32_t)chunk, 0, len, len, MSG_WAITALL);
			queued += len;
			inflight++;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		s->enters++;
		if (ret < 0) {
			s->error = ret;
			s->error_what = "sender io_uring_enter";
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct uringx_nictx_event ev;

			seen++;
			if (uringx_nictx_complete(&pool, cqe, &ev) || ev.kind != URINGX_NICTX_SENT)
				continue;
			if (ev.res < 0) {
				s->error = ev.res;
				s->error_what = "send from the NIC-registered pool";
				s->reason = ev.reason;
				queued = done = opt->bytes;
			} else {
				done += (uint64_t)ev.res;
			}
			inflight--;
		}
		io_uring_cq_advance(&ring, seen);
	}
	s->zc_bytes = pool.copied_notifications ? 0 : pool.bytes_sent;
	s->copied_bytes = pool.copied_notifications;
	if (pool.copied_notifications && !s->error) {
		s->error = -EPROTO;
		s->error_what = "a send from the NIC-registered pool was reported copied";
	}
	uringx_nictx_destroy(&pool);
out:
	shutdown(s->fd, SHUT_WR);
	io_uring_queue_exit(&ring);
	return NULL;
}

/*
 * Reads an address: "A.B.C.D:P", "[V6]:P" or "[V6%IF]:P", "unix:/path" or
 * "unix:@abstract". Returns NULL, or what is wrong with @s.
 */
static const char *parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *colon, *portp;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *path = s + 5;
		size_t n = strlen(path);

		if (!n || (path[0] == '@' && n == 1))
			return "an empty Unix socket path";
		if (n >= sizeof(un->sun_path))
			return "a Unix socket path longer than 107 bytes";
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, n);
		if (path[0] == '@')
			un->sun_path[0] = 0;	/* abstract: no terminating NUL counted */
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
		return NULL;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return "an IPv6 address without its closing ']'";
		if (close[1] != ':')
			return "no ':PORT' after the IPv6 address";
		if ((size_t)(close - s - 1) >= sizeof(host))
			return "an IPv6 address too long";
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		portp = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return "no ':PORT'";
		if (strchr(s, ':') != colon)
			return "an IPv6 address without brackets (write [ADDR]:PORT)";
		if ((size_t)(colon - s) >= sizeof(host))
			return "an address too long";
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
		portp = colon + 1;
	}
	errno = 0;
	port = strtoul(portp, &end, 10);
	if (!*portp || *end || errno || port > 65535)
		return "a port outside 0..65535";
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		char *scope = strchr(host, '%');

		if (scope) {
			*scope++ = 0;
			a6->sin6_scope_id = if_nametoindex(scope);
			if (!a6->sin6_scope_id)
				return "an unknown interface after '%'";
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return "not an IPv6 address inside [ ]";
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return "not an IPv4 address (host names are not resolved)";
		*len = sizeof(*a4);
	}
	return NULL;
}

static int stream_socket(const struct sockaddr_storage *ss)
{
	return socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		      ss->ss_family == AF_UNIX ? 0 : IPPROTO_TCP);
}

static int accept_one(const char *where, int *server, const char **op)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int lfd, one = 1;

	parse_addr(where, &addr, &len);	/* checked in main() */
	*op = "socket";
	lfd = stream_socket(&addr);
	if (lfd < 0)
		return -errno;
	if (addr.ss_family != AF_UNIX)
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	*op = "bind";
	if (bind(lfd, (struct sockaddr *)&addr, len) || (*op = "listen", listen(lfd, 1))) {
		int err = -errno;

		close(lfd);
		return err;
	}
	printf("listening on %s\n", where);
	fflush(stdout);
	*op = "accept";
	*server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return *server < 0 ? -errno : 0;
}

static int connect_to(const char *where, int *client)
{
	struct sockaddr_storage addr;
	socklen_t len;

	parse_addr(where, &addr, &len);	/* checked in main() */
	*client = stream_socket(&addr);
	if (*client < 0)
		return -errno;
	/* The receiver may still be starting: retry for a few seconds. */
	for (int tries = 0; tries < 50; tries++) {
		if (!connect(*client, (struct sockaddr *)&addr, len))
			return 0;
		if (errno != ECONNREFUSED && errno != ENOENT)
			break;
		usleep(100000);
	}
	return -errno;
}

static int tcp_pair(int *client, int *server)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lfd;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len))
		return -errno;
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	*server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return *server < 0 ? -errno : 0;
}

static void print_sender(const struct options *opt, const struct sender *snd)
{
	const char *kind = opt->tx_ifname ? "SEND_ZC from a NIC-registered pool" :
			   !opt->send_zc ? "IORING_OP_SEND" :
			   opt->send_auto ? "auto (SEND_ZC while it is zero-copy)" :
			   "SEND_ZC from registered chunks";

	printf("sender: %s, %llu io_uring_enter\n", kind, (unsigned long long)snd->enters);
	if (snd->switched)
		printf("sender: SEND_ZC copied on this path (%llu bytes reported copied, none "
		       "zero-copy): IORING_OP_SEND from byte %llu on\n",
		       (unsigned long long)snd->copied_bytes, (unsigned long long)snd->plain_from);
	else if (opt->send_zc || opt->tx_ifname)
		printf("sender: kernel reported %llu bytes sent zero-copy, %llu copied\n",
		       (unsigned long long)snd->zc_bytes, (unsigned long long)snd->copied_bytes);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "rx", required_argument, NULL, 'r' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'q' },
		{ "send", required_argument, NULL, 's' },
		{ "tx-ifname", required_argument, NULL, 'T' },
		{ "verify", no_argument, NULL, 'v' },
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct options opt = { .bytes = 1ULL << 30, .chunk = 256 << 10, .send_zc = true,
			       .send_auto = true };
	struct uringx_rxsrc_params params = { 0 };
	struct uringx_rx_view *views;
	struct uringx_rxsrc *src = NULL;
	struct sender snd = { 0 };
	enum uringx_reason reason;
	struct io_uring ring;
	uint64_t got = 0, cqes = 0, enters = 0, bad_at = UINT64_MAX;
	bool eof = false;
	pthread_t thread;
	int c, ret, client = -1, server = -1, stream_error = 0;
	bool send_nic = false;
	const char *op = "";
	double t0, secs;

	while ((c = getopt_long(argc, argv, "b:c:r:i:q:s:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'b': opt.bytes = parse_size(optarg, "--bytes"); break;
		case 'c': opt.chunk = (uint32_t)parse_size(optarg, "--chunk"); break;
		case 'i': opt.ifname = optarg; break;
		case 'q': {
			char *end;

			errno = 0;
			unsigned long q = strtoul(optarg, &end, 10);

			if (!*optarg || *end || errno || q > 4095) {
				fprintf(stderr, "uringx-stream: --queue wants a queue number 0..4095, "
					"got '%s'\n", optarg);
				return 2;
			}
			opt.queue = (uint32_t)q;
			break;
		}
		case 'v': opt.verify = true; break;
		case 'l': opt.listen = optarg; break;
		case 'C': opt.connect = optarg; break;
		case 'r':
			if (!strcmp(optarg, "auto"))
				opt.mode = URINGX_RXSRC_AUTO;
			else if (!strcmp(optarg, "pbuf"))
				opt.mode = URINGX_RXSRC_PBUF;
			else if (!strcmp(optarg, "zcrx"))
				opt.mode = URINGX_RXSRC_ZCRX;
			else {
				fprintf(stderr, "uringx-stream: --rx wants auto, pbuf or zcrx, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (strcmp(optarg, "auto") && strcmp(optarg, "zc") && strcmp(optarg, "plain") &&
			    strcmp(optarg, "nic")) {
				fprintf(stderr, "uringx-stream: --send wants auto, zc, plain or nic, "
					"got '%s'\n", optarg);
				return 2;
			}
			opt.send_auto = !strcmp(optarg, "auto");
			opt.send_zc = opt.send_auto || !strcmp(optarg, "zc");
			send_nic = !strcmp(optarg, "nic");
			break;
		case 'T': opt.tx_ifname = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (opt.chunk > (16u << 20)) {
		fprintf(stderr, "uringx-stream: --chunk at most 16M\n");
		return 2;
	}
	if (send_nic && (!opt.connect || !opt.tx_ifname)) {
		fprintf(stderr, "uringx-stream: --send nic wants --connect and --tx-ifname IF "
			"(the pool is mapped for the NIC the route leaves through)\n");
		return 2;
	}
	if (opt.chunk % (uint32_t)sysconf(_SC_PAGESIZE) && send_nic) {
		fprintf(stderr, "uringx-stream: --send nic wants --chunk a multiple of the page size\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		const char *text = i ? opt.connect : opt.listen;
		struct sockaddr_storage ss;
		socklen_t len;
		const char *why;

		if (text && (why = parse_addr(text, &ss, &len))) {
			fprintf(stderr, "uringx-stream: %s '%s': %s\n", i ? "--connect" : "--listen",
				text, why);
			return 2;
		}
		if (i && text && ss.ss_family != AF_UNIX &&
		    ((ss.ss_family == AF_INET && !((struct sockaddr_in *)&ss)->sin_port) ||
		     (ss.ss_family == AF_INET6 && !((struct sockaddr_in6 *)&ss)->sin6_port))) {
			fprintf(stderr, "uringx-stream: --connect '%s': port 0 is not a destination\n",
				text);
			return 2;
		}
	}
	if (opt.listen && opt.connect) {
		fprintf(stderr, "uringx-stream: --listen and --connect exclude each other\n");
		return 2;
	}
	if (opt.connect) {
		double start = now();

		ret = connect_to(opt.connect, &client);
		if (ret) {
			fprintf(stderr, "uringx-stream: connect to %s: %s\n", opt.connect,
				uringx_strerror(ret));
			return 1;
		}
		snd.fd = client;
		snd.opt = &opt;
		if (opt.send_auto && !strncmp(opt.connect, "unix:", 5)) {
			/* SEND_ZC fails with EOPNOTSUPP on Unix-domain sockets. */
			opt.send_zc = false;
			printf("sender: IORING_OP_SEND (Unix-domain sockets have no zero-copy send)\n");
		}
		if (send_nic)
			send_main_nic(&snd);
		else
			send_main(&snd);
		close(client);
		if (snd.error) {
			fprintf(stderr, "uringx-stream: %s: %s%s%s\n", snd.error_what,
				uringx_strerror(snd.error), snd.reason ? ": " : "",
				snd.reason ? uringx_reason_str(snd.reason) : "");
			return 1;
		}
		printf("sent %llu bytes in %.3f s\n", (unsigned long long)opt.bytes, now() - start);
		print_sender(&opt, &snd);
		return 0;
	}

	ret = io_uring_queue_init(256, &ring, IORING_SETUP_SINGLE_ISSUER |
				  IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32);
	if (ret) {
		fprintf(stderr, "uringx-stream: io_uring_queue_init: %s\n", uringx_strerror(ret));
		return 1;
	}
	params.mode = opt.mode;
	params.zcrx.ifname = opt.ifname;
	params.zcrx.queue = opt.queue;
	params.zcrx.area_size = 64ULL << 20;
	params.zcrx.rq_entries = 8192;
	params.zcrx.event_user_data = EVENT_TAG;
	params.pbuf.nr_bufs = 256;
	params.pbuf.buf_size = 64 << 10;
	params.pbuf.bgid = 1;
	params.pbuf.flags = URINGX_PBUF_INC | URINGX_PBUF_BUNDLE;
	ret = uringx_rxsrc_create(&ring, &params, &src, &reason);
	if (ret) {
		fprintf(stderr, "uringx-stream: receive source: %s: %s\n", uringx_strerror(ret),
			uringx_reason_str(reason));
		io_uring_queue_exit(&ring);
		return 1;
	}
	printf("receive mechanism: %s", uringx_rxsrc_kind_name(src));
	if (uringx_rxsrc_reason(src) != URINGX_REASON_NONE)
		printf(" (zcrx not used: %s)", uringx_reason_str(uringx_rxsrc_reason(src)));
	printf("\n");

	ret = opt.listen ? accept_one(opt.listen, &server, &op) : tcp_pair(&client, &server);
	if (ret) {
		fprintf(stderr, "uringx-stream: %s %s: %s\n", opt.listen ? op : "loopback connection",
			opt.listen ? opt.listen : "127.0.0.1", uringx_strerror(ret));
		uringx_rxsrc_destroy(src);	/* nothing armed yet */
		io_uring_queue_exit(&ring);
		return 1;
	}
	views = calloc(uringx_rxsrc_max_views(src), sizeof(*views));
	snd.fd = client;
	snd.opt = &opt;
	t0 = now();
	if (!opt.listen)
		pthread_create(&thread, NULL, send_main, &snd);

	{
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		uringx_rxsrc_prep_recv(src, sqe, server);
		io_uring_sqe_set_data64(sqe, RECV_TAG);
	}
	while (!eof && !stream_error) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		bool rearm = false;

		ret = io_uring_submit_and_wait(&ring, 1);
		enters++;
		if (ret < 0) {
			stream_error = ret;
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct uringx_rx_event ev;

			seen++;
			if (uringx_rxsrc_kind(src) == URINGX_RX_ZCRX &&
			    uringx_zcrx_is_event(uringx_rxsrc_zcrx(src), cqe))
				continue;
			if (cqe->user_data != RECV_TAG)
				continue;
			cqes++;
			if (uringx_rxsrc_decode(src, cqe, views, uringx_rxsrc_max_views(src), &ev)) {
				stream_error = -EPROTO;
				break;
			}
			for (uint32_t i = 0; i < ev.nr_views; i++) {
				const uint8_t *p = views[i].data;

				if (opt.verify && bad_at == UINT64_MAX) {
					long k = check_pattern(p, got, views[i].len);

					if (k >= 0)
						bad_at = got + (uint64_t)k;
				}
				got += views[i].len;
				uringx_rxsrc_release(src, views[i].token);
			}
			if (ev.eof)
				eof = true;
			else if (ev.error)
				stream_error = ev.error;
			else if (ev.rearm)
				rearm = true;
		}
		io_uring_cq_advance(&ring, seen);
		uringx_rxsrc_flush(src);
		if (rearm) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			uringx_rxsrc_prep_recv(src, sqe, server);
			io_uring_sqe_set_data64(sqe, RECV_TAG);
		}
	}
	secs = now() - t0;
	if (!opt.listen)
		pthread_join(thread, NULL);

	printf("moved %llu bytes in %.3f s: %.2f Gbit/s\n", (unsigned long long)got, secs,
	       (double)got * 8 / secs / 1e9);
	printf("receiver: %llu CQEs (%.1f per MB), %llu io_uring_enter (%.2f per MB)\n",
	       (unsigned long long)cqes, (double)cqes / ((double)got / 1e6),
	       (unsigned long long)enters, (double)enters / ((double)got / 1e6));
	if (!opt.listen)
		print_sender(&opt, &snd);
	if (uringx_rxsrc_kind(src) == URINGX_RX_ZCRX) {
		struct uringx_zcrx_stats st;

		uringx_zcrx_get_stats(uringx_rxsrc_zcrx(src), &st);
		if (st.kernel_counts)
			printf("zcrx: kernel copy fallback %llu completions, %llu bytes\n",
			       (unsigned long long)st.copy_count, (unsigned long long)st.copy_bytes);
	}
	if (opt.verify)
		printf("verify: %s\n", bad_at == UINT64_MAX ? "every byte matched" : "MISMATCH");

	ret = 0;
	if (snd.error) {
		fprintf(stderr, "uringx-stream: %s: %s\n", snd.error_what, uringx_strerror(snd.error));
		ret = 1;
	}
	if (stream_error) {
		fprintf(stderr, "uringx-stream: receive: %s\n", uringx_strerror(stream_error));
		ret = 1;
	}
	if (got != opt.bytes) {
		fprintf(stderr, "uringx-stream: received %llu of %llu bytes\n",
			(unsigned long long)got, (unsigned long long)opt.bytes);
		ret = 1;
	}
	if (bad_at != UINT64_MAX) {
		fprintf(stderr, "uringx-stream: corrupt byte at offset %llu\n", (unsigned long long)bad_at);
		ret = 1;
	}
	close(server);
	if (client >= 0)
		close(client);
	/* At EOF nothing is armed: destroy the source while the ring is open
	 * (a buffer ring is unregistered through it). After an error the
	 * receive may still be armed, and only closing the ring stops it.
	 */
	if (eof) {
		uringx_rxsrc_destroy(src);
		src = NULL;
	}
	io_uring_queue_exit(&ring);
	uringx_rxsrc_destroy(src);
	free(views);
	return ret;
}
