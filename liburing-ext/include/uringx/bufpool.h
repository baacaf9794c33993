/* SPDX-License-Identifier: MIT */
/*
 * uringx/bufpool.h - registered (fixed) buffer pool.
 *
 * One memory region, 2 MiB huge pages when the system has them reserved,
 * else normal pages (with transparent huge pages advised), registered once
 * with the ring as one fixed buffer. It is cut into equal chunks handed out
 * in O(1). Each chunk carries the buf_index that *_FIXED operations need.
 *
 * uringx_bufpool_create_nic() backs the pool instead with memory a NIC has DMA-mapped
 * once for transmission (a udmabuf, IORING_REGISTER_NET_TX_BUF; see
 * nictx.h): only SEND_ZC may use its slot, and *_FIXED addresses are
 * uringx_bufpool_fixed_addr() offsets, not the chunk's CPU address.
 * A chunk may be lent to the kernel for a zero-copy send (see sendzc.h):
 * uringx_bufpool_free() of a lent chunk defers the free until the kernel's
 * notification returns it, so memory the NIC may still read is never handed
 * out again.
 */
#ifndef URINGX_BUFPOOL_H
#define URINGX_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_bufpool;

enum uringx_bufpool_flags {
	URINGX_BUFPOOL_NO_HUGE = 1u << 0,	/* never try hugetlb pages */
	URINGX_BUFPOOL_REQUIRE_HUGE = 1u << 1,	/* fail rather than use normal pages */
	/* plain sends and receives never name the slot (see prep_send) */
	URINGX_BUFPOOL_NO_FIXED_PLAIN = 1u << 2,
};

/* How the pool's memory is backed. */
enum uringx_mem_backing {
	URINGX_MEM_HUGETLB = 1,		/* MAP_HUGETLB 2 MiB pages */
	URINGX_MEM_PAGES,		/* normal pages, MADV_HUGEPAGE advised */
	URINGX_MEM_NIC_TX,		/* udmabuf DMA-mapped for one NIC's TX */
};

struct uringx_bufpool_params {
	uint32_t chunk_size;	/* bytes per chunk, > 0; rounded up to 64 */
	uint32_t nr_chunks;	/* > 0 */
	uint32_t flags;		/* enum uringx_bufpool_flags */
	/*
	 * Fixed-buffer table slot. If the ring has no buffer table yet the
	 * pool registers one of its own (slot 0). If a table exists (the
	 * application's sparse table), the pool takes this slot, replacing
	 * whatever was there: with several pools on one ring, register a
	 * sparse table first and give each pool its own slot.
	 */
	uint16_t buf_index;
};

/* A chunk handed out by uringx_bufpool_alloc(). Plain data; copy freely. */
struct uringx_chunk {
	void *addr;		/* chunk_size bytes */
	uint32_t len;		/* chunk_size */
	uint16_t buf_index;	/* for io_uring_prep_*_fixed() */
	uint64_t token;		/* identifies the chunk to this pool */
};

/*
 * uringx_bufpool_create - map and register a pool on @ring.
 *
 * On success *@out owns the memory and the registration; release with
 * uringx_bufpool_destroy() before io_uring_queue_exit(@ring).
 * On a ring whose application already registered a (sparse) buffer table,
 * the pool takes slot @buf_index, replacing what the slot held.
 * Errors: -EINVAL (zero or too-large sizes, unknown flags, NO_HUGE with
 * REQUIRE_HUGE, @buf_index past the application's table), -ENOMEM (no
 * memory, or with reason URINGX_REASON_MEMLOCK when RLIMIT_MEMLOCK is too
 * small: raise it with `ulimit -l` / LimitMEMLOCK= or grant CAP_IPC_LOCK).
 * @reason, if non-NULL, receives the reason.
 */
int uringx_bufpool_create(struct io_uring *ring,
			  const struct uringx_bufpool_params *params,
			  struct uringx_bufpool **out, enum uringx_reason *reason);

/*
 * uringx_bufpool_create_nic - the same pool over memory the interface
 * @ifname has DMA-mapped once for TX (chunk_size a multiple of the page
 * size; the slot must be empty, or the ring have no table). Errors also as
 * uringx_nictx_create(), with the reason.
 */
int uringx_bufpool_create_nic(struct io_uring *ring,
			      const struct uringx_bufpool_params *params, const char *ifname,
			      struct uringx_bufpool **out, enum uringx_reason *reason);

