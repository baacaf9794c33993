// SPDX-License-Identifier: MIT
/*
 * zcnet-bench stream senders: send(2), IORING_OP_SEND, IORING_OP_SEND_ZC
 * from ordinary memory, from a registered buffer and from memory the NIC has
 * DMA-mapped once (--tx-nic, zcnet's kernel patches). Every kind sends the
 * pattern straight from its backing memory (never modified, so zero-copy
 * sends need no buffer management), one request in flight per connection so
 * a stream's bytes stay in order, then shuts the connections down.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <uringx/uringx.h>

#include "bench.h"

#define CHUNK MAX_IO

const char *send_kind_name(enum send_kind kind)
{
	static const char *const names[SEND_KIND_COUNT] = {
		[SEND_SYSCALL] = "send(2)",
		[SEND_URING] = "IORING_OP_SEND",
		[SEND_URING_ZC] = "SEND_ZC",
		[SEND_URING_ZC_FIXED] = "SEND_ZC fixed",
		[SEND_URING_ZC_NIC] = "SEND_ZC NIC",
	};
	return kind < SEND_KIND_COUNT ? names[kind] : "?";
}

const char *send_kind_unavailable(enum send_kind kind, char *why, size_t len)
{
	if (kind != SEND_SYSCALL && kind != SEND_URING && !kernel_probe()->op_send_zc) {
		snprintf(why, len, "%s", uringx_reason_str(URINGX_REASON_KERNEL_NO_SEND_ZC));
		return why;
	}
	if (kind == SEND_URING_ZC_NIC && !bench_link.tx_nic) {
		snprintf(why, len, "no --tx-nic: name the interface the client's connections leave "
			 "through (a NIC with netmem TX: zcnet's kernel patches; the VM's netdevsim)");
		return why;
	}
	return NULL;
}

/* The pattern in memory the NIC mapped once (SEND_URING_ZC_NIC). */
struct nic_src {
	struct uringx_bufpool *pool;
	uint8_t *copy;			/* the pattern's bytes in the pool */
	uint16_t buf_index;
};

static int nic_src_create(struct nic_src *n, struct io_uring *ring, struct send_run *run)
{
	enum uringx_reason reason = URINGX_REASON_NONE;
	struct uringx_bufpool_params bp = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	struct uringx_chunk c;
	size_t len;
	const uint8_t *pattern = pattern_base(&len);
	int ret;

	bp.chunk_size = (uint32_t)((len + (size_t)page - 1) / (size_t)page * (size_t)page);
	bp.nr_chunks = 1;
	ret = uringx_bufpool_create_nic(ring, &bp, bench_link.tx_nic, &n->pool, &reason);
	if (ret) {
		snprintf(run->why, sizeof(run->why), "NIC-registered pool on %s: %s (%s)",
			 bench_link.tx_nic, uringx_reason_str(reason), uringx_strerror(ret));
		return ret;
	}
	ret = uringx_bufpool_alloc(n->pool, &c);
	if (ret) {
		uringx_bufpool_destroy(n->pool);
		return ret;
	}
	memcpy(c.addr, pattern, len);	/* once, before the clock matters */
	n->copy = c.addr;
	n->buf_index = c.buf_index;
	return 0;
}

static int send_syscall(struct send_run *run, uint64_t *sent)
{
	for (int active = run->nr_fds; active;) {
		active = 0;
		for (int i = 0; i < run->nr_fds; i++) {
			uint64_t left = run->bytes_per_conn - sent[i];
			ssize_t n;

			if (!left)
				continue;
			active++;
			n = send(run->fds[i], pattern_at(conn_stream_base(i) + sent[i]),
				 left < CHUNK ? left : CHUNK, MSG_NOSIGNAL);
			run->syscalls++;
			if (n < 0)
				return -errno;
			sent[i] += (uint64_t)n;
			run->bytes += (uint64_t)n;
		}
	}
	return 0;
}

/* SEND_ZC accounting: the bytes each request actually sent, by its sequence
 * number, so its notification (which may come much later) can be
 * attributed as zero-copy or copied.
 */
#define ZC_SEQS 4096u

struct zc_ledger {
	uint32_t next_seq;
	uint32_t sent[ZC_SEQS];
};

