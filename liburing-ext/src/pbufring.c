// SPDX-License-Identifier: MIT
/*
 * Provided-buffer ring pool.
 *
 * The pool mirrors the kernel's view of the ring: ring_bids[] holds the
 * buffer id published at each ring index, and ring_pos[] where each buffer
 * sits. A bundle CQE names only its first buffer; the rest are the following
 * ring entries, so decoding never depends on CQE order across sockets. In
 * incremental mode the kernel advances inside a buffer and reports
 * IORING_CQE_F_BUF_MORE while the buffer still has room; remaining[] tracks
 * that room so each view starts where the previous receive ended.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uringx/pbufring.h>

#include "memory.h"
#include "rx_outcome.h"
#include "token.h"

#define SLOT_OVERFLOW 0xffffu	/* views past the 64th of one buffer fill */

struct buf_state {
	uint32_t offset;	/* bytes of this fill handed out */
	uint32_t remaining;	/* bytes the kernel may still write (incremental) */
	uint32_t ring_pos;	/* ring index it was published at */
	uint16_t gen;		/* bumped on every re-publish */
	uint16_t next_slot;
	uint64_t views;		/* outstanding view slots 0..63 */
	uint32_t overflow_views;	/* outstanding views beyond slot 63 */
	bool in_kernel;		/* published and not fully consumed */
};

struct uringx_pbufring {
	struct io_uring *ring;
	struct io_uring_buf_ring *br;
	struct region mem;
	struct buf_state *bufs;
	uint16_t *ring_bids;
	uint32_t nr_bufs;
	uint32_t mask;
	uint32_t buf_size;
	uint32_t tail;		/* next ring index to publish */
	uint32_t available;
	uint32_t outstanding;
	uint16_t bgid;
	uint16_t tag;
	bool inc;
	bool bundle;
	enum uringx_reason downgrade;	/* why a requested mode is not in use */
};

static char *buf_addr(const struct uringx_pbufring *pbr, uint32_t bid)
{
	return (char *)pbr->mem.addr + (size_t)bid * pbr->buf_size;
}

static void publish(struct uringx_pbufring *pbr, uint16_t bid)
{
	struct buf_state *b = &pbr->bufs[bid];

	b->offset = 0;
	b->remaining = pbr->buf_size;
	b->gen++;
	b->next_slot = 0;
	b->ring_pos = pbr->tail;
	b->in_kernel = true;
	pbr->ring_bids[pbr->tail & pbr->mask] = bid;
	io_uring_buf_ring_add(pbr->br, buf_addr(pbr, bid), pbr->buf_size, bid,
			      (int)pbr->mask, 0);
	io_uring_buf_ring_advance(pbr->br, 1);
	pbr->tail++;
	pbr->available++;
}