/*
 * uringx_bufpool_destroy - unregister and unmap. Every chunk becomes invalid,
 * including chunks still lent to the kernel: only call it once no zero-copy
 * send is in flight (or after the ring is quiesced). NULL is a no-op.
 */
void uringx_bufpool_destroy(struct uringx_bufpool *pool);

/*
 * uringx_bufpool_alloc - take a free chunk. O(1).
 * Errors: -ENOBUFS when every chunk is in use or lent.
 */
int uringx_bufpool_alloc(struct uringx_bufpool *pool, struct uringx_chunk *out);

/*
 * uringx_bufpool_free - give a chunk back. O(1). A chunk lent to the kernel
 * goes back once the last lend ends (uringx_bufpool_unlend()).
 * Errors: -EINVAL (token of another pool, or not a token), -EALREADY (the
 * chunk is already free or already being freed).
 */
int uringx_bufpool_free(struct uringx_bufpool *pool, uint64_t token);

/*
 * uringx_bufpool_lend / unlend - count a kernel reference to an allocated
 * chunk (a zero-copy send in flight). sendzc.h calls these; other users that
 * hand chunk memory to the kernel may too.
 * Errors: -EINVAL (bad token), -EALREADY (chunk not allocated / not lent).
 */
int uringx_bufpool_lend(struct uringx_bufpool *pool, uint64_t token);
int uringx_bufpool_unlend(struct uringx_bufpool *pool, uint64_t token);

/* uringx_bufpool_chunk - the chunk for @token, or -EINVAL/-EALREADY. */
int uringx_bufpool_chunk(const struct uringx_bufpool *pool, uint64_t token,
			 struct uringx_chunk *out);

/* uringx_bufpool_token - the token of chunk number @index: 0 or -EINVAL. */
int uringx_bufpool_token(const struct uringx_bufpool *pool, uint32_t index, uint64_t *token);

uint32_t uringx_bufpool_chunk_size(const struct uringx_bufpool *pool);
uint32_t uringx_bufpool_nr_chunks(const struct uringx_bufpool *pool);
/* Chunks neither allocated nor lent right now. */
uint32_t uringx_bufpool_nr_free(const struct uringx_bufpool *pool);
enum uringx_mem_backing uringx_bufpool_backing(const struct uringx_bufpool *pool);
/* Base address and length of the registered region. */
void *uringx_bufpool_base(const struct uringx_bufpool *pool);
/*
 * uringx_bufpool_fixed_addr - the address *_FIXED operations take for the
 * CPU address @addr inside the pool: @addr itself, or for a NIC-registered
 * pool its offset into the dma-buf.
 */
void *uringx_bufpool_fixed_addr(const struct uringx_bufpool *pool, const void *addr);
size_t uringx_bufpool_region_len(const struct uringx_bufpool *pool);

/*
 * uringx_bufpool_prep_send - a plain (copying) IORING_OP_SEND of @len bytes
 * at @addr inside @pool; uringx_bufpool_prep_recv - a plain IORING_OP_RECV
 * into them.
 *
 * Where the kernel takes registered buffers for plain sends and receives
 * (IORING_RECVSEND_FIXED_BUF, Linux 7.x: uringx_probe's send_recv_fixed_buf)
 * the SQE names the pool's slot, and the kernel copies to or from the pages
 * it pinned at registration (a bvec iterator through the kernel's own
 * mapping) instead of through the user mapping with user-access checks and
 * possible faults per call. Elsewhere, for a NIC-registered pool (its slot
 * is for SEND_ZC only) and with URINGX_BUFPOOL_NO_FIXED_PLAIN, it is an
 * ordinary send or receive of @addr. Bytes and results are the same either way.
 * Returns true when the SQE names the slot.
 */
bool uringx_bufpool_prep_send(const struct uringx_bufpool *pool, struct io_uring_sqe *sqe,
			      int fd, const void *addr, size_t len, int msg_flags);
bool uringx_bufpool_prep_recv(const struct uringx_bufpool *pool, struct io_uring_sqe *sqe,
			      int fd, void *addr, size_t len, int msg_flags);
/* uringx_bufpool_fixed_plain - prep_send and prep_recv name the slot. */
bool uringx_bufpool_fixed_plain(const struct uringx_bufpool *pool);

#ifdef __cplusplus
}
#endif
#endif
