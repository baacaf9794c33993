// SPDX-License-Identifier: MIT
/* One receive-buffer source: zcrx when the NIC queue allows, else a buffer ring. */
#include <errno.h>
#include <stdlib.h>

#include <uringx/rxsrc.h>

struct uringx_rxsrc {
	enum uringx_rxsrc_kind kind;
	struct uringx_zcrx *zcrx;
	struct uringx_pbufring *pbuf;
	struct uringx_pbufring *small;	/* the small class, or NULL */
	enum uringx_reason reason;	/* why not zcrx */
	int zcrx_err;
};

/*
 * The small class: only beside a ring that does not pack receives itself
 * (incremental), with smaller buffers of the same modes.
 */
static int create_small_class(struct io_uring *ring, const struct uringx_rxsrc_params *params,
			      struct uringx_rxsrc *src)
{
	const struct uringx_pbufring_params *sp = &params->pbuf_small;

	if (!sp->nr_bufs)
		return 0;
	if (sp->buf_size >= params->pbuf.buf_size || sp->bgid == params->pbuf.bgid ||
	    sp->flags != params->pbuf.flags)
		return -EINVAL;
	if (uringx_pbufring_incremental(src->pbuf))
		return 0;
	return uringx_pbufring_create(ring, sp, &src->small, NULL);
}

static struct uringx_pbufring *class_ring(const struct uringx_rxsrc *src,
					  enum uringx_rx_class cls)
{
	return cls == URINGX_RX_CLASS_SMALL && src->small ? src->small : src->pbuf;
}

int uringx_rxsrc_create(struct io_uring *ring, const struct uringx_rxsrc_params *params,
			struct uringx_rxsrc **out, enum uringx_reason *reason)
{
	struct uringx_rxsrc *src;
	enum uringx_reason why = URINGX_REASON_NONE;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!ring || !params || !out)
		return -EINVAL;
	src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;

	switch (params->mode) {
	case URINGX_RXSRC_ZCRX:
		ret = uringx_zcrx_create(ring, &params->zcrx, &src->zcrx, &why);
		if (ret < 0)
			goto err;
		src->kind = URINGX_RX_ZCRX;
		break;
	case URINGX_RXSRC_AUTO:
		if (params->zcrx.ifname) {
			ret = uringx_zcrx_create(ring, &params->zcrx, &src->zcrx, &why);
			if (ret == 0) {
				src->kind = URINGX_RX_ZCRX;
				break;
			}
			src->zcrx_err = ret;
			src->reason = why;
		} else {
			/* No NIC queue named: zero-copy receive has nothing to bind. */
			src->zcrx_err = -ENODEV;
			src->reason = URINGX_REASON_NO_IFNAME;
		}
		/* fall through */
	case URINGX_RXSRC_PBUF:
		if (params->mode == URINGX_RXSRC_PBUF)
			src->reason = URINGX_REASON_FORCED;
		ret = uringx_pbufring_create(ring, &params->pbuf, &src->pbuf, &why);
		if (ret < 0)
			goto err;
		src->kind = URINGX_RX_PBUF;
		ret = create_small_class(ring, params, src);
		if (ret < 0) {
			uringx_pbufring_destroy(src->pbuf);
			goto err;
		}
		break;
	default:
		ret = -EINVAL;
		goto err;
	}
	*out = src;
	return 0;
err:
	if (reason)
		*reason = why;
	free(src);
	return ret;
}

int uringx_rxsrc_import(struct io_uring *ring, struct uringx_zcrx_share *share,
			struct uringx_rxsrc **out, enum uringx_reason *reason)
{
	struct uringx_rxsrc *src;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!out)
		return -EINVAL;
	src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	ret = uringx_zcrx_import(ring, share, &src->zcrx, reason);
	if (ret < 0) {
		free(src);
		return ret;
	}
	src->kind = URINGX_RX_ZCRX;
	*out = src;
	return 0;
}

void uringx_rxsrc_destroy(struct uringx_rxsrc *src)
{
	if (!src)
		return;
	uringx_zcrx_destroy(src->zcrx);
	uringx_pbufring_destroy(src->small);
	uringx_pbufring_destroy(src->pbuf);
	free(src);
}

enum uringx_rxsrc_kind uringx_rxsrc_kind(const struct uringx_rxsrc *src)
{
	return src->kind;
}

const char *uringx_rxsrc_kind_name(const struct uringx_rxsrc *src)
{
	if (src->kind == URINGX_RX_ZCRX)
		return uringx_zcrx_nodev(src->zcrx) ? "zcrx-nodev" : "zcrx";
	return "pbuf-ring";
}

enum uringx_reason uringx_rxsrc_reason(const struct uringx_rxsrc *src)
{
	return src->reason;
}

int uringx_rxsrc_zcrx_err(const struct uringx_rxsrc *src)
{
	return src->zcrx_err;
}

void uringx_rxsrc_prep_recv(const struct uringx_rxsrc *src, struct io_uring_sqe *sqe, int fd)
{
	uringx_rxsrc_prep_recv_class(src, sqe, fd, URINGX_RX_CLASS_LARGE);
}