int uringx_pbufring_create(struct io_uring *ring, const struct uringx_pbufring_params *params,
			   struct uringx_pbufring **out, enum uringx_reason *reason)
{
	struct uringx_pbufring *pbr;
	unsigned int setup_flags = 0;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!ring || !params || !out || !params->nr_bufs || params->nr_bufs > 32768 ||
	    (params->nr_bufs & (params->nr_bufs - 1)) || !params->buf_size ||
	    params->buf_size > (1u << 24) ||
	    params->flags & ~(uint32_t)(URINGX_PBUF_INC | URINGX_PBUF_REQUIRE_INC | URINGX_PBUF_BUNDLE))
		return -EINVAL;

	pbr = calloc(1, sizeof(*pbr));
	if (!pbr)
		return -ENOMEM;
	pbr->ring = ring;
	pbr->nr_bufs = params->nr_bufs;
	pbr->mask = params->nr_bufs - 1;
	pbr->buf_size = params->buf_size;
	pbr->bgid = params->bgid;
	pbr->tag = token_new_tag();
	pbr->bufs = calloc(pbr->nr_bufs, sizeof(*pbr->bufs));
	pbr->ring_bids = calloc(pbr->nr_bufs, sizeof(*pbr->ring_bids));
	if (!pbr->bufs || !pbr->ring_bids) {
		ret = -ENOMEM;
		goto err;
	}
	ret = region_map(&pbr->mem, (uint64_t)pbr->nr_bufs * pbr->buf_size, REGION_AUTO);
	if (ret < 0)
		goto err;

	if (params->flags & (URINGX_PBUF_INC | URINGX_PBUF_REQUIRE_INC))
		setup_flags = IOU_PBUF_RING_INC;
	pbr->br = io_uring_setup_buf_ring(ring, pbr->nr_bufs, pbr->bgid, setup_flags, &ret);
	if (!pbr->br && setup_flags && ret == -EINVAL) {
		if (params->flags & URINGX_PBUF_REQUIRE_INC) {
			if (reason)
				*reason = URINGX_REASON_KERNEL_NO_PBUF_INC;
			ret = -EOPNOTSUPP;
			goto err;
		}
		setup_flags = 0;
		pbr->br = io_uring_setup_buf_ring(ring, pbr->nr_bufs, pbr->bgid, 0, &ret);
	}
	if (!pbr->br) {
		if (reason)
			*reason = ret == -ENOMEM ? URINGX_REASON_NO_MEMORY : URINGX_REASON_OTHER;
		goto err;
	}
	pbr->inc = setup_flags & IOU_PBUF_RING_INC;
	pbr->bundle = (params->flags & URINGX_PBUF_BUNDLE) &&
		      (ring->features & IORING_FEAT_RECVSEND_BUNDLE);
	/* What was asked for and is not in use is said, never dropped silently. */
	if ((params->flags & URINGX_PBUF_INC) && !pbr->inc)
		pbr->downgrade = URINGX_REASON_KERNEL_NO_PBUF_INC;
	else if ((params->flags & URINGX_PBUF_BUNDLE) && !pbr->bundle)
		pbr->downgrade = URINGX_REASON_KERNEL_NO_BUNDLE;
	if (reason)
		*reason = pbr->downgrade;

	for (uint32_t bid = 0; bid < pbr->nr_bufs; bid++)
		publish(pbr, (uint16_t)bid);
	*out = pbr;
	return 0;
err:
	region_unmap(&pbr->mem);
	free(pbr->bufs);
	free(pbr->ring_bids);
	free(pbr);
	return ret;
}

void uringx_pbufring_destroy(struct uringx_pbufring *pbr)
{
	if (!pbr)
		return;
	io_uring_free_buf_ring(pbr->ring, pbr->br, pbr->nr_bufs, pbr->bgid);
	region_unmap(&pbr->mem);
	free(pbr->bufs);
	free(pbr->ring_bids);
	free(pbr);
}

void uringx_pbufring_prep_recv(const struct uringx_pbufring *pbr, struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = pbr->bgid;
	if (pbr->bundle)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
}

uint32_t uringx_pbufring_max_views(const struct uringx_pbufring *pbr)
{
	return pbr->bundle ? pbr->nr_bufs : 1;
}

static uint32_t room(const struct uringx_pbufring *pbr, const struct buf_state *b)
{
	return pbr->inc ? b->remaining : pbr->buf_size;
}

/*
 * Walk the buffers a CQE of @res bytes starting at @bid consumed, without
 * changing anything: how many views, and whether the CQE agrees with our
 * mirror of the ring. 0 or -EPROTO.
 */
static int count_views(const struct uringx_pbufring *pbr, uint16_t bid, uint32_t res,
		       uint32_t cqe_flags, uint32_t *nr)
{
	uint32_t pos = pbr->bufs[bid].ring_pos;
	uint32_t left = res;
	uint32_t n = 0;
	bool more = false;

	while (left) {
		const struct buf_state *b;
		uint32_t take;

		if ((int32_t)(pbr->tail - pos) <= 0 || n == pbr->nr_bufs)
			return -EPROTO;
		b = &pbr->bufs[pbr->ring_bids[pos & pbr->mask]];
		if (!b->in_kernel)
			return -EPROTO;
		take = left < room(pbr, b) ? left : room(pbr, b);
		more = pbr->inc && take < b->remaining;
		left -= take;
		pos++;
		n++;
	}
	if (n > 1 && !pbr->bundle)
		return -EPROTO;
	if (pbr->inc && more != !!(cqe_flags & IORING_CQE_F_BUF_MORE))
		return -EPROTO;
	*nr = n;
	return 0;
}

