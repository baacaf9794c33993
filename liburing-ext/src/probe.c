// SPDX-License-Identifier: MIT
/* Kernel and device capability probe: every answer from a real attempt. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <uringx/probe.h>
#include <uringx/zcrx.h>

#include "diagnose.h"

static bool ring_accepts(unsigned int flags)
{
	struct io_uring ring;

	if (io_uring_queue_init(8, &ring, flags))
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

/* Wait for one CQE, at most ~1 s, so a broken kernel cannot hang the probe. */
static int wait_one(struct io_uring *ring, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };

	return io_uring_wait_cqe_timeout(ring, cqe, &ts);
}

/* A multishot receive that stays armed after delivering data. */
static bool try_recv_multishot(void)
{
	struct io_uring_buf_ring *br;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	static char bufs[2][64];
	bool ok = false;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return false;
	if (io_uring_queue_init(8, &ring, 0))
		goto close_fds;
	br = io_uring_setup_buf_ring(&ring, 2, 0, 0, &ret);
	if (!br)
		goto exit_ring;
	for (int i = 0; i < 2; i++)
		io_uring_buf_ring_add(br, bufs[i], sizeof(bufs[i]), (unsigned short)i, 1, i);
	io_uring_buf_ring_advance(br, 2);

	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_submit(&ring);
	if (write(sv[1], "probe", 5) != 5)
		goto free_br;
	if (wait_one(&ring, &cqe) == 0) {
		ok = cqe->res == 5 && (cqe->flags & IORING_CQE_F_MORE) &&
		     (cqe->flags & IORING_CQE_F_BUFFER);
		io_uring_cqe_seen(&ring, cqe);
	}
free_br:
	io_uring_free_buf_ring(&ring, br, 2, 0);
exit_ring:
	io_uring_queue_exit(&ring);
close_fds:
	close(sv[0]);
	close(sv[1]);
	return ok;
}

