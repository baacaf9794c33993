// SPDX-License-Identifier: MIT
/*
 * echo-load - the pipelined echo client of bench/echo-compare, independent
 * of every server it measures (epoll, no io_uring, no zcnet): N connections
 * with TCP_NODELAY, each keeping DEPTH messages of SIZE bytes in flight, one
 * write() per message, and a new message written for every echo completed.
 * Every echoed byte is checked against the stream it sent. After a warm-up
 * it counts the round trips of the measuring window and, given the server's
 * pid, the server's CPU time (user + system, all threads) over the same
 * window: CPU per round trip, the figure issue 16's echo targets are stated
 * in.
 *
 * usage: echo-load --port P [--connections N] [--size B] [--depth D]
 *                  [--seconds S] [--warmup-ms MS] [--server-pid PID]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int id;
	uint64_t written;	/* messages fully written */
	uint64_t issued;	/* messages due: written + waiting for EPOLLOUT */
	size_t part;		/* bytes of message `written` already written */
	uint64_t received;	/* echoed bytes received and checked */
};

static uint32_t size = 128, depth = 16;
static int epfd;
static uint64_t errors;

static uint8_t stream_byte(int id, uint64_t off)
{
	return (uint8_t)(off * 7 + (uint64_t)id * 13 + (off >> 8));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The server's CPU seconds so far (utime + stime of every thread), or -1. */
static double server_cpu(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');	/* the command name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			 &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Writes due messages, one write() each; false on a dead connection. */
static bool write_due(struct conn *c)
{
	uint8_t msg[65536];

	while (c->written < c->issued) {
		uint64_t base = c->written * size;
		ssize_t n;

		for (uint32_t i = (uint32_t)c->part; i < size; i++)
			msg[i] = stream_byte(c->id, base + i);
		n = write(c->fd, msg + c->part, size - c->part);
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

			epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return true;
		}
		if (n <= 0)
			return false;
		c->part += (size_t)n;
		if (c->part == size) {
			c->part = 0;
			c->written++;
		}
	}
	return true;
}

/* Reads and checks echoes; returns the messages completed, or -1. */
static long read_echoes(struct conn *c)
{
	uint8_t buf[65536];
	uint64_t before = c->received / size;
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != stream_byte(c->id, c->received + (uint64_t)i)) {
			errors++;
			fprintf(stderr, "echo-load: connection %d: byte %llu is 0x%02x, sent 0x%02x\n",
				c->id, (unsigned long long)(c->received + (uint64_t)i), buf[i],
				stream_byte(c->id, c->received + (uint64_t)i));
			return -1;
		}
	c->received += (uint64_t)n;
	return (long)(c->received / size - before);
}

static bool parse(const char *opt, const char *text, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*end || end == text || v < lo || v > hi) {
		fprintf(stderr, "echo-load: %s wants an integer %ld..%ld, got '%s'\n", opt, lo, hi,
			text);
		return false;
	}
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "connections", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "depth", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 't' },
		{ "warmup-ms", required_argument, NULL, 'w' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	long port = 0, nconns = 64, seconds = 5, warmup_ms = 500, pid = 0, v;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct epoll_event events[256];
	uint64_t done = 0, window_done = 0;
	double start, open_at, close_at, cpu0 = -1, cpu1 = -1;
	bool measuring = false;
	struct conn *conns;
	int opt, one = 1, rc = 1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': if (!parse("--port", optarg, 1, 65535, &port)) return 2; break;
		case 'c': if (!parse("--connections", optarg, 1, 4096, &nconns)) return 2; break;
		case 's': if (!parse("--size", optarg, 1, 65536, &v)) return 2; size = (uint32_t)v; break;
		case 'd': if (!parse("--depth", optarg, 1, 256, &v)) return 2; depth = (uint32_t)v; break;
		case 't': if (!parse("--seconds", optarg, 1, 3600, &seconds)) return 2; break;
		case 'w': if (!parse("--warmup-ms", optarg, 0, 60000, &warmup_ms)) return 2; break;
		case 'P': if (!parse("--server-pid", optarg, 1, 1L << 30, &pid)) return 2; break;
		default: return 2;
		}
	}
	if (!port || optind != argc) {
		fprintf(stderr, "usage: echo-load --port P [--connections N] [--size B] [--depth D] "
				"[--seconds S] [--warmup-ms MS] [--server-pid PID]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	epfd = epoll_create1(0);
	conns = calloc((size_t)nconns, sizeof(*conns));
	if (!conns)
		return 1;
	for (int i = 0; i < nconns; i++)
		conns[i].fd = -1;
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->id = i;
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr))) {
			fprintf(stderr, "echo-load: connect 127.0.0.1:%ld: %s\n", port, strerror(errno));
			goto out;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	}
	start = now();
	open_at = start + (double)warmup_ms / 1000;
	close_at = open_at + (double)seconds;
	for (int i = 0; i < nconns; i++) {
		conns[i].issued = depth;
		if (!write_due(&conns[i])) {
			fprintf(stderr, "echo-load: connection %d: write: %s\n", i, strerror(errno));
			goto out;
		}
	}
	for (;;) {
		double t = now();
		int n;

		if (!measuring && t >= open_at) {
			measuring = true;
			window_done = done;
			cpu0 = server_cpu(pid);
		} else if (measuring && t >= close_at) {
			cpu1 = server_cpu(pid);
			window_done = done - window_done;
			break;
		}
		n = epoll_wait(epfd, events, 256, 100);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "echo-load: epoll_wait: %s\n", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			long k = 0;

			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				k = read_echoes(c);
				if (k < 0) {
					fprintf(stderr, "echo-load: connection %d lost after %llu bytes%s\n",
						c->id, (unsigned long long)c->received,
						errors ? " (wrong bytes)" : "");
					goto out;
				}
			}
			done += (uint64_t)k;
			c->issued += (uint64_t)k;	/* one new message per echo */
			if (events[i].events & EPOLLOUT) {
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
			}
			if (!write_due(c)) {
				fprintf(stderr, "echo-load: connection %d: write: %s\n", c->id,
					strerror(errno));
				goto out;
			}
		}
	}
	printf("connections %ld, size %u, depth %u: %.0f requests/s", nconns, size, depth,
	       (double)window_done / (double)seconds);
	if (cpu0 >= 0 && cpu1 >= 0 && window_done)
		printf(", server CPU %.3f us/request (%.2f s of %ld)", (cpu1 - cpu0) * 1e6 /
		       (double)window_done, cpu1 - cpu0, seconds);
	printf(", errors %llu, %llu round trips in all\n", (unsigned long long)errors,
	       (unsigned long long)done);
	rc = errors ? 1 : 0;
out:
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	free(conns);
	close(epfd);
	return rc;
}
