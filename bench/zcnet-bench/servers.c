// SPDX-License-Identifier: MIT
/*
 * zcnet-bench receive strategies: the socket API (a blocking thread per
 * connection; epoll with non-blocking calls), io_uring the classic way (one
 * IORING_OP_RECV per read, the baseline; READ_FIXED into registered memory)
 * and the RDMA-concept way through liburing-ext (multishot receive from a
 * provided-buffer ring, with bundles and incremental consumption; zcrx).
 * Each serves its sockets until every peer has closed, in SINK or ECHO mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <uringx/uringx.h>

#include "bench.h"

#define OP_RECV 1ull
#define OP_SEND 2ull
#define UD(op, idx) (((op) << 32) | (uint64_t)(idx))
#define UD_OP(ud) ((ud) >> 32)
#define UD_IDX(ud) ((uint32_t)(ud))

static void set_error(struct server_run *run, int err)
{
	if (!run->error)
		run->error = err;
}

/* Per connection: where its stream is, for SINK verification. */
static void consume(struct server_run *run, uint64_t *offset, int idx,
		    const uint8_t *data, size_t len)
{
	if (run->mode == SERVE_SINK &&
	    !pattern_check(conn_stream_base(run->first_conn + idx) + *offset, data, len))
		run->bad_bytes += len;
	*offset += len;
	run->bytes += len;
}

static unsigned int pow2_at_least(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int ring_init(struct io_uring *ring, int nr_fds, unsigned int extra_flags)
{
	struct io_uring_params p = { 0 };
	unsigned int entries = pow2_at_least(nr_fds * 2 > 256 ? (unsigned int)nr_fds * 2 : 256);

	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE | extra_flags;
	p.cq_entries = entries * 16;
	return io_uring_queue_init_params(entries, ring, &p);
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring, struct server_run *run)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		run->syscalls++;
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

/* ---- blocking: a thread per connection ---------------------------------- */

/* Counts the connection threads that have their buffer and CPU: the server
 * is ready for load only then (under MALLOC_PERTURB_, or in a slow VM,
 * setting up 64 threads takes longer than a whole --quick trial).
 */
struct blocking_setup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;
};

struct blocking_conn {
	struct blocking_setup *setup;
	struct server_run *run;
	int idx;
};

static pthread_mutex_t blocking_merge = PTHREAD_MUTEX_INITIALIZER;

/* Each connection thread counts into its own server_run, merged at the end. */
static void *blocking_conn_main(void *arg)
{
	struct blocking_conn *bc = arg;
	struct server_run *run = bc->run, mine = { .mode = run->mode, .first_conn = run->first_conn };
	int fd = run->fds[bc->idx];
	uint8_t *buf = malloc(MAX_IO);
	uint64_t offset = 0;

	pin_to_cpu(run->cpu);
	if (!buf)
		set_error(&mine, -ENOMEM);
	else
		memset(buf, 0, MAX_IO);	/* fault it in before the load starts */
	pthread_mutex_lock(&bc->setup->lock);
	bc->setup->ready++;
	pthread_cond_signal(&bc->setup->cond);
	pthread_mutex_unlock(&bc->setup->lock);
	while (buf) {
		ssize_t n = recv(fd, buf, MAX_IO, 0);

		mine.syscalls++;
		if (n <= 0) {
			if (n < 0)
				set_error(&mine, -errno);
			break;
		}
		consume(&mine, &offset, bc->idx, buf, (size_t)n);
		for (ssize_t sent = 0; run->mode == SERVE_ECHO && sent < n;) {
			ssize_t m = send(fd, buf + sent, (size_t)(n - sent), MSG_NOSIGNAL);

			mine.syscalls++;
			if (m < 0) {
				set_error(&mine, -errno);
				goto out;
			}
			sent += m;
		}
	}
out:
	free(buf);
	pthread_mutex_lock(&blocking_merge);
	run->bytes += mine.bytes;
	run->syscalls += mine.syscalls;
	run->bad_bytes += mine.bad_bytes;
	run->cpu_ns += thread_cpu_ns();
	if (mine.error)
		set_error(run, mine.error);
	pthread_mutex_unlock(&blocking_merge);
	return NULL;
}

