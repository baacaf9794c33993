// SPDX-License-Identifier: MIT
/* A transmit pool the NIC has DMA-mapped once: udmabuf over a memfd,
 * registered with IORING_REGISTER_NET_TX_BUF, sent from with SEND_ZC. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uringx/nictx.h>

#include "nic_region.h"
#include "uapi.h"

/* The kernel's UIO_MAXIOV: no send takes more segments. */
#define NICTX_MAX_SEGMENTS 1024u

enum { CHUNK_FREE, CHUNK_HELD, CHUNK_LENT };

/* user_data: [tag:8][chunk index:24][cookie:32] */
static uint64_t encode(uint32_t chunk, uint32_t cookie)
{
	return URINGX_NICTX_TAG << 56 | (uint64_t)(chunk & 0xffffff) << 32 | cookie;
}

static void release_memory(struct uringx_nictx *p)
{
	struct nic_region r = { .base = p->base, .len = p->size, .memfd = p->memfd,
				.dmabuf_fd = p->dmabuf_fd };

	nic_region_unmap(&r);
	free(p->free_chunks);
	free(p->chunk_state);
	p->base = NULL;
	p->dmabuf_fd = p->memfd = -1;
	p->free_chunks = NULL;
	p->chunk_state = NULL;
}

int uringx_nictx_create(struct uringx_nictx *p, struct io_uring *ring, const char *ifname,
			size_t size, uint32_t chunk_size, uint16_t buf_index)
{
	long page = sysconf(_SC_PAGESIZE);
	struct nic_region region;
	uint32_t i;
	int ret;

	if (!p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->memfd = p->dmabuf_fd = -1;
	p->reason = URINGX_REASON_OTHER;
	if (!ring || !ifname || !chunk_size || chunk_size % (uint32_t)page || !size ||
	    size % chunk_size || size / chunk_size > (1u << 24) || size > UINT32_MAX)
		return -EINVAL;
	p->ifindex = if_nametoindex(ifname);
	if (!p->ifindex) {
		p->reason = URINGX_REASON_NO_SUCH_DEVICE;
		return -ENODEV;
	}
	p->ring = ring;
	p->size = size;
	p->chunk_size = chunk_size;
	p->nr_chunks = (uint32_t)(size / chunk_size);
	p->buf_index = buf_index;

	p->free_chunks = calloc(p->nr_chunks, sizeof(*p->free_chunks));
	p->chunk_state = calloc(p->nr_chunks, 1);
	if (!p->free_chunks || !p->chunk_state) {
		p->reason = URINGX_REASON_NO_MEMORY;
		ret = -ENOMEM;
		goto err;
	}
	ret = nic_region_map(&region, ring, ifname, size, buf_index, &p->reason);
	if (ret)
		goto err;
	p->base = region.base;
	p->memfd = region.memfd;
	p->dmabuf_fd = region.dmabuf_fd;
	p->dmabuf_id = region.dmabuf_id;

	for (i = 0; i < p->nr_chunks; i++)
		p->free_chunks[i] = p->nr_chunks - 1 - i;
	p->nr_free = p->nr_chunks;
	p->reason = URINGX_REASON_NONE;
	return 0;
err:
	release_memory(p);
	return ret;
}

void uringx_nictx_destroy(struct uringx_nictx *p)
{
	struct iovec empty = { 0 };

	if (!p || !p->ring)
		return;
	/* An empty iovec clears the slot; the kernel unbinds after the last send. */
	io_uring_register_buffers_update_tag(p->ring, p->buf_index, &empty, NULL, 1);
	release_memory(p);
	p->ring = NULL;
}

int uringx_nictx_alloc(struct uringx_nictx *p)
{
	uint32_t chunk;

	if (!p->nr_free)
		return -ENOBUFS;
	chunk = p->free_chunks[--p->nr_free];
	p->chunk_state[chunk] = CHUNK_HELD;
	return (int)chunk;
}

int uringx_nictx_free(struct uringx_nictx *p, uint32_t chunk)
{
	if (chunk >= p->nr_chunks)
		return -EINVAL;
	if (p->chunk_state[chunk] != CHUNK_HELD)
		return -EALREADY;
	p->chunk_state[chunk] = CHUNK_FREE;
	p->free_chunks[p->nr_free++] = chunk;
	return 0;
}

int uringx_nictx_prep_send(struct uringx_nictx *p, struct io_uring_sqe *sqe, int fd,
			   uint32_t chunk, uint32_t offset, uint32_t len, uint32_t cookie,
			   int msg_flags)
{
	uint64_t addr;

	if (!p || !sqe || !len || chunk >= p->nr_chunks || offset > p->chunk_size ||
	    len > p->chunk_size - offset)
		return -EINVAL;
	if (p->chunk_state[chunk] != CHUNK_HELD)
		return -EALREADY;
	/* The slot's addresses are offsets into the pool. */
	addr = (uint64_t)chunk * p->chunk_size + offset;
	io_uring_prep_send_zc_fixed(sqe, fd, (void *)(uintptr_t)addr, len, msg_flags,
				    IORING_SEND_ZC_REPORT_USAGE, p->buf_index);
	sqe->user_data = encode(chunk, cookie);
	p->chunk_state[chunk] = CHUNK_LENT;
	p->in_flight++;
	return 0;
}

int uringx_nictx_prep_sendv(struct uringx_nictx *p, struct io_uring_sqe *sqe, int fd,
			    uint32_t chunk, struct iovec *iov, unsigned int nr, uint32_t cookie,
			    int msg_flags)
{
	uintptr_t first, end;
	unsigned int i;

	if (!p || !sqe || !iov || !nr || nr > NICTX_MAX_SEGMENTS || chunk >= p->nr_chunks)
		return -EINVAL;
	first = (uintptr_t)uringx_nictx_chunk(p, chunk);
	end = first + p->chunk_size;
	/* Every range is checked before any is rewritten. */
	for (i = 0; i < nr; i++) {
		uintptr_t a = (uintptr_t)iov[i].iov_base;

		if (!iov[i].iov_len || a < first || a >= end || iov[i].iov_len > end - a)
			return -EINVAL;
	}
	if (p->chunk_state[chunk] != CHUNK_HELD)
		return -EALREADY;
	/* The slot's addresses are offsets into the pool. */
	for (i = 0; i < nr; i++)
		iov[i].iov_base = (void *)((uintptr_t)iov[i].iov_base - (uintptr_t)p->base);
	io_uring_prep_send_zc_fixed(sqe, fd, iov, nr, msg_flags, IORING_SEND_ZC_REPORT_USAGE,
				    p->buf_index);
	sqe->ioprio |= IORING_SEND_VECTORIZED;
	sqe->user_data = encode(chunk, cookie);
	p->chunk_state[chunk] = CHUNK_LENT;
	p->in_flight++;
	return 0;
}

/* A small ring with a one-slot buffer table for a probe; 0 or -errno in @out. */
static int probe_ring(struct io_uring *ring, struct uringx_nictx_verdict *out)
{
	int ret = io_uring_queue_init(4, ring, 0);

	if (ret) {
		out->err = ret;
		out->reason = URINGX_REASON_KERNEL_NO_IO_URING;
		return ret;
	}
	ret = io_uring_register_buffers_sparse(ring, 1);
	if (ret) {
		out->err = ret;
		out->reason = URINGX_REASON_OTHER;
		io_uring_queue_exit(ring);
	}
	return ret;
}

/* One-page pool on @ifname; @out gets the outcome. */
static void try_pool(const char *ifname, struct uringx_nictx_verdict *out)
{
	long page = sysconf(_SC_PAGESIZE);
	struct uringx_nictx pool;
	struct io_uring ring;
	int ret;

	if (probe_ring(&ring, out))
		return;
	ret = uringx_nictx_create(&pool, &ring, ifname, (size_t)page, (uint32_t)page, 0);
	out->err = ret;
	out->reason = ret ? pool.reason : URINGX_REASON_NONE;
	if (!ret)
		uringx_nictx_destroy(&pool);
	io_uring_queue_exit(&ring);
}

/*
 * lo never transmits from device memory, and the kernel checks the device
 * before the dma-buf: an unknown opcode fails with -EINVAL, a known one
 * with -EOPNOTSUPP, and no dma-buf is needed to tell.
 */
static void kernel_check(struct uringx_nictx_verdict *out)
{
	struct ux_net_tx_buf reg = { .dmabuf_fd = UINT32_MAX };
	struct io_uring ring;

	reg.ifindex = if_nametoindex("lo");
	if (probe_ring(&ring, out))
		return;
	out->err = io_uring_register(ring.ring_fd, UX_IORING_REGISTER_NET_TX_BUF, &reg, 1);
	out->reason = nic_register_reason(out->err);
	io_uring_queue_exit(&ring);
}

int uringx_probe_nictx(const char *ifname, struct uringx_nictx_verdict *out)
{
	struct uringx_nictx_verdict lo = { 0 };

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	kernel_check(&lo);
	out->kernel = lo.err == -EOPNOTSUPP;
	if (!out->kernel) {
		out->err = lo.err;
		out->reason = lo.reason;
		return 0;
	}
	if (!ifname) {
		out->reason = URINGX_REASON_NO_IFNAME;
		return 0;
	}
	try_pool(ifname, out);
	out->kernel = true;
	out->usable = out->err == 0;
	return 0;
}

int uringx_nictx_complete(struct uringx_nictx *p, const struct io_uring_cqe *cqe,
			  struct uringx_nictx_event *ev)
{
	uint32_t chunk = (uint32_t)(cqe->user_data >> 32) & 0xffffff;

	if (!uringx_nictx_owns(cqe) || chunk >= p->nr_chunks ||
	    p->chunk_state[chunk] != CHUNK_LENT)
		return -EPROTO;
	memset(ev, 0, sizeof(*ev));
	ev->chunk = chunk;
	ev->cookie = (uint32_t)cqe->user_data;
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		ev->kind = URINGX_NICTX_RELEASED;
		p->notifications++;
		if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			p->copied_notifications++;
		ev->last = true;
	} else {
		ev->kind = URINGX_NICTX_SENT;
		ev->res = cqe->res;
		if (cqe->res >= 0) {
			p->sends++;
			p->bytes_sent += (uint64_t)cqe->res;
		} else if (cqe->res == -ENODEV) {
			ev->reason = URINGX_REASON_ROUTE_OTHER_DEVICE;
		}
		ev->last = !(cqe->flags & IORING_CQE_F_MORE);
	}
	if (ev->last) {
		p->in_flight--;
		p->chunk_state[chunk] = CHUNK_FREE;
		p->free_chunks[p->nr_free++] = chunk;
	}
	return 0;
}
