// SPDX-License-Identifier: MIT
/*
 * epoll-echo-server - the socket-API echo server bench/echo-compare measures
 * zcnet against: one thread, level-triggered epoll, non-blocking sockets, one
 * read() per readiness into a per-connection buffer and the bytes written
 * straight back; a short write parks the rest and waits for EPOLLOUT before
 * that connection is read again. This is what a careful C server written
 * against the BSD socket API does, and what the CPU-per-round-trip
 * targets are stated against.
 *
 * usage: epoll-echo-server PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 256

struct conn {
	int fd;
	size_t pending, off;		/* bytes read and not yet written back */
	char buf[BUF_SIZE];
};

static int epfd;

static void close_conn(struct conn *c)
{
	close(c->fd);			/* also leaves the epoll set */
	free(c);
}

static void set_events(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending; false when the connection is gone. */
static bool flush(struct conn *c)
{
	while (c->pending) {
		ssize_t n = write(c->fd, c->buf + c->off, c->pending);

		if (n < 0 && errno == EAGAIN) {
			set_events(c, EPOLLOUT);
			return true;
		}
		if (n <= 0)
			return false;
		c->off += (size_t)n;
		c->pending -= (size_t)n;
	}
	return true;
}

static bool on_event(struct conn *c, uint32_t events)
{
	ssize_t n;

	if (c->pending) {		/* EPOLLOUT: the parked rest first */
		if (!flush(c))
			return false;
		if (c->pending)
			return true;
		set_events(c, EPOLLIN);
		return true;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return true;
	n = read(c->fd, c->buf, BUF_SIZE);
	if (n < 0 && errno == EAGAIN)
		return true;
	if (n <= 0)
		return false;
	c->pending = (size_t)n;
	c->off = 0;
	return flush(c);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct epoll_event events[MAX_EVENTS], ev = { .events = EPOLLIN };
	int lfd, one = 1;
	char *end;
	long port;

	if (argc != 2) {
		fprintf(stderr, "usage: epoll-echo-server PORT\n");
		return 2;
	}
	port = strtol(argv[1], &end, 10);
	if (*end || port < 1 || port > 65535) {
		fprintf(stderr, "epoll-echo-server: PORT wants 1..65535, got '%s'\n", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	addr.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4096)) {
		fprintf(stderr, "epoll-echo-server: listen on port %ld: %s\n", port, strerror(errno));
		return 1;
	}
	epfd = epoll_create1(0);
	ev.data.ptr = NULL;		/* NULL: the listener */
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(epfd, events, MAX_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "epoll-echo-server: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = malloc(sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->pending = 0;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (!on_event(c, events[i].events))
				close_conn(c);
		}
	}
}