static int serve_blocking(struct server_run *run)
{
	pthread_t *threads = calloc((size_t)run->nr_fds, sizeof(*threads));
	struct blocking_conn *bcs = calloc((size_t)run->nr_fds, sizeof(*bcs));
	int started = 0;

	if (!threads || !bcs) {
		free(threads);
		free(bcs);
		return -ENOMEM;
	}
	struct blocking_setup setup = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

	snprintf(run->detail, sizeof(run->detail), "%d threads, recv(2)/send(2)", run->nr_fds);
	for (int i = 0; i < run->nr_fds; i++) {
		bcs[i] = (struct blocking_conn){ &setup, run, i };
		if (pthread_create(&threads[i], NULL, blocking_conn_main, &bcs[i])) {
			pthread_mutex_lock(&blocking_merge);
			set_error(run, -EAGAIN);
			pthread_mutex_unlock(&blocking_merge);
			break;
		}
		started++;
	}
	pthread_mutex_lock(&setup.lock);
	while (setup.ready < started)
		pthread_cond_wait(&setup.cond, &setup.lock);
	pthread_mutex_unlock(&setup.lock);
	server_ready(run);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	free(bcs);
	return run->error;
}

/* ---- epoll with non-blocking recv/send ---------------------------------- */

struct epoll_conn {
	uint8_t *buf;
	uint64_t offset;
	uint32_t pend_off, pend_len;	/* ECHO bytes the socket did not take yet */
	bool open;
};

/* Sends what is pending; true when all of it went out. */
static bool epoll_flush(struct server_run *run, int fd, struct epoll_conn *c)
{
	while (c->pend_off < c->pend_len) {
		ssize_t m = send(fd, c->buf + c->pend_off, c->pend_len - c->pend_off,
				 MSG_NOSIGNAL);

		run->syscalls++;
		if (m < 0) {
			if (errno != EAGAIN)
				set_error(run, -errno);
			return false;
		}
		c->pend_off += (uint32_t)m;
	}
	c->pend_off = c->pend_len = 0;
	return true;
}

static int serve_epoll(struct server_run *run)
{
	struct epoll_conn *conns = calloc((size_t)run->nr_fds, sizeof(*conns));
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC), open_conns = 0;

	if (!conns || ep < 0) {
		free(conns);
		return ep < 0 ? -errno : -ENOMEM;
	}
	snprintf(run->detail, sizeof(run->detail), "level-triggered epoll, non-blocking recv/send");
	for (int i = 0; i < run->nr_fds; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		conns[i].buf = malloc(MAX_IO);
		fcntl(run->fds[i], F_SETFL, fcntl(run->fds[i], F_GETFL) | O_NONBLOCK);
		if (!conns[i].buf || epoll_ctl(ep, EPOLL_CTL_ADD, run->fds[i], &ev)) {
			set_error(run, conns[i].buf ? -errno : -ENOMEM);
			goto out;
		}
		conns[i].open = true;
		open_conns++;
	}
	server_ready(run);
	while (open_conns && !run->error) {
		int n = epoll_wait(ep, evs, 256, -1);

		run->syscalls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_error(run, -errno);
			break;
		}
		for (int e = 0; e < n; e++) {
			int i = (int)evs[e].data.u32, fd = run->fds[i];
			struct epoll_conn *c = &conns[i];
			struct epoll_event mod = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
			ssize_t got;

			if (!c->open)
				continue;
			if (c->pend_len) {	/* waiting for EPOLLOUT */
				if (epoll_flush(run, fd, c)) {
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod);
					run->syscalls++;
				}
				continue;
			}
			got = recv(fd, c->buf, MAX_IO, 0);
			run->syscalls++;
			if (got < 0) {
				if (errno != EAGAIN)
					set_error(run, -errno);
				continue;
			}
			if (got == 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				run->syscalls++;
				c->open = false;
				open_conns--;
				continue;
			}
			consume(run, &c->offset, i, c->buf, (size_t)got);
			if (run->mode == SERVE_ECHO) {
				c->pend_off = 0;
				c->pend_len = (uint32_t)got;
				if (!epoll_flush(run, fd, c)) {
					mod.events = EPOLLOUT;
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod);
					run->syscalls++;
				}
			}
		}
	}
out:
	for (int i = 0; i < run->nr_fds; i++)
		free(conns[i].buf);
	free(conns);
	close(ep);
	server_done(run);
	return run->error;
}

/* ---- io_uring: RECV per read (baseline), READ_FIXED into registered memory */