/* A multishot accept that stays armed after one connection. */
static bool try_accept_multishot(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	bool ok = false;
	int lfd, cfd = -1;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return false;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len))
		goto close_lfd;
	if (io_uring_queue_init(8, &ring, 0))
		goto close_lfd;
	io_uring_prep_multishot_accept(io_uring_get_sqe(&ring), lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_submit(&ring);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)))
		goto exit_ring;
	if (wait_one(&ring, &cqe) == 0) {
		ok = cqe->res >= 0 && (cqe->flags & IORING_CQE_F_MORE);
		if (cqe->res >= 0)
			close(cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
exit_ring:
	io_uring_queue_exit(&ring);
	if (cfd >= 0)
		close(cfd);
close_lfd:
	close(lfd);
	return ok;
}

static bool try_pbuf_inc(void)
{
	struct io_uring_buf_ring *br;
	struct io_uring ring;
	int ret;

	if (io_uring_queue_init(8, &ring, 0))
		return false;
	br = io_uring_setup_buf_ring(&ring, 4, 0, IOU_PBUF_RING_INC, &ret);
	if (br)
		io_uring_free_buf_ring(&ring, br, 4, 0);
	io_uring_queue_exit(&ring);
	return br != NULL;
}

/*
 * A plain IORING_OP_SEND and IORING_OP_RECV on a registered buffer
 * (IORING_RECVSEND_FIXED_BUF): both must move the bytes, the receive into a
 * different part of the same registered buffer. Kernels without it refuse
 * the flag at prep with -EINVAL.
 */
bool probe_send_recv_fixed_buf(void)
{
	static char buf[128];
	struct iovec iov = { buf, sizeof(buf) };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int sv[2], res[2] = { -1, -1 };
	bool ok = false;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return false;
	if (io_uring_queue_init(4, &ring, 0))
		goto close_fds;
	if (io_uring_register_buffers(&ring, &iov, 1))
		goto exit_ring;
	memcpy(buf, "fixed", 5);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_send(sqe, sv[0], buf, 5, MSG_NOSIGNAL);
	sqe->ioprio = IORING_RECVSEND_FIXED_BUF;
	sqe->buf_index = 0;
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 0;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv(sqe, sv[1], buf + 64, 64, 0);
	sqe->ioprio = IORING_RECVSEND_FIXED_BUF;
	sqe->buf_index = 0;
	sqe->user_data = 1;
	io_uring_submit(&ring);
	for (int i = 0; i < 2 && wait_one(&ring, &cqe) == 0; i++) {
		res[cqe->user_data & 1] = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	ok = res[0] == 5 && res[1] == 5 && memcmp(buf + 64, "fixed", 5) == 0;
exit_ring:
	io_uring_queue_exit(&ring);
close_fds:
	close(sv[0]);
	close(sv[1]);
	return ok;
}

int uringx_probe_kernel(struct uringx_probe *out)
{
	struct io_uring_query_zcrx q;
	struct ux_query_zcrx_event qe;
	struct io_uring_probe *probe;
	struct utsname uts;
	struct io_uring ring;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (uname(&uts) == 0)
		snprintf(out->kernel_release, sizeof(out->kernel_release), "%s", uts.release);

	if (io_uring_queue_init(8, &ring, 0)) {
		out->zcrx_nodev_reason = URINGX_REASON_KERNEL_NO_IO_URING;
		return 0;
	}
	out->io_uring = true;
	out->recv_bundle = ring.features & IORING_FEAT_RECVSEND_BUNDLE;
	probe = io_uring_get_probe_ring(&ring);
	if (probe) {
		out->op_recv_zc = io_uring_opcode_supported(probe, IORING_OP_RECV_ZC);
		out->op_send_zc = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
		out->op_sendmsg_zc = io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
		io_uring_free_probe(probe);
	}
	io_uring_queue_exit(&ring);

	out->setup_single_issuer = ring_accepts(IORING_SETUP_SINGLE_ISSUER);
	out->setup_defer_taskrun = ring_accepts(IORING_SETUP_SINGLE_ISSUER |
						IORING_SETUP_DEFER_TASKRUN);
	out->setup_cqe32 = ring_accepts(IORING_SETUP_CQE32);
	out->setup_cqe_mixed = ring_accepts(IORING_SETUP_CQE_MIXED);
	out->pbuf_ring_inc = try_pbuf_inc();
	out->recv_multishot = try_recv_multishot();
	out->accept_multishot = try_accept_multishot();
	out->send_recv_fixed_buf = probe_send_recv_fixed_buf();

	if (zcrx_query(&q, &qe) == 0) {
		out->zcrx_query = true;
		out->zcrx_nodev = q.register_flags & ZCRX_REG_NODEV;
		out->zcrx_event = q.features & UX_ZCRX_FEATURE_EVENT;
		out->zcrx_rx_page_size = q.features & UX_ZCRX_FEATURE_RX_PAGE_SIZE;
		out->zcrx_share = zcrx_share_supported();
	}
	if (!out->op_recv_zc)
		out->zcrx_nodev_reason = URINGX_REASON_KERNEL_NO_RECV_ZC;
	else if (!out->zcrx_nodev)
		out->zcrx_nodev_reason = URINGX_REASON_KERNEL_NO_NODEV;
	return 0;
}

int uringx_probe_zcrx(const char *ifname, unsigned int queue, struct uringx_zcrx_verdict *out)
{
	struct uringx_zcrx_params params = {
		.ifname = ifname,
		.queue = queue,
		.area_size = 64 * 4096,
		.rq_entries = 64,
	};
	struct uringx_zcrx *zcrx = NULL;
	struct io_uring_probe *probe;
	struct io_uring ring;
	enum uringx_reason reason;
	bool has_recv_zc = false;
	int ret;

	if (!ifname || !*ifname || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));

	ret = io_uring_queue_init(8, &ring, IORING_SETUP_SINGLE_ISSUER |
				  IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32);
	if (ret) {
		device_facts(ifname, out);
		out->err = ret;
		out->reason = ring_accepts(0) ? URINGX_REASON_KERNEL_RING_FLAGS :
						URINGX_REASON_KERNEL_NO_IO_URING;
		return 0;
	}
	probe = io_uring_get_probe_ring(&ring);
	if (probe) {
		has_recv_zc = io_uring_opcode_supported(probe, IORING_OP_RECV_ZC);
		io_uring_free_probe(probe);
	}
	if (!has_recv_zc) {
		io_uring_queue_exit(&ring);
		device_facts(ifname, out);
		out->err = -EOPNOTSUPP;
		out->reason = URINGX_REASON_KERNEL_NO_RECV_ZC;
		return 0;
	}

	ret = uringx_zcrx_create(&ring, &params, &zcrx, &reason);
	if (ret == 0) {
		out->usable = true;
		out->rx_buf_len = uringx_zcrx_rx_buf_len(zcrx);
		device_facts(ifname, out);
	} else {
		out->err = ret;
		out->reason = zcrx_diagnose(ifname, queue, ret, out);
		if (out->reason == URINGX_REASON_OTHER && reason != URINGX_REASON_NONE)
			out->reason = reason;
	}
	/* Closing the ring unbinds the queue; then the area can go. */
	io_uring_queue_exit(&ring);
	uringx_zcrx_destroy(zcrx);
	return 0;
}

const char *uringx_hds_state_name(enum uringx_hds_state state)
{
	switch (state) {
	case URINGX_HDS_UNSUPPORTED:
		return "unsupported";
	case URINGX_HDS_DISABLED:
		return "disabled";
	case URINGX_HDS_ENABLED:
		return "enabled";
	default:
		return "unknown";
	}
}
