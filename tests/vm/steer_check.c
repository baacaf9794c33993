// SPDX-License-Identifier: MIT
/*
 * steer_check - drives liburing-ext's steer helpers on a netdevsim pair
 * (tests/vm/netdevsim_rss.sh, inside the VM).
 *
 *   steer_check serve ADDR PORT              echo every connection until EOF
 *   steer_check rss IF                       print IF's RSS as uringx_rss_read() sees it
 *   steer_check pick IF LOCAL SERVER PORT QUEUE CONNS
 *       CONNS connections from LOCAL, each bound by uringx_rss_bind_port()
 *       to a port chosen so that the server's packets land on
 *       rx queue QUEUE of IF; 64 KiB echoed and verified on each (the
 *       script checks IF's debugfs rx_queue_frames: `ip netns exec`
 *       mounts its own /sys, without debugfs)
 *   steer_check echo SERVER PORT CONNS       the same connections, ports left to the kernel
 *   steer_check rule-add IF PORT QUEUE       uringx_steer_add(); prints the rule's location
 *   steer_check rule-del IF LOC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uringx/uringx.h>

#define ECHO_BYTES (64 << 10)

static int die(const char *what, int err)
{
	fprintf(stderr, "steer_check: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static struct sockaddr_in v4(const char *ip, unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "steer_check: not an IPv4 address: %s\n", ip);
		exit(2);
	}
	return a;
}

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w <= 0)
				goto out;
			off += w;
		}
out:
	close(fd);
	return NULL;
}

static int serve(const char *ip, unsigned int port)
{
	struct sockaddr_in a = v4(ip, port);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128))
		return die("bind/listen", errno);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return die("accept", errno);
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

/* On connection @fd (bound or not), ECHO_BYTES echoed and checked. */
static int echo_fd(int fd, const struct sockaddr_in *server, unsigned int id)
{
	static uint8_t out[ECHO_BYTES], in[ECHO_BYTES];
	size_t got = 0;
	int ret = 0;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 131 + id * 7);
	if (connect(fd, (const struct sockaddr *)server, sizeof(*server)))
		ret = -errno;
	if (!ret && send(fd, out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out))
		ret = -EIO;
	if (!ret)
		shutdown(fd, SHUT_WR);
	while (!ret && got < sizeof(in)) {
		ssize_t n = recv(fd, in + got, sizeof(in) - got, 0);

		if (n <= 0)
			ret = n ? -errno : -EPIPE;
		else
			got += (size_t)n;
	}
	if (!ret && memcmp(in, out, sizeof(in)))
		ret = -EBADMSG;
	close(fd);
	return ret;
}

static int rss_print(const char *ifname)
{
	enum uringx_reason why;
	struct uringx_rss rss;
	int ret = uringx_rss_read(ifname, &rss, &why);

	if (ret) {
		fprintf(stderr, "steer_check: %s: %s (%s)\n", ifname, uringx_reason_str(why),
			strerror(-ret));
		return 1;
	}
	printf("%s: %u rx queues, %u-entry table, %u-byte key, %s, ntuple %s\n", ifname,
	       rss.rx_queues, rss.indir_size, rss.key_size,
	       rss.toeplitz ? "toeplitz" : "other hash", rss.ntuple ? "yes" : "no");
	uringx_rss_free(&rss);
	return 0;
}

static int pick(char **argv)
{
	const char *ifname = argv[0];
	struct sockaddr_in local = v4(argv[1], 0), server = v4(argv[2], (unsigned)atoi(argv[3]));
	unsigned int queue = (unsigned)atoi(argv[4]), conns = (unsigned)atoi(argv[5]);
	enum uringx_reason why;
	struct uringx_rss rss;
	int ret, bad = 0;

	ret = uringx_rss_read(ifname, &rss, &why);
	if (ret) {
		fprintf(stderr, "steer_check: %s: %s\n", ifname, uringx_reason_str(why));
		return 1;
	}
	for (unsigned int c = 0; c < conns; c++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int port = uringx_rss_bind_port(fd, &rss, (struct sockaddr *)&local,
						(struct sockaddr *)&server, queue, 20000, 29999);

		if (port < 0)
			return die("uringx_rss_bind_port", port);
		ret = echo_fd(fd, &server, c);
		printf("queue %u: connection %u from port %d: %s\n", queue, c, port,
		       ret ? strerror(-ret) : "64 KiB echoed and verified");
		bad += ret != 0;
	}
	uringx_rss_free(&rss);
	if (bad)
		fprintf(stderr, "steer_check: %d of %u connections failed\n", bad, conns);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "rss"))
		return rss_print(argv[2]);
	if (argc == 8 && !strcmp(argv[1], "pick"))
		return pick(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "echo")) {
		struct sockaddr_in server = v4(argv[2], (unsigned)atoi(argv[3]));
		int bad = 0;

		for (int c = 0; c < atoi(argv[4]); c++)
			bad += echo_fd(socket(AF_INET, SOCK_STREAM, 0), &server, (unsigned)c) != 0;
		printf("%d connections echoed, %d failed\n", atoi(argv[4]), bad);
		return bad ? 1 : 0;
	}
	if (argc == 5 && !strcmp(argv[1], "rule-add")) {
		struct sockaddr_in dst = v4("0.0.0.0", (unsigned)atoi(argv[3]));
		enum uringx_reason why;
		uint32_t loc;
		int ret = uringx_steer_add(argv[2], (struct sockaddr *)&dst,
					   (unsigned)atoi(argv[4]), &loc, &why);

		if (ret) {
			fprintf(stderr, "steer_check: rule: %s (%s)\n", uringx_reason_str(why),
				strerror(-ret));
			return 1;
		}
		printf("%u\n", loc);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "rule-del")) {
		int ret = uringx_steer_del(argv[2], (uint32_t)atoi(argv[3]));

		return ret ? die("uringx_steer_del", ret) : 0;
	}
	fprintf(stderr, "usage: see tests/vm/steer_check.c\n");
	return 2;
}