struct uring_conn {
	uint8_t *buf;
	uint64_t offset;
	uint32_t send_off, send_len;
	bool open;
};

static void uring_arm_read(struct io_uring *ring, struct server_run *run,
			   struct uring_conn *c, int idx, bool fixed)
{
	struct io_uring_sqe *sqe = get_sqe(ring, run);

	if (fixed)
		io_uring_prep_read_fixed(sqe, run->fds[idx], c->buf, MAX_IO, 0, idx);
	else
		io_uring_prep_recv(sqe, run->fds[idx], c->buf, MAX_IO, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_RECV, idx));
}

static void uring_arm_send(struct io_uring *ring, struct server_run *run,
			   struct uring_conn *c, int idx, bool fixed)
{
	struct io_uring_sqe *sqe = get_sqe(ring, run);
	uint8_t *p = c->buf + c->send_off;
	unsigned int len = c->send_len - c->send_off;

	if (fixed)
		io_uring_prep_write_fixed(sqe, run->fds[idx], p, len, 0, idx);
	else
		io_uring_prep_send(sqe, run->fds[idx], p, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UD(OP_SEND, idx));
}

static int serve_uring_rw(struct server_run *run, bool fixed)
{
	struct uring_conn *conns = calloc((size_t)run->nr_fds, sizeof(*conns));
	struct iovec *iov = calloc((size_t)run->nr_fds, sizeof(*iov));
	struct io_uring ring;
	int open_conns = 0, ret;

	if (!conns || !iov) {
		free(conns);
		free(iov);
		return -ENOMEM;
	}
	ret = ring_init(&ring, run->nr_fds, 0);
	if (ret) {
		free(conns);
		free(iov);
		return ret;
	}
	for (int i = 0; i < run->nr_fds; i++) {
		conns[i].buf = malloc(MAX_IO);
		if (!conns[i].buf) {
			ret = -ENOMEM;
			goto out;
		}
		iov[i] = (struct iovec){ conns[i].buf, MAX_IO };
	}
	if (fixed) {
		ret = io_uring_register_buffers(&ring, iov, (unsigned int)run->nr_fds);
		if (ret) {
			set_error(run, ret);
			goto out;
		}
	}
	snprintf(run->detail, sizeof(run->detail), "%s, %s",
		 fixed ? "IORING_OP_READ_FIXED" : "IORING_OP_RECV",
		 fixed ? "IORING_OP_WRITE_FIXED" : "IORING_OP_SEND");
	server_ready(run);
	for (int i = 0; i < run->nr_fds; i++) {
		conns[i].open = true;
		open_conns++;
		uring_arm_read(&ring, run, &conns[i], i, fixed);
	}
	while (open_conns && !run->error) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		run->syscalls++;
		if (ret < 0 && ret != -EINTR) {
			set_error(run, ret);
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint32_t i = UD_IDX(cqe->user_data);
			struct uring_conn *c = &conns[i];

			seen++;
			if (cqe->res < 0) {
				set_error(run, cqe->res);
				continue;
			}
			if (UD_OP(cqe->user_data) == OP_SEND) {
				c->send_off += (uint32_t)cqe->res;
				if (c->send_off < c->send_len)
					uring_arm_send(&ring, run, c, (int)i, fixed);
				else
					uring_arm_read(&ring, run, c, (int)i, fixed);
				continue;
			}
			if (cqe->res == 0) {
				c->open = false;
				open_conns--;
				continue;
			}
			consume(run, &c->offset, (int)i, c->buf, (size_t)cqe->res);
			if (run->mode == SERVE_ECHO) {
				c->send_off = 0;
				c->send_len = (uint32_t)cqe->res;
				uring_arm_send(&ring, run, c, (int)i, fixed);
			} else {
				uring_arm_read(&ring, run, c, (int)i, fixed);
			}
		}
		io_uring_cq_advance(&ring, seen);
		run->cqes += seen;
	}
	ret = run->error;
out:
	io_uring_queue_exit(&ring);
	for (int i = 0; i < run->nr_fds; i++)
		free(conns[i].buf);
	free(conns);
	free(iov);
	server_done(run);
	return ret;
}

static int serve_uring_recv(struct server_run *run)
{
	return serve_uring_rw(run, false);
}

static int serve_uring_fixed(struct server_run *run)
{
	return serve_uring_rw(run, true);
}

