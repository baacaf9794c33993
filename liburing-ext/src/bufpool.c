// SPDX-License-Identifier: MIT
/* Registered buffer pool: one region, registered once, cut into chunks. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uringx/bufpool.h>

#include "diagnose.h"
#include "memory.h"
#include "nic_region.h"
#include "token.h"

/* The kernel's answer, asked once per process: 1 yes, -1 no, 0 not yet. */
static bool kernel_fixed_plain(void)
{
	static int known;
	int v = __atomic_load_n(&known, __ATOMIC_RELAXED);

	if (!v) {
		v = probe_send_recv_fixed_buf() ? 1 : -1;
		__atomic_store_n(&known, v, __ATOMIC_RELAXED);
	}
	return v > 0;
}

enum chunk_state {
	CHUNK_FREE = 0,
	CHUNK_ALLOCATED,
	CHUNK_FREEING,		/* freed by the user while the kernel holds it */
};

struct uringx_bufpool {
	struct io_uring *ring;
	struct region mem;
	uint32_t chunk_size;
	uint32_t nr_chunks;
	uint16_t buf_index;
	uint16_t tag;
	uint32_t nr_free;
	uint32_t *free_stack;	/* indices of free chunks */
	uint8_t *state;		/* enum chunk_state per chunk */
	uint32_t *lends;	/* kernel references per chunk */
	bool own_table;		/* we registered the table, so we unregister it */
	bool nic;		/* NIC-registered: @nic_mem backs @mem */
	bool fixed_plain;	/* plain SEND/RECV name the slot */
	struct nic_region nic_mem;
};

/* The NIC maps the region: it goes into an empty slot of a sparse table. */
static int map_nic_region(struct uringx_bufpool *pool, const char *ifname, uint64_t len,
			  uint16_t buf_index, enum uringx_reason *reason)
{
	int ret;

	ret = nic_region_map(&pool->nic_mem, pool->ring, ifname, len, buf_index, reason);
	if (ret == -ENXIO) {
		/* No table yet: one slot of our own. */
		ret = io_uring_register_buffers_sparse(pool->ring, 1);
		if (ret < 0)
			return ret;
		pool->own_table = true;
		buf_index = 0;
		ret = nic_region_map(&pool->nic_mem, pool->ring, ifname, len, 0, reason);
	}
	if (ret < 0)
		return ret;
	pool->nic = true;
	pool->buf_index = buf_index;
	pool->mem.addr = pool->nic_mem.base;
	pool->mem.len = pool->nic_mem.len;
	return 0;
}

