// SPDX-License-Identifier: MIT
/* Zero-copy send from bufpool chunks, gated on the kernel's notification. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uringx/sendzc.h>

#include "token.h"

/* user_data: [tag:8][chunk index:24][cookie:32] */
static uint64_t encode(uint32_t index, uint32_t cookie)
{
	return URINGX_SENDZC_TAG << 56 | (uint64_t)(index & 0xffffff) << 32 | cookie;
}

int uringx_sendzc_init(struct uringx_sendzc *sz, struct uringx_bufpool *pool, bool report_usage)
{
	if (!sz || !pool || uringx_bufpool_nr_chunks(pool) > (1u << 24))
		return -EINVAL;
	memset(sz, 0, sizeof(*sz));
	sz->pool = pool;
	sz->report_usage = report_usage;
	sz->pending_bytes = calloc(uringx_bufpool_nr_chunks(pool), sizeof(uint32_t));
	return sz->pending_bytes ? 0 : -ENOMEM;
}

void uringx_sendzc_fini(struct uringx_sendzc *sz)
{
	if (!sz)
		return;
	free(sz->pending_bytes);
	sz->pending_bytes = NULL;
}

int uringx_sendzc_prep(struct uringx_sendzc *sz, struct io_uring_sqe *sqe, int fd,
		       uint64_t token, uint32_t offset, uint32_t len, uint32_t cookie,
		       int msg_flags)
{
	struct uringx_chunk chunk;
	int ret;

	if (!sz || !sqe || !len)
		return -EINVAL;
	ret = uringx_bufpool_chunk(sz->pool, token, &chunk);
	if (ret)
		return ret;
	if (offset > chunk.len || len > chunk.len - offset)
		return -EINVAL;
	ret = uringx_bufpool_lend(sz->pool, token);
	if (ret)
		return ret;
	io_uring_prep_send_zc_fixed(sqe, fd,
				    uringx_bufpool_fixed_addr(sz->pool, (char *)chunk.addr + offset),
				    len, msg_flags,
				    sz->report_usage ? IORING_SEND_ZC_REPORT_USAGE : 0,
				    chunk.buf_index);
	sqe->user_data = encode(token_index(token), cookie);
	sz->in_flight++;
	return 0;
}

int uringx_sendzc_complete(struct uringx_sendzc *sz, const struct io_uring_cqe *cqe,
			   struct uringx_sendzc_event *ev)
{
	uint32_t index = (uint32_t)(cqe->user_data >> 32) & 0xffffff;
	uint64_t token;

	if (!uringx_sendzc_owns(cqe) || index >= uringx_bufpool_nr_chunks(sz->pool))
		return -EPROTO;
	if (uringx_bufpool_token(sz->pool, index, &token))
		return -EPROTO;
	memset(ev, 0, sizeof(*ev));
	ev->cookie = (uint32_t)cqe->user_data;
	ev->token = token;

	/*
	 * Every CQE that ends a lend (a notification, or a send with no
	 * notification to follow) must find the chunk lent: a stale or repeated
	 * CQE is refused before it touches the counters.
	 */
	if (((cqe->flags & IORING_CQE_F_NOTIF) || !(cqe->flags & IORING_CQE_F_MORE)) &&
	    (!sz->in_flight || uringx_bufpool_unlend(sz->pool, token)))
		return -EPROTO;
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		uint32_t bytes = sz->pending_bytes[index];

		ev->kind = URINGX_SENDZC_RELEASED;
		ev->copied = cqe->res & IORING_NOTIF_USAGE_ZC_COPIED;
		ev->last = true;
		if (sz->report_usage) {
			if (ev->copied)
				sz->bytes_copied += bytes;
			else
				sz->bytes_zerocopy += bytes;
		}
		sz->pending_bytes[index] = 0;
		sz->notifications++;
		sz->in_flight--;
		return 0;
	}

	ev->kind = URINGX_SENDZC_SENT;
	ev->res = cqe->res;
	if (cqe->res >= 0) {
		sz->sends++;
		sz->bytes_sent += (uint64_t)cqe->res;
		sz->pending_bytes[index] += (uint32_t)cqe->res;
	}
	/* No F_MORE: no notification follows (e.g. the send failed early). */
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		ev->last = true;
		sz->in_flight--;
	}
	return 0;
}