/* ---- liburing-ext receive sources: buffer rings and zcrx ---------------- */

#define VIEW_QUEUE 512	/* ECHO: received views waiting for their send */

struct src_conn {
	uint64_t offset;
	bool open, sending, starved;
	uint32_t head, tail;		/* queued views */
	uint32_t sent;			/* bytes of the head view already sent */
	struct uringx_rx_view q[VIEW_QUEUE];
};

enum src_kind { SRC_PBUF, SRC_PBUF_BUNDLE, SRC_PBUF_INC, SRC_ZCRX };

static void src_arm(struct io_uring *ring, struct server_run *run,
		    struct uringx_rxsrc *src, int idx)
{
	struct io_uring_sqe *sqe = get_sqe(ring, run);

	uringx_rxsrc_prep_recv(src, sqe, run->fds[idx]);
	io_uring_sqe_set_data64(sqe, UD(OP_RECV, idx));
}

static void src_send_head(struct io_uring *ring, struct server_run *run,
			  struct src_conn *c, int idx)
{
	struct uringx_rx_view *v = &c->q[c->head % VIEW_QUEUE];
	struct io_uring_sqe *sqe = get_sqe(ring, run);

	io_uring_prep_send(sqe, run->fds[idx], (const uint8_t *)v->data + c->sent,
			   v->len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UD(OP_SEND, idx));
	c->sending = true;
}

static int src_create(struct io_uring *ring, struct server_run *run, enum src_kind kind,
		      struct uringx_rxsrc **src)
{
	struct uringx_rxsrc_params p = { 0 };
	enum uringx_reason reason = URINGX_REASON_NONE;
	int ret;

	if (kind == SRC_ZCRX) {
		p.mode = URINGX_RXSRC_ZCRX;
		p.zcrx.ifname = run->zcrx_ifname;
		p.zcrx.queue = run->zcrx_queue;
		p.zcrx.area_size = 64u << 20;
		p.zcrx.rq_entries = 8192;
		p.zcrx.rx_buf_len = run->zcrx_buf_len;
		p.zcrx.event_user_data = UD(3ull, 0);
	} else {
		p.mode = URINGX_RXSRC_PBUF;
		/* Default 512 (8 MiB): enough for 512 connections' in-flight
		 * data, small enough to stay in cache (a 64 MiB ring spends its
		 * time in DRAM misses); --pbuf-bufs changes it.
		 */
		p.pbuf.nr_bufs = run->pbuf_bufs;
		p.pbuf.buf_size = 16384;
		p.pbuf.bgid = 7;
		if (kind == SRC_PBUF_BUNDLE)
			p.pbuf.flags = URINGX_PBUF_BUNDLE;
		else if (kind == SRC_PBUF_INC)
			p.pbuf.flags = URINGX_PBUF_INC | URINGX_PBUF_REQUIRE_INC | URINGX_PBUF_BUNDLE;
	}
	ret = uringx_rxsrc_create(ring, &p, src, &reason);
	if (ret)
		snprintf(run->detail, sizeof(run->detail), "%s", uringx_reason_str(reason));
	return ret;
}

