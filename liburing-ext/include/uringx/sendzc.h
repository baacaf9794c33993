/* SPDX-License-Identifier: MIT */
/*
 * uringx/sendzc.h - zero-copy send (IORING_OP_SEND_ZC) from bufpool chunks.
 *
 * A zero-copy send completes twice: first when the data is queued (res =
 * bytes, IORING_CQE_F_MORE), then with IORING_CQE_F_NOTIF when the kernel no
 * longer reads the memory. The chunk is lent to the kernel from prep until
 * that notification, so uringx_bufpool_alloc() cannot hand it out again.
 * With IORING_SEND_ZC_REPORT_USAGE the notification says whether the kernel
 * had to copy after all (loopback always does); the tracker tallies both.
 *
 * user_data of these SQEs belongs to the tracker: top byte URINGX_SENDZC_TAG,
 * then the chunk index, then a 32-bit cookie of the caller's.
 */
#ifndef URINGX_SENDZC_H
#define URINGX_SENDZC_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/bufpool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define URINGX_SENDZC_TAG 0x5aULL

struct uringx_sendzc {
	struct uringx_bufpool *pool;
	bool report_usage;
	uint64_t sends;			/* first CQEs with res >= 0 */
	uint64_t bytes_sent;
	uint64_t bytes_zerocopy;	/* notified without the COPIED bit */
	uint64_t bytes_copied;		/* notified with IORING_NOTIF_USAGE_ZC_COPIED */
	uint64_t notifications;
	uint64_t in_flight;		/* sends whose notification has not come */
	uint32_t *pending_bytes;	/* per chunk: bytes sent awaiting notification */
};

/*
 * uringx_sendzc_init / fini - tracker over @pool. @report_usage asks the
 * kernel for copied-vs-zerocopy reports. Errors: -EINVAL, -ENOMEM.
 */
int uringx_sendzc_init(struct uringx_sendzc *sz, struct uringx_bufpool *pool,
		       bool report_usage);
void uringx_sendzc_fini(struct uringx_sendzc *sz);

/*
 * uringx_sendzc_prep - prepare SEND_ZC of @len bytes at @offset in the chunk
 * @token (fixed buffer), lending the chunk. @cookie comes back in the events.
 * Errors: -EINVAL (bad token, zero length, range outside the chunk),
 * -EALREADY (chunk not allocated).
 */
int uringx_sendzc_prep(struct uringx_sendzc *sz, struct io_uring_sqe *sqe, int fd,
		       uint64_t token, uint32_t offset, uint32_t len, uint32_t cookie,
		       int msg_flags);

/* uringx_sendzc_owns - true if @cqe belongs to a send of this kind. */
static inline bool uringx_sendzc_owns(const struct io_uring_cqe *cqe)
{
	return (cqe->user_data >> 56) == URINGX_SENDZC_TAG;
}

enum uringx_sendzc_event_kind {
	URINGX_SENDZC_SENT = 1,		/* first CQE: res bytes queued or -errno */
	URINGX_SENDZC_RELEASED,		/* notification: chunk no longer lent */
};

struct uringx_sendzc_event {
	enum uringx_sendzc_event_kind kind;
	uint32_t cookie;
	uint64_t token;		/* chunk */
	int res;		/* SENT: bytes or -errno */
	bool copied;		/* RELEASED: the kernel reported copying */
	bool last;		/* no further CQE for this send */
};

/*
 * uringx_sendzc_complete - account one CQE of a send prepared here.
 * Returns 0, or -EPROTO if the CQE is not one of ours.
 */
int uringx_sendzc_complete(struct uringx_sendzc *sz, const struct io_uring_cqe *cqe,
			   struct uringx_sendzc_event *ev);

#ifdef __cplusplus
}
#endif
#endif
