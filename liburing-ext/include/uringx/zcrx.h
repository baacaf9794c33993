/* SPDX-License-Identifier: MIT */
/*
 * uringx/zcrx.h - io_uring zero-copy receive (zcrx).
 *
 * An area of user memory is registered with the kernel, bound to a NIC rx
 * queue; the NIC DMAs payload into it and IORING_OP_RECV_ZC completions (big
 * CQEs) point into the area. The application returns buffers through the
 * refill ring, in batches. On kernels with ZCRX_REG_NODEV the same interface
 * runs without a NIC, copying (useful for tests and for hosts whose NICs lack
 * header/data split).
 *
 * The ring must be created with IORING_SETUP_DEFER_TASKRUN |
 * IORING_SETUP_SINGLE_ISSUER and 32-byte zcrx CQEs: IORING_SETUP_CQE32, or
 * IORING_SETUP_CQE_MIXED (Linux 6.18+: only the CQEs that need it are 32
 * bytes). Registration needs CAP_NET_ADMIN.
 */
#ifndef URINGX_ZCRX_H
#define URINGX_ZCRX_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/error.h>
#include <uringx/rxview.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_zcrx;

enum uringx_zcrx_mem {
	URINGX_ZCRX_MEM_AUTO = 0,	/* huge pages if reserved, else normal pages */
	URINGX_ZCRX_MEM_HUGETLB,
	URINGX_ZCRX_MEM_PAGES,
	URINGX_ZCRX_MEM_UDMABUF,	/* memfd + /dev/udmabuf, registered as dmabuf */
};

struct uringx_zcrx_params {
	const char *ifname;	/* NULL: NODEV copy mode (kernel must have it) */
	uint32_t queue;		/* rx queue index of @ifname */
	uint64_t area_size;	/* bytes; rounded up to the page size */
	uint32_t rq_entries;	/* refill ring entries, power of two */
	enum uringx_zcrx_mem mem;
	/* user_data of the copy-fallback event CQE (ZCRX_FEATURE_EVENT). */
	uint64_t event_user_data;
	/*
	 * Length of each rx buffer (niov): 0 or the page size for pages, or a
	 * larger power of two, so that a payload spreads over fewer buffers
	 * and completions. Larger buffers need the kernel's
	 * ZCRX_FEATURE_RX_PAGE_SIZE, a driver that takes the queue config's rx
	 * page size, and an area physically contiguous in such chunks (huge
	 * pages); the area is rounded up to a multiple of it.
	 */
	uint32_t rx_buf_len;
};

/*
 * uringx_zcrx_create - allocate the area and refill ring and register them
 * (IORING_REGISTER_ZCRX_IFQ). On failure @reason says why, in the device's
 * terms (see uringx_probe_zcrx() for the same diagnosis).
 * Errors: -EINVAL (no area_size, rq_entries not a power of two up to 32768,
 * an unknown mem, rx_buf_len neither 0 nor a power of two of at least the
 * page size), -ENODEV, -EOPNOTSUPP, -EPERM, -ENOMEM, -EBUSY, -EEXIST;
 * a udmabuf area without /dev/udmabuf gives URINGX_REASON_NO_UDMABUF. An
 * rx_buf_len above the page size fails with -EOPNOTSUPP and
 * URINGX_REASON_KERNEL_NO_RX_BUF_LEN on kernels without it, with
 * URINGX_REASON_NO_RX_PAGE_SIZE (the kernel's errno) in NODEV mode or where
 * the driver refuses it, and with -ERANGE and
 * URINGX_REASON_AREA_NOT_CONTIGUOUS for an area that is not huge pages.
 */
int uringx_zcrx_create(struct io_uring *ring, const struct uringx_zcrx_params *params,
		       struct uringx_zcrx **out, enum uringx_reason *reason);

/*
 * uringx_zcrx_destroy - free the area and refill ring. The kernel drops the
 * ifq when the ring is closed; call this after io_uring_queue_exit() or
 * while no RECV_ZC is armed. NULL is a no-op.
 */
void uringx_zcrx_destroy(struct uringx_zcrx *zcrx);

/* uringx_zcrx_prep_recv - prepare IORING_OP_RECV_ZC (multishot) on @fd. */
void uringx_zcrx_prep_recv(const struct uringx_zcrx *zcrx,
			   struct io_uring_sqe *sqe, int fd);

/*
 * uringx_zcrx_decode - decode a RECV_ZC CQE (32 bytes) into at most one
 * view and an event. Returns 0 or -EPROTO (offset outside the area).
 */
int uringx_zcrx_decode(struct uringx_zcrx *zcrx, const struct io_uring_cqe *cqe,
		       struct uringx_rx_view *view, struct uringx_rx_event *ev);

/*
 * uringx_zcrx_release - queue a view's buffer for the refill ring; it is
 * published by uringx_zcrx_flush() (batched) or when the batch is full.
 * Errors: -EINVAL (not this area's token), -EALREADY (double release).
 */
int uringx_zcrx_release(struct uringx_zcrx *zcrx, uint64_t token);

/*
 * uringx_zcrx_flush - publish queued returns to the refill ring; in NODEV
 * mode also asks the kernel to take them (ZCRX_CTRL_FLUSH_RQ). Returns the
 * number of entries published or -errno.
 */
int uringx_zcrx_flush(struct uringx_zcrx *zcrx);