static int serve_source(struct server_run *run, enum src_kind kind)
{
	struct src_conn *conns = calloc((size_t)run->nr_fds, sizeof(*conns));
	struct uringx_rx_view *views = NULL;
	struct uringx_rxsrc *src = NULL;
	int open_conns = 0, in_flight = 0, nr_starved = 0, ret;
	struct io_uring ring;
	uint32_t max_views;

	if (!conns)
		return -ENOMEM;
	ret = ring_init(&ring, run->nr_fds, kind == SRC_ZCRX ? IORING_SETUP_CQE32 : 0);
	if (ret) {
		free(conns);
		return ret;
	}
	ret = src_create(&ring, run, kind, &src);
	if (ret) {
		set_error(run, ret);
		goto out;
	}
	run->rx_out_of_buffers = 0;
	max_views = uringx_rxsrc_max_views(src);
	views = calloc(max_views, sizeof(*views));
	if (!views) {
		ret = -ENOMEM;
		goto out;
	}
	if (kind == SRC_ZCRX)
		snprintf(run->detail, sizeof(run->detail), "%s, %u-byte buffers",
			 uringx_rxsrc_kind_name(src),
			 uringx_zcrx_rx_buf_len(uringx_rxsrc_zcrx(src)));
	else {
		const struct uringx_pbufring *pbr = uringx_rxsrc_pbufring(src);

		snprintf(run->detail, sizeof(run->detail), "multishot, pbuf-ring%s%s",
			 uringx_pbufring_incremental(pbr) ? " inc" : "",
			 uringx_pbufring_bundles(pbr) ? " bundle" : "");
	}
	server_ready(run);
	for (int i = 0; i < run->nr_fds; i++) {
		conns[i].open = true;
		open_conns++;
		in_flight++;
		src_arm(&ring, run, src, i);
	}
	while ((open_conns || in_flight) && !run->error) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		run->syscalls++;
		if (ret < 0 && ret != -EINTR) {
			set_error(run, ret);
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint32_t i = UD_IDX(cqe->user_data);
			struct src_conn *c = &conns[i];
			struct uringx_rx_event ev;

			seen++;
			if (kind == SRC_ZCRX && uringx_zcrx_is_event(uringx_rxsrc_zcrx(src), cqe))
				continue;
			if (UD_OP(cqe->user_data) == OP_SEND) {
				struct uringx_rx_view *v = &c->q[c->head % VIEW_QUEUE];

				in_flight--;
				c->sending = false;
				if (cqe->res < 0) {
					set_error(run, cqe->res);
					continue;
				}
				c->sent += (uint32_t)cqe->res;
				if (c->sent == v->len) {
					uringx_rxsrc_release(src, v->token);
					c->head++;
					c->sent = 0;
				}
				if (c->head != c->tail) {
					in_flight++;
					src_send_head(&ring, run, c, (int)i);
				}
				continue;
			}
			ret = uringx_rxsrc_decode(src, cqe, views, max_views, &ev);
			if (ret) {
				set_error(run, ret);
				continue;
			}
			for (uint32_t v = 0; v < ev.nr_views; v++) {
				consume(run, &c->offset, (int)i, views[v].data, views[v].len);
				if (run->mode == SERVE_SINK) {
					uringx_rxsrc_release(src, views[v].token);
				} else if (c->tail - c->head == VIEW_QUEUE) {
					set_error(run, -ENOSPC);
				} else {
					c->q[c->tail++ % VIEW_QUEUE] = views[v];
				}
			}
			if (run->mode == SERVE_ECHO && !c->sending && c->head != c->tail) {
				in_flight++;
				src_send_head(&ring, run, c, (int)i);
			}
			if (ev.armed)
				continue;
			in_flight--;
			if (ev.eof) {
				c->open = false;
				open_conns--;
			} else if (ev.error) {
				set_error(run, ev.error);
			} else if (ev.out_of_buffers) {
				c->starved = true;
				nr_starved++;
				run->rx_out_of_buffers++;
			} else if (ev.rearm) {
				in_flight++;
				src_arm(&ring, run, src, (int)i);
			}
		}
		io_uring_cq_advance(&ring, seen);
		run->cqes += seen;
		uringx_rxsrc_flush(src);
		/* Receives that ran dry start again once buffers are back. */
		for (int i = 0; nr_starved && i < run->nr_fds && uringx_rxsrc_available(src); i++) {
			if (!conns[i].starved)
				continue;
			conns[i].starved = false;
			nr_starved--;
			in_flight++;
			src_arm(&ring, run, src, i);
		}
	}
	ret = run->error;
	if (kind == SRC_ZCRX) {
		struct uringx_zcrx_stats st;

		uringx_zcrx_get_stats(uringx_rxsrc_zcrx(src), &st);
		run->rx_copied = st.kernel_counts ? st.copy_bytes : RX_COPIED_UNKNOWN;
	}
	/* Nothing armed: destroy the source while the ring is open, since a
	 * buffer ring is unregistered through it. After an error receives may
	 * still be armed, and only closing the ring first stops them.
	 */
	if (!in_flight) {
		uringx_rxsrc_destroy(src);
		src = NULL;
	}
out:
	io_uring_queue_exit(&ring);
	uringx_rxsrc_destroy(src);
	free(views);
	free(conns);
	server_done(run);
	return ret;
}

static int serve_pbuf(struct server_run *run)
{
	return serve_source(run, SRC_PBUF);
}

static int serve_pbuf_bundle(struct server_run *run)
{
	return serve_source(run, SRC_PBUF_BUNDLE);
}

