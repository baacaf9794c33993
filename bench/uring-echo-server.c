// SPDX-License-Identifier: MIT
/*
 * uring-echo-server - the hand-written C counterpart of `zcnet-echo server`,
 * with the same mechanisms: multishot accept, one multishot receive per
 * connection from a shared provided-buffer ring (liburing-ext pbufring), and
 * one send in flight per connection, each received view released when its
 * echo has been sent. With "gather" (the default, as zcnet-echo's --send)
 * that send is one sendmsg of every view queued (up to 64); with "one" it
 * sends the views one at a time. Used by bench/echo-compare to price the
 * coroutine layer.
 *
 * usage: uring-echo-server PORT [BUFFERS] [BUFFER_SIZE] [gather|one]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uringx/uringx.h>

#define MAX_CONN 4096
#define QUEUE 1024
#define ACCEPT_TAG (1ULL << 62)
#define SEND_TAG (1ULL << 61)
#define GATHER 64

struct conn {
	int fd;
	bool sending;
	bool receiving;			/* the multishot receive is armed */
	bool closing;			/* EOF or error: close when nothing is in flight */
	bool starved;			/* receive ended on ENOBUFS */
	uint32_t head, tail;		/* queued views */
	uint32_t sent;			/* bytes of the head view already sent */
	struct uringx_rx_view q[QUEUE];
	struct iovec iov[GATHER];	/* the gathered send's vector */
	struct msghdr msg;
};

static bool gather = true;

static struct conn conns[MAX_CONN];
static int starved;
static struct uringx_pbufring *pbr;
static struct io_uring ring;

static void arm_recv(int i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	uringx_pbufring_prep_recv(pbr, sqe, conns[i].fd);
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
	conns[i].receiving = true;
}

static void send_head(int i)
{
	struct conn *c = &conns[i];
	struct uringx_rx_view *v = &c->q[c->head % QUEUE];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	uint32_t n = 0;

	if (gather && c->tail - c->head > 1) {
		for (uint32_t k = c->head; k != c->tail && n < GATHER; k++, n++) {
			v = &c->q[k % QUEUE];
			c->iov[n].iov_base = (char *)v->data + (n ? 0 : c->sent);
			c->iov[n].iov_len = v->len - (n ? 0 : c->sent);
		}
		c->msg.msg_iov = c->iov;
		c->msg.msg_iovlen = n;
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	} else {
		io_uring_prep_send(sqe, c->fd, (const char *)v->data + c->sent, v->len - c->sent,
				   MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, SEND_TAG | (uint64_t)i);
	c->sending = true;
}

/* Closes connection @i and gives back its views once neither a send nor
 * the receive is in flight (their last CQEs call this again). Until then the
 * fd stays open, so that its number, and this slot, are not reused under
 * them; shutdown() ends an armed receive.
 */
static void close_conn(int i)
{
	struct conn *c = &conns[i];

	if (!c->closing) {
		c->closing = true;
		shutdown(c->fd, SHUT_RDWR);
	}
	if (c->sending || c->receiving)
		return;
	if (c->starved) {
		c->starved = false;
		starved--;
	}
	while (c->head != c->tail)
		uringx_pbufring_release(pbr, c->q[c->head++ % QUEUE].token);
	close(c->fd);
	c->fd = -1;
}

int main(int argc, char **argv)
{
	struct uringx_pbufring_params pp = { QUEUE, 4096, 1, URINGX_PBUF_BUNDLE };
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct uringx_rx_view views[4096];
	int lfd, one = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: uring-echo-server PORT [BUFFERS] [BUFFER_SIZE] [gather|one]\n");
		return 2;
	}
	if (argc > 2)
		pp.nr_bufs = (uint32_t)atoi(argv[2]);
	if (pp.nr_bufs > QUEUE)
		pp.nr_bufs = QUEUE;
	if (argc > 3)
		pp.buf_size = (uint32_t)atoi(argv[3]);
	if (argc > 4)
		gather = strcmp(argv[4], "one") != 0;
	signal(SIGPIPE, SIG_IGN);
	addr.sin_port = htons((uint16_t)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1024)) {
		perror("uring-echo-server: listen");
		return 1;
	}
	if (io_uring_queue_init(4096, &ring, IORING_SETUP_SINGLE_ISSUER |
				IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL) ||
	    uringx_pbufring_create(&ring, &pp, &pbr, NULL)) {
		fprintf(stderr, "uring-echo-server: ring setup failed\n");
		return 1;
	}
	for (int i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	{
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, ACCEPT_TAG);
	}
	printf("uring-echo-server on 127.0.0.1:%s\n", argv[1]);
	fflush(stdout);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (io_uring_submit_and_wait(&ring, 1) < 0)
			break;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t ud = cqe->user_data;

			seen++;
			if (ud & ACCEPT_TAG) {
				int fd = cqe->res;

				if (fd >= 0 && fd < MAX_CONN) {
					conns[fd].fd = fd;
					conns[fd].head = conns[fd].tail = conns[fd].sent = 0;
					conns[fd].sending = false;
					conns[fd].receiving = false;
					conns[fd].closing = false;
					conns[fd].starved = false;
					setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
					arm_recv(fd);
				} else if (fd >= 0) {
					close(fd);
				}
				continue;
			}
			if (ud & SEND_TAG) {
				int i = (int)(ud & 0xffff);
				struct conn *c = &conns[i];

				c->sending = false;
				if (c->closing || cqe->res < 0) {
					close_conn(i);
					continue;
				}
				/* Release every view the send (gathered or not) finished. */
				for (uint32_t left = (uint32_t)cqe->res; left;) {
					uint32_t step = c->q[c->head % QUEUE].len - c->sent;

					if (step > left)
						step = left;
					c->sent += step;
					left -= step;
					if (c->sent == c->q[c->head % QUEUE].len) {
						uringx_pbufring_release(pbr,
									c->q[c->head++ % QUEUE].token);
						c->sent = 0;
					}
				}
				if (c->head != c->tail)
					send_head(i);
				continue;
			}
			{
				int i = (int)ud;
				struct conn *c = &conns[i];
				struct uringx_rx_event ev;

				if (c->fd < 0 || uringx_pbufring_decode(pbr, cqe, views, 4096, &ev))
					continue;
				if (!ev.armed)
					c->receiving = false;
				for (uint32_t k = 0; k < ev.nr_views; k++) {
					if (c->closing) {
						uringx_pbufring_release(pbr, views[k].token);
						continue;
					}
					/* QUEUE >= the pool: a connection cannot hold more views. */
					c->q[c->tail++ % QUEUE] = views[k];
				}
				if (c->closing) {
					close_conn(i);
					continue;
				}
				if (!c->sending && c->head != c->tail)
					send_head(i);
				if (ev.eof || ev.error) {
					close_conn(i);
				} else if (ev.out_of_buffers) {
					c->starved = true;
					starved++;
				} else if (ev.rearm) {
					arm_recv(i);
				}
			}
		}
		io_uring_cq_advance(&ring, seen);
		/* Buffers came back: re-arm the receives that ran dry, once a batch. */
		for (int k = 0; starved && k < MAX_CONN && uringx_pbufring_available(pbr); k++) {
			if (!conns[k].starved)
				continue;
			conns[k].starved = false;
			starved--;
			arm_recv(k);
		}
	}
	return 0;
}
