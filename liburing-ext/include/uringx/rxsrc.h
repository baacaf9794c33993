/* SPDX-License-Identifier: MIT */
/*
 * uringx/rxsrc.h - one receive-buffer source over zcrx or a provided-buffer
 * ring, with the same consumer calls.
 *
 * URINGX_RXSRC_AUTO takes the best mechanism available: zcrx on the given
 * NIC queue, else a provided-buffer ring (incremental, bundles when the kernel
 * has them). Why zcrx was not taken is recorded (uringx_rxsrc_reason()).
 * NODEV copy mode is used only when forced: it copies, like the buffer ring.
 *
 * Size classes: a buffer-ring source may have a second ring of smaller
 * buffers (params.pbuf_small), so a stream of small messages does not take a
 * large buffer per message. Each receive is armed on one class and its CQEs
 * decoded with that class (the _class calls); views of either class are
 * released through uringx_rxsrc_release(). Which class a stream uses is the
 * caller's choice: zcnet's RecvStream moves between them from the sizes its
 * receives bring.
 */
#ifndef URINGX_RXSRC_H
#define URINGX_RXSRC_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/error.h>
#include <uringx/pbufring.h>
#include <uringx/rxview.h>
#include <uringx/zcrx.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_rxsrc;

enum uringx_rxsrc_mode {
	URINGX_RXSRC_AUTO = 0,
	URINGX_RXSRC_ZCRX,	/* zcrx or fail */
	URINGX_RXSRC_PBUF,	/* provided-buffer ring */
};

enum uringx_rxsrc_kind {
	URINGX_RX_PBUF = 1,
	URINGX_RX_ZCRX,
};

/* Buffer classes of a buffer-ring source; a zcrx source has one. */
enum uringx_rx_class {
	URINGX_RX_CLASS_LARGE = 0,	/* params.pbuf (or the zcrx area) */
	URINGX_RX_CLASS_SMALL = 1,	/* params.pbuf_small */
};

struct uringx_rxsrc_params {
	enum uringx_rxsrc_mode mode;
	struct uringx_zcrx_params zcrx;		/* ifname NULL + mode ZCRX: NODEV */
	struct uringx_pbufring_params pbuf;
	/*
	 * The small class, used only when the source is a buffer ring:
	 * nr_bufs 0 for none. buf_size must be below pbuf.buf_size, the bgid
	 * another one, the flags pbuf's (incremental rings take no class:
	 * they pack small receives already).
	 */
	struct uringx_pbufring_params pbuf_small;
};

/*
 * uringx_rxsrc_create - choose and set up the source. In AUTO mode a zcrx
 * failure is not an error: the buffer ring is used and the reason kept.
 * Errors: those of uringx_zcrx_create() (mode ZCRX) or
 * uringx_pbufring_create(); @reason gets the cause.
 */
int uringx_rxsrc_create(struct io_uring *ring, const struct uringx_rxsrc_params *params,
			struct uringx_rxsrc **out, enum uringx_reason *reason);
/*
 * uringx_rxsrc_import - a zcrx source on @ring over another ring's ifq
 * (uringx_zcrx_export(), uringx_zcrx_import()); consumes @share on success.
 */
int uringx_rxsrc_import(struct io_uring *ring, struct uringx_zcrx_share *share,
			struct uringx_rxsrc **out, enum uringx_reason *reason);

/*
 * uringx_rxsrc_destroy - free the source. With no receive armed, call it
 * before io_uring_queue_exit(): a buffer ring is unregistered through the
 * ring. With receives still armed, close the ring first (that cancels them;
 * a zcrx area must outlive them); a buffer ring's unregistration then fails
 * on the closed descriptor, which is ignored. NULL is a no-op.
 */
void uringx_rxsrc_destroy(struct uringx_rxsrc *src);

enum uringx_rxsrc_kind uringx_rxsrc_kind(const struct uringx_rxsrc *src);
/* uringx_rxsrc_kind_name - "zcrx", "zcrx-nodev" or "pbuf-ring". */
const char *uringx_rxsrc_kind_name(const struct uringx_rxsrc *src);
/* Why zcrx is not the source (URINGX_REASON_NONE when it is). */
enum uringx_reason uringx_rxsrc_reason(const struct uringx_rxsrc *src);
int uringx_rxsrc_zcrx_err(const struct uringx_rxsrc *src);

