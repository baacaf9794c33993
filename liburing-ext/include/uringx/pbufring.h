/* SPDX-License-Identifier: MIT */
/*
 * uringx/pbufring.h - provided-buffer ring pool for multishot receive.
 *
 * A ring of equal buffers the kernel picks from (IORING_REGISTER_PBUF_RING).
 * Incremental consumption (IOU_PBUF_RING_INC) is used when the kernel has it,
 * so a large buffer holds several small receives. Receives can be bundles:
 * one CQE covering several buffers. The pool decodes each CQE into views,
 * recycles a buffer when its last view is released, and tells the caller to
 * re-arm the multishot receive after the kernel ran out of buffers (ENOBUFS),
 * which loses and reorders nothing: the data waits in the socket.
 *
 * Incremental rings: the kernel does not report where in a buffer a receive
 * landed; it is implied by CQE order. Feed an incremental ring from one
 * multishot receive at a time (one socket per ring). Non-incremental rings may
 * be shared by many sockets.
 */
#ifndef URINGX_PBUFRING_H
#define URINGX_PBUFRING_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/error.h>
#include <uringx/rxview.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_pbufring;

enum uringx_pbufring_flags {
	URINGX_PBUF_INC = 1u << 0,		/* incremental if the kernel has it */
	URINGX_PBUF_REQUIRE_INC = 1u << 1,	/* fail with -EOPNOTSUPP without it */
	URINGX_PBUF_BUNDLE = 1u << 2,		/* receive bundles if the kernel has them */
};

struct uringx_pbufring_params {
	uint32_t nr_bufs;	/* power of two, 1..32768 */
	uint32_t buf_size;	/* bytes per buffer, 1..(1 << 24) */
	uint16_t bgid;		/* buffer group id, unique on the ring */
	uint32_t flags;		/* enum uringx_pbufring_flags */
};

/*
 * uringx_pbufring_create - allocate the buffers, register the ring with
 * @ring and publish every buffer. *@out owns both; destroy before the ring.
 * Errors: -EINVAL (bad params: nr_bufs not a power of two in 1..32768,
 * buf_size 0 or over 16 MiB, unknown flags), -EEXIST (bgid in use), -ENOMEM,
 * -EOPNOTSUPP (URINGX_PBUF_REQUIRE_INC on a kernel without it; @reason says).
 * On success @reason (if non-NULL) is uringx_pbufring_downgrade(): NONE, or
 * why a mode asked for with URINGX_PBUF_INC / URINGX_PBUF_BUNDLE is not in use.
 */
int uringx_pbufring_create(struct io_uring *ring,
			   const struct uringx_pbufring_params *params,
			   struct uringx_pbufring **out, enum uringx_reason *reason);

/* uringx_pbufring_destroy - unregister and free. Views become invalid. */
void uringx_pbufring_destroy(struct uringx_pbufring *pbr);

/*
 * uringx_pbufring_prep_recv - prepare a multishot receive on @fd that picks
 * buffers from this ring (bundled when the pool has bundles enabled).
 */
void uringx_pbufring_prep_recv(const struct uringx_pbufring *pbr,
			       struct io_uring_sqe *sqe, int fd);

/*
 * uringx_pbufring_max_views - the most views one CQE can produce: size
 * the views array of uringx_pbufring_decode() with it.
 */
uint32_t uringx_pbufring_max_views(const struct uringx_pbufring *pbr);

/*
 * uringx_pbufring_decode - turn a receive CQE from this ring into views and
 * an event. Must be called for every CQE of the receives, in CQ order.
 * Returns 0, or -ENOSPC when @max_views is too small for this CQE (nothing
 * consumed: call again with a larger array), or -EPROTO when the CQE names a
 * buffer the ring did not hand out (the CQE is not this ring's).
 */
int uringx_pbufring_decode(struct uringx_pbufring *pbr,
			   const struct io_uring_cqe *cqe,
			   struct uringx_rx_view *views, uint32_t max_views,
			   struct uringx_rx_event *ev);

/*
 * uringx_pbufring_release - give a view's memory back; the buffer returns
 * to the kernel when its last view is released and the kernel is done with
 * it. Errors: -EINVAL (token of another pool), -EALREADY (already released).
 */
int uringx_pbufring_release(struct uringx_pbufring *pbr, uint64_t token);

/*
 * uringx_pbufring_downgrade - why a requested mode is off: the kernel lacks
 * incremental rings (URINGX_REASON_KERNEL_NO_PBUF_INC) or bundles
 * (URINGX_REASON_KERNEL_NO_BUNDLE); URINGX_REASON_NONE when all run.
 */
enum uringx_reason uringx_pbufring_downgrade(const struct uringx_pbufring *pbr);
/* The modes really in use. */
bool uringx_pbufring_incremental(const struct uringx_pbufring *pbr);
bool uringx_pbufring_bundles(const struct uringx_pbufring *pbr);
uint16_t uringx_pbufring_bgid(const struct uringx_pbufring *pbr);
uint32_t uringx_pbufring_buf_size(const struct uringx_pbufring *pbr);
/* Buffers in the ring. */
uint32_t uringx_pbufring_nr_bufs(const struct uringx_pbufring *pbr);
/* Buffers published to the kernel right now. */
uint32_t uringx_pbufring_available(const struct uringx_pbufring *pbr);
/* Views handed out and not yet released. */
uint32_t uringx_pbufring_outstanding(const struct uringx_pbufring *pbr);
/* uringx_pbufring_owns - true when @token was issued by this ring. */
bool uringx_pbufring_owns(const struct uringx_pbufring *pbr, uint64_t token);

#ifdef __cplusplus
}
#endif
#endif