static int serve_pbuf_inc(struct server_run *run)
{
	return serve_source(run, SRC_PBUF_INC);
}

static int serve_zcrx(struct server_run *run)
{
	return serve_source(run, SRC_ZCRX);
}

/* ---- availability -------------------------------------------------------- */

const struct uringx_probe *kernel_probe(void)
{
	static struct uringx_probe probe;
	static bool done;

	if (!done) {
		uringx_probe_kernel(&probe);
		done = true;
	}
	return &probe;
}

static const char *always(const struct server_run *cfg, char *why, size_t len)
{
	(void)cfg;
	(void)why;
	(void)len;
	return NULL;
}

static const char *need_bundle(const struct server_run *cfg, char *why, size_t len)
{
	(void)cfg;
	if (kernel_probe()->recv_bundle)
		return NULL;
	snprintf(why, len, "%s", uringx_reason_str(URINGX_REASON_KERNEL_NO_BUNDLE));
	return why;
}

static const char *need_inc(const struct server_run *cfg, char *why, size_t len)
{
	(void)cfg;
	if (kernel_probe()->pbuf_ring_inc && kernel_probe()->recv_bundle)
		return NULL;
	snprintf(why, len, "%s", uringx_reason_str(kernel_probe()->pbuf_ring_inc ?
						   URINGX_REASON_KERNEL_NO_BUNDLE :
						   URINGX_REASON_KERNEL_NO_PBUF_INC));
	return why;
}

static const char *need_zcrx(const struct server_run *cfg, char *why, size_t len)
{
	const struct uringx_probe *p = kernel_probe();
	struct uringx_zcrx_verdict v;

	if (cfg->zcrx_ifname) {
		uringx_probe_zcrx(cfg->zcrx_ifname, cfg->zcrx_queue, &v);
		if (v.usable)
			return NULL;
		snprintf(why, len, "zcrx on %s queue %u: %s (%s)", cfg->zcrx_ifname,
			 cfg->zcrx_queue, uringx_reason_str(v.reason), uringx_strerror(v.err));
		return why;
	}
	if (p->zcrx_nodev)
		return NULL;
	snprintf(why, len,
		 "no NIC queue given (--zcrx-ifname) and no NODEV copy mode: %s; "
		 "loopback has no zcrx queue (runs in the VM suite on Linux 7.x)",
		 uringx_reason_str(p->zcrx_nodev_reason));
	return why;
}

const struct rx_strategy rx_strategies[] = {
	{ "blocking", "socket API: blocking recv/send, a thread per connection",
	  always, serve_blocking, false },
	{ "epoll", "socket API: epoll + non-blocking recv/send", always, serve_epoll, false },
	{ BASELINE_STRATEGY, "io_uring: one IORING_OP_RECV per read into a plain buffer",
	  always, serve_uring_recv, false },
	{ "uring-fixed", "io_uring: READ_FIXED/WRITE_FIXED on registered buffers",
	  always, serve_uring_fixed, false },
	{ "pbuf", "RDMA-style: multishot recv, provided-buffer ring", always, serve_pbuf, false },
	{ "pbuf-bundle", "RDMA-style: multishot recv bundles, provided-buffer ring",
	  need_bundle, serve_pbuf_bundle, false },
	{ "pbuf-inc", "RDMA-style: bundles + incremental buffer consumption",
	  need_inc, serve_pbuf_inc, false },
	{ "zcrx", "RDMA-style: IORING_OP_RECV_ZC into a registered area (NIC queue or NODEV)",
	  need_zcrx, serve_zcrx, false },
	{ "zcnet", "zcnet C++20 coroutines (RxPool/RecvStream) on the best mechanism",
	  zcnet_unavailable, zcnet_serve, false },
	{ "zcnet-1class", "zcnet with one buffer size: RxPool size classes off (A/B; when named)",
	  zcnet_unavailable, zcnet_serve_one_class, true },
	{ "asio", "Boost.Asio C++20 coroutines on its io_uring backend (the C++ peer)",
	  always, asio_serve, false },
};
const int nr_rx_strategies = (int)(sizeof(rx_strategies) / sizeof(rx_strategies[0]));

const struct rx_strategy *rx_strategy_find(const char *name)
{
	for (int i = 0; i < nr_rx_strategies; i++)
		if (!strcmp(rx_strategies[i].name, name))
			return &rx_strategies[i];
	return NULL;
}