/* uringx_rxsrc_prep_recv - arm a multishot receive on @fd from this source. */
void uringx_rxsrc_prep_recv(const struct uringx_rxsrc *src, struct io_uring_sqe *sqe, int fd);

/*
 * uringx_rxsrc_nr_classes - 2 for a buffer-ring source with a small class,
 * else 1. uringx_rxsrc_class_buf_size - bytes per buffer of @cls (0 for a
 * class the source lacks; the zcrx buffer length for zcrx).
 */
uint32_t uringx_rxsrc_nr_classes(const struct uringx_rxsrc *src);
uint32_t uringx_rxsrc_class_buf_size(const struct uringx_rxsrc *src, enum uringx_rx_class cls);
/*
 * uringx_rxsrc_prep_recv_class - arm the receive on class @cls; its CQEs
 * go to uringx_rxsrc_decode_class() with the same @cls. A class the source
 * lacks means the large one.
 */
void uringx_rxsrc_prep_recv_class(const struct uringx_rxsrc *src, struct io_uring_sqe *sqe,
				  int fd, enum uringx_rx_class cls);

/* Size of the views array for uringx_rxsrc_decode() (either class). */
uint32_t uringx_rxsrc_max_views(const struct uringx_rxsrc *src);

/*
 * uringx_rxsrc_decode - decode one receive CQE (see the sources' decode).
 * Returns 0, -ENOSPC (array too small, nothing consumed), -EPROTO.
 */
int uringx_rxsrc_decode(struct uringx_rxsrc *src, const struct io_uring_cqe *cqe,
			struct uringx_rx_view *views, uint32_t max_views,
			struct uringx_rx_event *ev);

/* uringx_rxsrc_decode_class - decode a CQE of a receive armed on @cls. */
int uringx_rxsrc_decode_class(struct uringx_rxsrc *src, enum uringx_rx_class cls,
			      const struct io_uring_cqe *cqe, struct uringx_rx_view *views,
			      uint32_t max_views, struct uringx_rx_event *ev);

/*
 * uringx_rxsrc_release - give a view of either class back: -EINVAL, -EALREADY
 * as the sources.
 */
int uringx_rxsrc_release(struct uringx_rxsrc *src, uint64_t token);

/* uringx_rxsrc_flush - publish batched returns (zcrx); no-op for buffer rings. */
int uringx_rxsrc_flush(struct uringx_rxsrc *src);

/*
 * uringx_rxsrc_available - buffers the kernel can fill right now (a buffer
 * ring's published buffers; a zcrx area's buffers neither held by views nor
 * awaiting a refill flush). A receive that ended out of buffers should be
 * re-armed at once when this is non-zero: its buffers came back before its
 * last CQE was seen.
 */
uint32_t uringx_rxsrc_available(const struct uringx_rxsrc *src);
/* uringx_rxsrc_class_available - the same for one class (0 for a missing one). */
uint32_t uringx_rxsrc_class_available(const struct uringx_rxsrc *src, enum uringx_rx_class cls);

/* uringx_rxsrc_nr_bufs - buffers the source has in all (filled or not). */
uint32_t uringx_rxsrc_nr_bufs(const struct uringx_rxsrc *src);
/* uringx_rxsrc_class_nr_bufs - buffers of one class (0 for a missing one). */
uint32_t uringx_rxsrc_class_nr_bufs(const struct uringx_rxsrc *src, enum uringx_rx_class cls);

/* uringx_rxsrc_outstanding - views not yet released. */
uint32_t uringx_rxsrc_outstanding(const struct uringx_rxsrc *src);

struct uringx_pbufring *uringx_rxsrc_pbufring(struct uringx_rxsrc *src);	/* or NULL */
/* The small class's ring, or NULL. */
struct uringx_pbufring *uringx_rxsrc_small_pbufring(struct uringx_rxsrc *src);
struct uringx_zcrx *uringx_rxsrc_zcrx(struct uringx_rxsrc *src);		/* or NULL */

#ifdef __cplusplus
}
#endif
#endif