static int register_region(struct uringx_bufpool *pool, uint16_t buf_index)
{
	struct iovec iov = { .iov_base = pool->mem.addr, .iov_len = pool->mem.len };
	int ret;

	ret = io_uring_register_buffers(pool->ring, &iov, 1);
	if (ret == 0) {
		pool->own_table = true;
		pool->buf_index = 0;
		return 0;
	}
	if (ret != -EBUSY)
		return ret;
	/* The application has a table already: take the slot it named. */
	ret = io_uring_register_buffers_update_tag(pool->ring, buf_index, &iov, NULL, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EBUSY;
	pool->buf_index = buf_index;
	return 0;
}

static int create(struct io_uring *ring, const struct uringx_bufpool_params *params,
		  const char *nic_ifname, struct uringx_bufpool **out, enum uringx_reason *reason)
{
	struct uringx_bufpool *pool;
	uint64_t len;
	uint32_t chunk;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!ring || !params || !out || !params->chunk_size || !params->nr_chunks)
		return -EINVAL;
	/* Unknown flags, and asking for both kinds of memory, are refused. */
	if (params->flags & ~(uint32_t)(URINGX_BUFPOOL_NO_HUGE | URINGX_BUFPOOL_REQUIRE_HUGE |
					URINGX_BUFPOOL_NO_FIXED_PLAIN) ||
	    (params->flags & URINGX_BUFPOOL_NO_HUGE && params->flags & URINGX_BUFPOOL_REQUIRE_HUGE))
		return -EINVAL;
	chunk = (params->chunk_size + 63u) & ~63u;
	if (chunk < params->chunk_size)
		return -EINVAL;
	len = (uint64_t)chunk * params->nr_chunks;
	/* The kernel caps one registered buffer at 1 GiB. */
	if (len > (1ull << 30))
		return -EINVAL;
	if (nic_ifname && chunk % (uint32_t)sysconf(_SC_PAGESIZE))
		return -EINVAL;

	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->ring = ring;
	pool->chunk_size = chunk;
	pool->nr_chunks = params->nr_chunks;
	pool->tag = token_new_tag();
	pool->free_stack = malloc(sizeof(uint32_t) * params->nr_chunks);
	pool->state = calloc(params->nr_chunks, 1);
	pool->lends = calloc(params->nr_chunks, sizeof(uint32_t));
	if (!pool->free_stack || !pool->state || !pool->lends) {
		ret = -ENOMEM;
		goto err;
	}

	if (nic_ifname) {
		enum uringx_reason why;

		ret = map_nic_region(pool, nic_ifname, len, params->buf_index, &why);
		if (ret < 0) {
			if (reason)
				*reason = why;
			goto err;
		}
		goto mapped;
	}

	ret = region_map(&pool->mem, len,
			 (params->flags & URINGX_BUFPOOL_NO_HUGE) ? REGION_PAGES :
			 (params->flags & URINGX_BUFPOOL_REQUIRE_HUGE) ? REGION_HUGETLB :
			 REGION_AUTO);
	if (ret < 0) {
		if (reason)
			*reason = URINGX_REASON_NO_MEMORY;
		goto err;
	}

	ret = register_region(pool, params->buf_index);
	if (ret < 0) {
		if (reason)
			*reason = ret == -ENOMEM && region_exceeds_memlock(pool->mem.len) ?
				URINGX_REASON_MEMLOCK : ret == -ENOMEM ?
				URINGX_REASON_NO_MEMORY : URINGX_REASON_OTHER;
		goto err;
	}

	pool->fixed_plain = !(params->flags & URINGX_BUFPOOL_NO_FIXED_PLAIN) &&
			    kernel_fixed_plain();
mapped:
	/* Hand out low addresses first: stack top is index 0. */
	for (uint32_t i = 0; i < pool->nr_chunks; i++)
		pool->free_stack[i] = pool->nr_chunks - 1 - i;
	pool->nr_free = pool->nr_chunks;
	*out = pool;
	return 0;
err:
	if (pool->own_table)
		io_uring_unregister_buffers(ring);
	if (!nic_ifname)
		region_unmap(&pool->mem);
	free(pool->free_stack);
	free(pool->state);
	free(pool->lends);
	free(pool);
	return ret;
}

int uringx_bufpool_create(struct io_uring *ring, const struct uringx_bufpool_params *params,
			  struct uringx_bufpool **out, enum uringx_reason *reason)
{
	return create(ring, params, NULL, out, reason);
}

int uringx_bufpool_create_nic(struct io_uring *ring,
			      const struct uringx_bufpool_params *params, const char *ifname,
			      struct uringx_bufpool **out, enum uringx_reason *reason)
{
	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!ifname)
		return -EINVAL;
	return create(ring, params, ifname, out, reason);
}

void uringx_bufpool_destroy(struct uringx_bufpool *pool)
{
	struct iovec empty = { 0 };

	if (!pool)
		return;
	if (pool->own_table)
		io_uring_unregister_buffers(pool->ring);
	else
		io_uring_register_buffers_update_tag(pool->ring, pool->buf_index, &empty, NULL, 1);
	if (pool->nic)
		nic_region_unmap(&pool->nic_mem);
	else
		region_unmap(&pool->mem);
	free(pool->free_stack);
	free(pool->state);
	free(pool->lends);
	free(pool);
}

static void fill_chunk(const struct uringx_bufpool *pool, uint32_t index,
		       struct uringx_chunk *out)
{
	out->addr = (char *)pool->mem.addr + (size_t)index * pool->chunk_size;
	out->len = pool->chunk_size;
	out->buf_index = pool->buf_index;
	out->token = token_make(pool->tag, 0, index);
}

/* Validate @token: 0 and *index, or -EINVAL. */
static int chunk_index(const struct uringx_bufpool *pool, uint64_t token, uint32_t *index)
{
	if (token_tag(token) != pool->tag || token_gen(token) != 0 ||
	    token_index(token) >= pool->nr_chunks)
		return -EINVAL;
	*index = token_index(token);
	return 0;
}

int uringx_bufpool_alloc(struct uringx_bufpool *pool, struct uringx_chunk *out)
{
	uint32_t index;

	if (!pool || !out)
		return -EINVAL;
	if (!pool->nr_free)
		return -ENOBUFS;
	index = pool->free_stack[--pool->nr_free];
	pool->state[index] = CHUNK_ALLOCATED;
	fill_chunk(pool, index, out);
	return 0;
}