static uint64_t take_view_token(struct uringx_pbufring *pbr, uint16_t bid)
{
	struct buf_state *b = &pbr->bufs[bid];
	uint16_t slot = b->next_slot < 64 ? b->next_slot++ : SLOT_OVERFLOW;

	if (slot == SLOT_OVERFLOW)
		b->overflow_views++;
	else
		b->views |= 1ull << slot;
	pbr->outstanding++;
	return token_make(pbr->tag, b->gen, (uint32_t)slot << 16 | bid);
}

static bool has_views(const struct buf_state *b)
{
	return b->views || b->overflow_views;
}

int uringx_pbufring_decode(struct uringx_pbufring *pbr, const struct io_uring_cqe *cqe,
			   struct uringx_rx_view *views, uint32_t max_views,
			   struct uringx_rx_event *ev)
{
	uint32_t nr = 0;
	int res = cqe->res;

	memset(ev, 0, sizeof(*ev));
	if (res > 0) {
		uint32_t left = (uint32_t)res;
		uint32_t pos;
		uint16_t bid;
		int ret;

		if (!(cqe->flags & IORING_CQE_F_BUFFER))
			return -EPROTO;
		bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (bid >= pbr->nr_bufs)
			return -EPROTO;
		ret = count_views(pbr, bid, left, cqe->flags, &nr);
		if (ret)
			return ret;
		if (nr > max_views)
			return -ENOSPC;

		pos = pbr->bufs[bid].ring_pos;
		for (uint32_t i = 0; i < nr; i++, pos++) {
			uint16_t b_id = pbr->ring_bids[pos & pbr->mask];
			struct buf_state *b = &pbr->bufs[b_id];
			uint32_t take = left < room(pbr, b) ? left : room(pbr, b);

			views[i].data = buf_addr(pbr, b_id) + b->offset;
			views[i].len = take;
			views[i].token = take_view_token(pbr, b_id);
			b->offset += take;
			b->remaining -= take;
			left -= take;
			/* Non-incremental buffers are consumed whole, however full. */
			if (!pbr->inc || !b->remaining) {
				b->in_kernel = false;
				pbr->available--;
			}
		}
		ev->nr_views = nr;
		ev->bytes = (uint32_t)res;
	}

	rx_outcome(ev, res, cqe->flags, res == -ENOBUFS);
	return 0;
}

int uringx_pbufring_release(struct uringx_pbufring *pbr, uint64_t token)
{
	uint32_t index = token_index(token);
	uint16_t bid = (uint16_t)index;
	uint16_t slot = (uint16_t)(index >> 16);
	struct buf_state *b;

	if (!pbr || token_tag(token) != pbr->tag || bid >= pbr->nr_bufs ||
	    (slot >= 64 && slot != SLOT_OVERFLOW))
		return -EINVAL;
	b = &pbr->bufs[bid];
	if (token_gen(token) != b->gen)
		return -EALREADY;	/* the buffer was recycled since */
	if (slot == SLOT_OVERFLOW) {
		if (!b->overflow_views)
			return -EALREADY;
		b->overflow_views--;
	} else {
		if (!(b->views & (1ull << slot)))
			return -EALREADY;
		b->views &= ~(1ull << slot);
	}
	pbr->outstanding--;
	if (!b->in_kernel && !has_views(b))
		publish(pbr, bid);
	return 0;
}

enum uringx_reason uringx_pbufring_downgrade(const struct uringx_pbufring *pbr)
{
	return pbr->downgrade;
}

bool uringx_pbufring_incremental(const struct uringx_pbufring *pbr)
{
	return pbr->inc;
}

bool uringx_pbufring_bundles(const struct uringx_pbufring *pbr)
{
	return pbr->bundle;
}

uint16_t uringx_pbufring_bgid(const struct uringx_pbufring *pbr)
{
	return pbr->bgid;
}

uint32_t uringx_pbufring_buf_size(const struct uringx_pbufring *pbr)
{
	return pbr->buf_size;
}

uint32_t uringx_pbufring_nr_bufs(const struct uringx_pbufring *pbr)
{
	return pbr->nr_bufs;
}

uint32_t uringx_pbufring_available(const struct uringx_pbufring *pbr)
{
	return pbr->available;
}

uint32_t uringx_pbufring_outstanding(const struct uringx_pbufring *pbr)
{
	return pbr->outstanding;
}

bool uringx_pbufring_owns(const struct uringx_pbufring *pbr, uint64_t token)
{
	return pbr && token_tag(token) == pbr->tag;
}
