// SPDX-License-Identifier: MIT
/*
 * zcnet-bench RPC and ping-pong load: one io_uring thread keeps `depth`
 * requests of `msg_size` bytes in flight on every connection (sends of
 * queued requests coalesce, one send in flight per connection so the stream
 * stays in order), verifies every echoed byte, counts the requests completed
 * in the measured window and, in latency mode, records each one's round
 * trip. The same client drives every strategy.
 *
 * The clock starts once every buffer is allocated and touched, and the
 * measured window opens only when the warm-up time has passed and every
 * connection has had an answer: on a slow machine (a TCG guest, or malloc
 * that fills what it hands out, as MALLOC_PERTURB_ does) setting up 64
 * connections can take longer than a --quick window.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bench.h"

#define OP_RECV 1ull
#define OP_SEND 2ull
#define MAX_LATENCY_SAMPLES (1u << 20)
#define STALL_NS (5ull * 1000000000ull)
/* A connection still unanswered this long after the start fails the trial. */
#define FIRST_ANSWER_NS (60ull * 1000000000ull)

struct load_conn {
	uint8_t *rbuf;
	uint64_t sent_off;	/* request bytes handed to the kernel */
	uint64_t queued_off;	/* request bytes issued (sent or waiting) */
	uint64_t recv_off;	/* echoed bytes received and verified */
	uint64_t completed;	/* responses complete */
	uint64_t *issue_ns;	/* latency: issue time of request k at [k % depth] */
	bool sending;
};

static void arm_recv(struct io_uring *ring, struct load_run *run, struct load_conn *c, int i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_recv(sqe, run->fds[i], c->rbuf, MAX_IO, 0);
	io_uring_sqe_set_data64(sqe, (OP_RECV << 32) | (uint64_t)i);
}

static void kick_send(struct io_uring *ring, struct load_run *run, struct load_conn *c, int i)
{
	uint64_t pending = c->queued_off - c->sent_off;
	struct io_uring_sqe *sqe;

	if (c->sending || !pending)
		return;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_send(sqe, run->fds[i], pattern_at(conn_stream_base(i) + c->sent_off),
			   pending < MAX_IO ? (unsigned int)pending : MAX_IO, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (OP_SEND << 32) | (uint64_t)i);
	c->sending = true;
}

static void issue(struct load_run *run, struct load_conn *c, uint64_t now)
{
	uint64_t k = c->queued_off / run->msg_size;

	if (c->issue_ns)
		c->issue_ns[k % run->depth] = now;
	c->queued_off += run->msg_size;
}

int load_echo(struct load_run *run)
{
	struct load_conn *conns = calloc((size_t)run->nr_fds, sizeof(*conns));
	struct io_uring_params params = { 0 };
	uint64_t start, warm_until, measure_from = UINT64_MAX, measure_to = UINT64_MAX;
	uint64_t last_progress;
	unsigned int entries = 256;
	struct io_uring ring;
	bool stopping = false;
	int busy = 0, answered = 0, ret;

	if (!conns)
		return run->error = -ENOMEM;
	pin_to_cpu(run->cpu);
	while (entries < (unsigned int)run->nr_fds * 2)
		entries <<= 1;
	params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(entries, &ring, &params);
	if (ret) {
		free(conns);
		return run->error = ret;
	}
	if (run->latency) {
		run->lat_ns = malloc(MAX_LATENCY_SAMPLES * sizeof(*run->lat_ns));
		if (!run->lat_ns)
			ret = -ENOMEM;
	}
	for (int i = 0; i < run->nr_fds && !ret; i++) {
		struct load_conn *c = &conns[i];

		c->rbuf = malloc(MAX_IO);
		c->issue_ns = run->latency ? calloc(run->depth, sizeof(uint64_t)) : NULL;
		if (!c->rbuf || (run->latency && !c->issue_ns)) {
			ret = -ENOMEM;
			break;
		}
		memset(c->rbuf, 0, MAX_IO);
	}
	start = now_ns();
	warm_until = start + run->warmup_ns;
	for (int i = 0; i < run->nr_fds && !ret; i++) {
		struct load_conn *c = &conns[i];

		for (uint32_t d = 0; d < run->depth; d++)
			issue(run, c, start);
		kick_send(&ring, run, c, i);
		arm_recv(&ring, run, c, i);
		busy++;
	}
	last_progress = start;
	while (busy && !ret) {
		struct __kernel_timespec ts = { 0, 100000000 };
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		uint64_t now;

		ret = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		if (ret == -ETIME || ret == -EINTR)
			ret = 0;
		if (ret < 0)
			break;
		ret = 0;
		now = now_ns();
		if (measure_from == UINT64_MAX && now >= warm_until && answered == run->nr_fds) {
			measure_from = now;
			measure_to = now + run->measure_ns;
		}
		if (!stopping && now >= measure_to)
			stopping = true;
		if (measure_from == UINT64_MAX && now - start > FIRST_ANSWER_NS) {
			ret = -ETIMEDOUT;	/* some connection never echoed */
			break;
		}
		if (now - last_progress > STALL_NS) {
			ret = -ETIMEDOUT;
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			int i = (int)(uint32_t)cqe->user_data;
			struct load_conn *c = &conns[i];

			seen++;
			if (cqe->res <= 0) {
				ret = cqe->res ? cqe->res : -ECONNRESET;
				break;
			}
			last_progress = now;
			if (cqe->user_data >> 32 == OP_SEND) {
				c->sent_off += (uint64_t)cqe->res;
				c->sending = false;
				kick_send(&ring, run, c, i);
				continue;
			}
			if (!pattern_check(conn_stream_base(i) + c->recv_off, c->rbuf,
					   (size_t)cqe->res))
				run->bad_bytes += (uint64_t)cqe->res;
			c->recv_off += (uint64_t)cqe->res;
			if (!c->completed && c->recv_off >= run->msg_size)
				answered++;
			while (c->completed < c->recv_off / run->msg_size) {
				if (run->latency && run->nr_lat < MAX_LATENCY_SAMPLES &&
				    now >= measure_from && now < measure_to)
					run->lat_ns[run->nr_lat++] =
						now - c->issue_ns[c->completed % run->depth];
				c->completed++;
				if (now >= measure_from && now < measure_to)
					run->requests++;
				if (!stopping)
					issue(run, c, now);
			}
			kick_send(&ring, run, c, i);
			if (c->recv_off < c->queued_off)
				arm_recv(&ring, run, c, i);
			else
				busy--;		/* everything issued came back */
		}
		io_uring_cq_advance(&ring, seen);
	}
	/* The server serves until it sees EOF; on failure also unblock it. */
	for (int i = 0; i < run->nr_fds; i++)
		shutdown(run->fds[i], ret ? SHUT_RDWR : SHUT_WR);
	io_uring_queue_exit(&ring);
	for (int i = 0; i < run->nr_fds; i++) {
		free(conns[i].rbuf);
		free(conns[i].issue_ns);
	}
	free(conns);
	run->error = ret;
	return ret;
}
