/* SPDX-License-Identifier: MIT */
/*
 * uringx/nictx.h - a transmit pool the NIC has DMA-mapped once.
 *
 * An ordinary registered buffer spares SEND_ZC the pinning of user pages,
 * but the driver still DMA-maps and unmaps every page of every packet (and,
 * behind an IOMMU, invalidates the IOTLB each time). A NIC-registered pool
 * is memory (a udmabuf over a memfd) that the kernel binds for one
 * interface's TX once, as RDMA registers a memory region, and installs in a
 * fixed-buffer slot (IORING_REGISTER_NET_TX_BUF, Linux 7.3 with zcnet's
 * kernel/patches). SEND_ZC from it builds device-memory frags that carry
 * the address mapped at registration: no per-packet mapping, no copy.
 *
 * Rules the kernel enforces: a socket whose route leaves through another
 * interface gets -ENODEV (never a silent copy); only IORING_OP_SEND_ZC and
 * IORING_OP_SENDMSG_ZC (vectored, without control messages of its own:
 * -EINVAL) on TCP sockets may use the slot; the pool stays mapped until the
 * slot is cleared and the last send using it has been notified.
 *
 * user_data of these SQEs belongs to the pool: top byte URINGX_NICTX_TAG,
 * then the chunk index, then a 32-bit cookie of the caller's.
 */
#ifndef URINGX_NICTX_H
#define URINGX_NICTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define URINGX_NICTX_TAG 0x5bULL

struct uringx_nictx {
	struct io_uring *ring;
	void *base;			/* CPU view of the pool: write payloads here */
	size_t size;
	uint32_t chunk_size;
	uint32_t nr_chunks;
	uint16_t buf_index;		/* the fixed-buffer slot */
	unsigned int ifindex;
	uint32_t dmabuf_id;		/* the kernel's binding (SCM_DEVMEM_DMABUF) */
	int memfd;
	int dmabuf_fd;
	enum uringx_reason reason;	/* why create failed */
	uint64_t sends;			/* first CQEs with res >= 0 */
	uint64_t bytes_sent;
	uint64_t notifications;
	uint64_t copied_notifications;	/* must stay 0: such sends are never copied */
	uint32_t in_flight;
	uint32_t nr_free;
	uint32_t *free_chunks;		/* stack of free chunk indices */
	uint8_t *chunk_state;		/* 0 free, 1 held by the caller, 2 lent to the kernel */
};

/*
 * uringx_nictx_create - a pool of @size bytes (a multiple of @chunk_size,
 * which is a multiple of the page size) mapped for TX by the interface
 * @ifname of the caller's network namespace, installed in the empty slot
 * @buf_index of @ring's sparse buffer table (io_uring_register_buffers_sparse
 * first). Errors: -EINVAL, -ENOMEM, -ENODEV (no such interface), -EOPNOTSUPP
 * (no netmem TX), -ENXIO (no buffer table), -EBUSY (slot in use); p->reason
 * says which mechanism is missing.
 */
int uringx_nictx_create(struct uringx_nictx *p, struct io_uring *ring, const char *ifname,
			size_t size, uint32_t chunk_size, uint16_t buf_index);

/*
 * uringx_nictx_destroy - clear the slot and release the pool. The kernel
 * keeps the mapping until sends still in flight are notified; the CPU view
 * and the chunks are gone at once, so call it after the last notification.
 */
void uringx_nictx_destroy(struct uringx_nictx *p);

/* uringx_nictx_alloc - a free chunk's index, or -ENOBUFS. */
int uringx_nictx_alloc(struct uringx_nictx *p);

/* uringx_nictx_free - return a chunk the caller holds (not one in flight). */
int uringx_nictx_free(struct uringx_nictx *p, uint32_t chunk);

/* uringx_nictx_chunk - the CPU address of @chunk. */
static inline void *uringx_nictx_chunk(const struct uringx_nictx *p, uint32_t chunk)
{
	return (char *)p->base + (size_t)chunk * p->chunk_size;
}

/*
 * uringx_nictx_prep_send - SEND_ZC of @len bytes at @offset in @chunk on the
 * TCP socket @fd, lending the chunk to the kernel until the notification.
 * Errors: -EINVAL (range outside the chunk), -EALREADY (chunk not held).
 */
int uringx_nictx_prep_send(struct uringx_nictx *p, struct io_uring_sqe *sqe, int fd,
			   uint32_t chunk, uint32_t offset, uint32_t len, uint32_t cookie,
			   int msg_flags);

/*
 * uringx_nictx_prep_sendv - one gathered SEND_ZC (IORING_SEND_VECTORIZED) of
 * @nr ranges of @chunk, sent in the order given, e.g. a header written after
 * its payload: @iov holds CPU addresses inside the chunk and is rewritten in
 * place to the slot's addresses, so it must stay valid, and untouched, until
 * the SQE is submitted (the kernel copies it then). Needs kernel patch 16
 * (vectored sends from a NET_TX slot); a kernel with only the SEND_ZC form
 * completes the send with -EOPNOTSUPP. Errors: -EINVAL (@nr 0 or past
 * UIO_MAXIOV, an empty range or one outside the chunk; @iov is then left as
 * it was), -EALREADY (chunk not held).
 */
int uringx_nictx_prep_sendv(struct uringx_nictx *p, struct io_uring_sqe *sqe, int fd,
			    uint32_t chunk, struct iovec *iov, unsigned int nr, uint32_t cookie,
			    int msg_flags);

static inline bool uringx_nictx_owns(const struct io_uring_cqe *cqe)
{
	return (cqe->user_data >> 56) == URINGX_NICTX_TAG;
}

enum uringx_nictx_event_kind {
	URINGX_NICTX_SENT = 1,		/* first CQE: res bytes queued or -errno */
	URINGX_NICTX_RELEASED,		/* notification: the chunk is free again */
};

struct uringx_nictx_event {
	enum uringx_nictx_event_kind kind;
	uint32_t chunk;
	uint32_t cookie;
	int res;			/* SENT: bytes or -errno */
	enum uringx_reason reason;	/* SENT failed with -ENODEV: route_other_device */
	bool last;			/* no further CQE for this send */
};

/*
 * uringx_nictx_complete - account one CQE of a send prepared here; on the
 * last CQE of a send the chunk returns to the free list. Returns 0, or
 * -EPROTO if the CQE is not one of ours.
 */
int uringx_nictx_complete(struct uringx_nictx *p, const struct io_uring_cqe *cqe,
			  struct uringx_nictx_event *ev);

/* What uringx_probe_nictx() found. */
struct uringx_nictx_verdict {
	bool kernel;			/* the kernel knows IORING_REGISTER_NET_TX_BUF */
	bool usable;			/* a pool registered on the interface */
	int err;			/* 0 or the negative errno of the attempt */
	enum uringx_reason reason;	/* why not usable (or why the kernel cannot tell) */
};

/*
 * uringx_probe_nictx - whether a NIC-registered TX pool can be created on
 * @ifname (NULL: only whether the kernel has the registration), by really
 * registering a one-page pool. Needs no privilege. A route through another
 * device is only known per socket: a send then fails with -ENODEV.
 * Returns 0 (the verdict is in @out) or -EINVAL.
 */
int uringx_probe_nictx(const char *ifname, struct uringx_nictx_verdict *out);

#ifdef __cplusplus
}
#endif
#endif