void uringx_rxsrc_prep_recv_class(const struct uringx_rxsrc *src, struct io_uring_sqe *sqe,
				  int fd, enum uringx_rx_class cls)
{
	if (src->kind == URINGX_RX_ZCRX)
		uringx_zcrx_prep_recv(src->zcrx, sqe, fd);
	else
		uringx_pbufring_prep_recv(class_ring(src, cls), sqe, fd);
}

uint32_t uringx_rxsrc_nr_classes(const struct uringx_rxsrc *src)
{
	return src->small ? 2 : 1;
}

uint32_t uringx_rxsrc_class_buf_size(const struct uringx_rxsrc *src, enum uringx_rx_class cls)
{
	if (src->kind == URINGX_RX_ZCRX)
		return cls == URINGX_RX_CLASS_LARGE ? uringx_zcrx_rx_buf_len(src->zcrx) : 0;
	if (cls == URINGX_RX_CLASS_SMALL && !src->small)
		return 0;
	return uringx_pbufring_buf_size(class_ring(src, cls));
}

uint32_t uringx_rxsrc_max_views(const struct uringx_rxsrc *src)
{
	uint32_t n;

	if (src->kind == URINGX_RX_ZCRX)
		return 1;
	n = uringx_pbufring_max_views(src->pbuf);
	if (src->small && uringx_pbufring_max_views(src->small) > n)
		n = uringx_pbufring_max_views(src->small);
	return n;
}

int uringx_rxsrc_decode(struct uringx_rxsrc *src, const struct io_uring_cqe *cqe,
			struct uringx_rx_view *views, uint32_t max_views,
			struct uringx_rx_event *ev)
{
	return uringx_rxsrc_decode_class(src, URINGX_RX_CLASS_LARGE, cqe, views, max_views, ev);
}

int uringx_rxsrc_decode_class(struct uringx_rxsrc *src, enum uringx_rx_class cls,
			      const struct io_uring_cqe *cqe, struct uringx_rx_view *views,
			      uint32_t max_views, struct uringx_rx_event *ev)
{
	if (src->kind == URINGX_RX_ZCRX) {
		if (!max_views)
			return -ENOSPC;
		return uringx_zcrx_decode(src->zcrx, cqe, views, ev);
	}
	return uringx_pbufring_decode(class_ring(src, cls), cqe, views, max_views, ev);
}

int uringx_rxsrc_release(struct uringx_rxsrc *src, uint64_t token)
{
	if (src->kind == URINGX_RX_ZCRX)
		return uringx_zcrx_release(src->zcrx, token);
	if (src->small && uringx_pbufring_owns(src->small, token))
		return uringx_pbufring_release(src->small, token);
	return uringx_pbufring_release(src->pbuf, token);
}

int uringx_rxsrc_flush(struct uringx_rxsrc *src)
{
	return src->kind == URINGX_RX_ZCRX ? uringx_zcrx_flush(src->zcrx) : 0;
}

uint32_t uringx_rxsrc_available(const struct uringx_rxsrc *src)
{
	if (src->kind == URINGX_RX_ZCRX)
		return uringx_zcrx_available(src->zcrx);
	return uringx_pbufring_available(src->pbuf) +
	       (src->small ? uringx_pbufring_available(src->small) : 0);
}

uint32_t uringx_rxsrc_class_available(const struct uringx_rxsrc *src, enum uringx_rx_class cls)
{
	if (src->kind == URINGX_RX_ZCRX || (cls == URINGX_RX_CLASS_SMALL && !src->small))
		return cls == URINGX_RX_CLASS_LARGE ? uringx_rxsrc_available(src) : 0;
	return uringx_pbufring_available(class_ring(src, cls));
}

uint32_t uringx_rxsrc_nr_bufs(const struct uringx_rxsrc *src)
{
	if (src->kind == URINGX_RX_ZCRX)
		return uringx_zcrx_nr_bufs(src->zcrx);
	return uringx_pbufring_nr_bufs(src->pbuf) +
	       (src->small ? uringx_pbufring_nr_bufs(src->small) : 0);
}

uint32_t uringx_rxsrc_class_nr_bufs(const struct uringx_rxsrc *src, enum uringx_rx_class cls)
{
	if (src->kind == URINGX_RX_ZCRX || (cls == URINGX_RX_CLASS_SMALL && !src->small))
		return cls == URINGX_RX_CLASS_LARGE ? uringx_rxsrc_nr_bufs(src) : 0;
	return uringx_pbufring_nr_bufs(class_ring(src, cls));
}

uint32_t uringx_rxsrc_outstanding(const struct uringx_rxsrc *src)
{
	if (src->kind == URINGX_RX_ZCRX)
		return uringx_zcrx_outstanding(src->zcrx);
	return uringx_pbufring_outstanding(src->pbuf) +
	       (src->small ? uringx_pbufring_outstanding(src->small) : 0);
}

struct uringx_pbufring *uringx_rxsrc_pbufring(struct uringx_rxsrc *src)
{
	return src->pbuf;
}

struct uringx_pbufring *uringx_rxsrc_small_pbufring(struct uringx_rxsrc *src)
{
	return src->small;
}

struct uringx_zcrx *uringx_rxsrc_zcrx(struct uringx_rxsrc *src)
{
	return src->zcrx;
}