/* Copy-fallback counters (kernel's zcrx_stats; zero without ZCRX_FEATURE_EVENT). */
struct uringx_zcrx_stats {
	bool kernel_counts;	/* the kernel fills copy_count / copy_bytes */
	uint64_t copy_count;	/* completions the kernel served by copying */
	uint64_t copy_bytes;
	uint64_t events;	/* copy events seen by uringx_zcrx_is_event() */
};
void uringx_zcrx_get_stats(const struct uringx_zcrx *zcrx, struct uringx_zcrx_stats *out);

/*
 * uringx_zcrx_is_event - true if @cqe is this ifq's copy-fallback event;
 * counts it and re-arms the event.
 */
bool uringx_zcrx_is_event(struct uringx_zcrx *zcrx, const struct io_uring_cqe *cqe);

/*
 * Sharing one ifq between rings of this process (threads outnumber queues):
 * uringx_zcrx_export() on the owner's ring thread (the ring is single
 * issuer) gives a share: a descriptor for the ifq (ZCRX_CTRL_EXPORT) and a
 * reference on the owner's area. uringx_zcrx_import() on another ring
 * (registered with ZCRX_REG_IMPORT) consumes it and returns a zcrx that
 * receives into the same area from the same queue, with its own id, token
 * tag and counts; each sharer releases only the views it decoded (a view of
 * another sharer is -EINVAL). The refill ring is then written by every
 * sharer under a lock, and uringx_zcrx_available() counts over all of
 * them. Destroy sharers in any order: the area is freed with the last one.
 * Errors: -EINVAL (ring flags, bad share), the kernel's errno with reason
 * KERNEL_NO_ZCRX_SHARE when it cannot share.
 */
struct uringx_zcrx_share {
	int fd;				/* the exported ifq, -1 once consumed */
	struct uringx_zcrx *owner;
};
int uringx_zcrx_export(struct uringx_zcrx *zcrx, struct uringx_zcrx_share *out,
		       enum uringx_reason *reason);
int uringx_zcrx_import(struct io_uring *ring, struct uringx_zcrx_share *share,
		       struct uringx_zcrx **out, enum uringx_reason *reason);
/* A share not imported: closes its descriptor, drops its reference. */
void uringx_zcrx_share_drop(struct uringx_zcrx_share *share);
/* True for an importer and for an owner that has exported. */
bool uringx_zcrx_shared(const struct uringx_zcrx *zcrx);

bool uringx_zcrx_nodev(const struct uringx_zcrx *zcrx);
uint32_t uringx_zcrx_id(const struct uringx_zcrx *zcrx);
uint32_t uringx_zcrx_rx_buf_len(const struct uringx_zcrx *zcrx);
const void *uringx_zcrx_area(const struct uringx_zcrx *zcrx, uint64_t *len);
/*
 * The area's dma-buf (URINGX_ZCRX_MEM_UDMABUF), or -1. Still owned by the
 * zcrx; a view's offset in the area is its offset in the dma-buf, so the
 * same memory can be bound for a NIC's TX too (IORING_REGISTER_NET_TX_BUF).
 */
int uringx_zcrx_dmabuf_fd(const struct uringx_zcrx *zcrx);
/*
 * uringx_zcrx_bind_tx - bind the area's dma-buf for the transmit DMA of
 * @ifname too (IORING_REGISTER_NET_TX_BUF, zcnet kernel patch 10) into the
 * empty fixed-buffer slot @buf_index of the zcrx's ring, so that received
 * bytes can be sent on from where they landed (uringx_zcrx_prep_send()):
 * no copy and no per-packet DMA mapping in either direction. Needs a
 * URINGX_ZCRX_MEM_UDMABUF area. Errors: -EINVAL with
 * URINGX_REASON_AREA_NOT_DMABUF (another kind of area); -EALREADY (bound
 * already); -ENODEV (no such interface); -ENXIO (the ring has no buffer
 * table: io_uring_register_buffers_sparse() first); -EBUSY (slot taken);
 * those of the registration with their reasons (kernel_no_net_tx_buf,
 * no_netmem_tx). uringx_zcrx_destroy() clears the slot (the ring exiting
 * does too); sends still in flight keep the binding alive until notified.
 */
int uringx_zcrx_bind_tx(struct uringx_zcrx *zcrx, const char *ifname, uint16_t buf_index,
			enum uringx_reason *reason);
/* The slot uringx_zcrx_bind_tx() bound, or -1. */
int uringx_zcrx_tx_slot(const struct uringx_zcrx *zcrx);
/*
 * uringx_zcrx_prep_send - IORING_OP_SEND_ZC (IORING_SEND_ZC_REPORT_USAGE)
 * of @len bytes at @data, which lie in the area (a view's bytes), from the
 * slot uringx_zcrx_bind_tx() bound. The caller sets user_data, and keeps the
 * view until the send's notification: only then may the buffer go back to
 * the refill ring. A socket whose route leaves through another interface
 * gets -ENODEV in the CQE, never a copy. Returns -EINVAL (nothing prepared)
 * when the zcrx is not bound or the range is not inside the area.
 */
int uringx_zcrx_prep_send(const struct uringx_zcrx *zcrx, struct io_uring_sqe *sqe, int fd,
			  const void *data, size_t len, int msg_flags);
/* Buffers of rx_buf_len bytes in the area. */
uint32_t uringx_zcrx_nr_bufs(const struct uringx_zcrx *zcrx);
/* Views handed out and not yet released. */
uint32_t uringx_zcrx_outstanding(const struct uringx_zcrx *zcrx);
/*
 * Buffers of the area neither held by views nor waiting in the refill queue
 * to be flushed: what the kernel can fill (an upper bound; the kernel may
 * still hold some in socket queues).
 */
uint32_t uringx_zcrx_available(const struct uringx_zcrx *zcrx);

#ifdef __cplusplus
}
#endif
#endif