static void push_free(struct uringx_bufpool *pool, uint32_t index)
{
	pool->state[index] = CHUNK_FREE;
	pool->free_stack[pool->nr_free++] = index;
}

int uringx_bufpool_free(struct uringx_bufpool *pool, uint64_t token)
{
	uint32_t index;

	if (!pool || chunk_index(pool, token, &index))
		return -EINVAL;
	if (pool->state[index] != CHUNK_ALLOCATED)
		return -EALREADY;
	if (pool->lends[index]) {
		pool->state[index] = CHUNK_FREEING;
		return 0;
	}
	push_free(pool, index);
	return 0;
}

int uringx_bufpool_lend(struct uringx_bufpool *pool, uint64_t token)
{
	uint32_t index;

	if (!pool || chunk_index(pool, token, &index))
		return -EINVAL;
	if (pool->state[index] != CHUNK_ALLOCATED)
		return -EALREADY;
	pool->lends[index]++;
	return 0;
}

int uringx_bufpool_unlend(struct uringx_bufpool *pool, uint64_t token)
{
	uint32_t index;

	if (!pool || chunk_index(pool, token, &index))
		return -EINVAL;
	if (!pool->lends[index])
		return -EALREADY;
	if (--pool->lends[index] == 0 && pool->state[index] == CHUNK_FREEING)
		push_free(pool, index);
	return 0;
}

int uringx_bufpool_chunk(const struct uringx_bufpool *pool, uint64_t token,
			 struct uringx_chunk *out)
{
	uint32_t index;

	if (!pool || !out || chunk_index(pool, token, &index))
		return -EINVAL;
	if (pool->state[index] == CHUNK_FREE)
		return -EALREADY;
	fill_chunk(pool, index, out);
	return 0;
}

int uringx_bufpool_token(const struct uringx_bufpool *pool, uint32_t index, uint64_t *token)
{
	if (!pool || !token || index >= pool->nr_chunks)
		return -EINVAL;
	*token = token_make(pool->tag, 0, index);
	return 0;
}

uint32_t uringx_bufpool_chunk_size(const struct uringx_bufpool *pool)
{
	return pool->chunk_size;
}

uint32_t uringx_bufpool_nr_chunks(const struct uringx_bufpool *pool)
{
	return pool->nr_chunks;
}

uint32_t uringx_bufpool_nr_free(const struct uringx_bufpool *pool)
{
	return pool->nr_free;
}

enum uringx_mem_backing uringx_bufpool_backing(const struct uringx_bufpool *pool)
{
	if (pool->nic)
		return URINGX_MEM_NIC_TX;
	return pool->mem.hugetlb ? URINGX_MEM_HUGETLB : URINGX_MEM_PAGES;
}

void *uringx_bufpool_fixed_addr(const struct uringx_bufpool *pool, const void *addr)
{
	if (!pool->nic)
		return (void *)addr;
	return (void *)((const char *)addr - (const char *)pool->mem.addr);
}

void *uringx_bufpool_base(const struct uringx_bufpool *pool)
{
	return pool->mem.addr;
}

size_t uringx_bufpool_region_len(const struct uringx_bufpool *pool)
{
	return pool->mem.len;
}

bool uringx_bufpool_fixed_plain(const struct uringx_bufpool *pool)
{
	return pool->fixed_plain;
}

/* A prepared plain SEND/RECV names the pool's slot where the kernel takes it. */
static bool name_slot(const struct uringx_bufpool *pool, struct io_uring_sqe *sqe)
{
	if (!pool->fixed_plain)
		return false;
	sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
	sqe->buf_index = pool->buf_index;
	return true;
}

bool uringx_bufpool_prep_send(const struct uringx_bufpool *pool, struct io_uring_sqe *sqe,
			      int fd, const void *addr, size_t len, int msg_flags)
{
	io_uring_prep_send(sqe, fd, addr, len, msg_flags);
	return name_slot(pool, sqe);
}

bool uringx_bufpool_prep_recv(const struct uringx_bufpool *pool, struct io_uring_sqe *sqe,
			      int fd, void *addr, size_t len, int msg_flags)
{
	io_uring_prep_recv(sqe, fd, addr, len, msg_flags);
	return name_slot(pool, sqe);
}