static void prep_chunk(struct io_uring *ring, struct send_run *run, int i, uint64_t sent,
		       struct zc_ledger *ledger, const struct nic_src *nic)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	uint64_t left = run->bytes_per_conn - sent;
	unsigned int len = left < CHUNK ? (unsigned int)left : CHUNK;
	const uint8_t *p = pattern_at(conn_stream_base(i) + sent);

	switch (run->kind) {
	case SEND_URING:
		io_uring_prep_send(sqe, run->fds[i], p, len, MSG_NOSIGNAL);
		break;
	case SEND_URING_ZC:
		io_uring_prep_send_zc(sqe, run->fds[i], p, len, MSG_NOSIGNAL,
				      IORING_SEND_ZC_REPORT_USAGE);
		break;
	case SEND_URING_ZC_NIC: {
		size_t plen;
		const uint8_t *in_pool = nic->copy + (p - pattern_base(&plen));

		io_uring_prep_send_zc_fixed(sqe, run->fds[i],
					    uringx_bufpool_fixed_addr(nic->pool, in_pool), len,
					    MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE, nic->buf_index);
		break;
	}
	default:
		io_uring_prep_send_zc_fixed(sqe, run->fds[i], p, len, MSG_NOSIGNAL,
					    IORING_SEND_ZC_REPORT_USAGE, 0);
		break;
	}
	io_uring_sqe_set_data64(sqe, ((uint64_t)(ledger->next_seq++ % ZC_SEQS) << 32) |
				     (uint64_t)i);
}

static int send_uring(struct send_run *run, uint64_t *sent)
{
	struct zc_ledger *ledgers = calloc((size_t)run->nr_fds, sizeof(*ledgers));
	struct nic_src nic = { 0 };
	struct io_uring_params params = { 0 };
	struct io_uring ring;
	int active = 0, notifs_pending = 0, ret;
	unsigned int entries = 256;

	while (entries < (unsigned int)run->nr_fds * 2)
		entries <<= 1;
	params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (!ledgers)
		return -ENOMEM;
	ret = io_uring_queue_init_params(entries, &ring, &params);
	if (ret) {
		free(ledgers);
		return ret;
	}
	if (run->kind == SEND_URING_ZC_FIXED) {
		size_t len;
		struct iovec iov = { (void *)pattern_base(&len), 0 };

		iov.iov_len = len;
		ret = io_uring_register_buffers(&ring, &iov, 1);
		if (ret)
			goto out;
	}
	if (run->kind == SEND_URING_ZC_NIC) {
		ret = nic_src_create(&nic, &ring, run);
		if (ret)
			goto out;
	}
	for (int i = 0; i < run->nr_fds; i++) {
		prep_chunk(&ring, run, i, 0, &ledgers[i], &nic);
		active++;
	}
	while ((active || notifs_pending) && !ret) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		run->syscalls++;
		if (ret == -EINTR) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		ret = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			int i = (int)(uint32_t)cqe->user_data;
			uint32_t seq = (uint32_t)(cqe->user_data >> 32);
			uint32_t *bytes = &ledgers[i].sent[seq];

			seen++;
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				notifs_pending--;
				run->zc_bytes += *bytes;
				if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
					run->zc_copied += *bytes;
				continue;
			}
			if (cqe->flags & IORING_CQE_F_MORE)
				notifs_pending++;
			if (cqe->res < 0) {
				ret = cqe->res;
				break;
			}
			*bytes = (uint32_t)cqe->res;
			sent[i] += (uint64_t)cqe->res;
			run->bytes += (uint64_t)cqe->res;
			if (sent[i] < run->bytes_per_conn)
				prep_chunk(&ring, run, i, sent[i], &ledgers[i], &nic);
			else
				active--;
		}
		io_uring_cq_advance(&ring, seen);
	}
out:
	uringx_bufpool_destroy(nic.pool);	/* every notification is in */
	io_uring_queue_exit(&ring);
	free(ledgers);
	return ret;
}

int send_stream(struct send_run *run)
{
	uint64_t *sent = calloc((size_t)run->nr_fds, sizeof(*sent));
	uint64_t start_cpu;
	int ret;

	if (!sent)
		return run->error = -ENOMEM;
	pin_to_cpu(run->cpu);
	if (run->kind == SEND_URING_ZC_NIC && bench_link.client_netns) {
		/* The binding is made for an interface of this thread's
		 * namespace: the one the connections live in. */
		int ns = open(bench_link.client_netns, O_RDONLY | O_CLOEXEC);

		if (ns < 0 || setns(ns, CLONE_NEWNET)) {
			ret = -errno;
			snprintf(run->why, sizeof(run->why), "entering %s", bench_link.client_netns);
			if (ns >= 0)
				close(ns);
			free(sent);
			return run->error = ret;
		}
		close(ns);
	}
	start_cpu = thread_cpu_ns();
	ret = run->kind == SEND_SYSCALL ? send_syscall(run, sent) : send_uring(run, sent);
	for (int i = 0; i < run->nr_fds; i++)
		shutdown(run->fds[i], SHUT_WR);
	run->cpu_ns = thread_cpu_ns() - start_cpu;
	free(sent);
	run->error = ret;
	return ret;
}
