// SPDX-License-Identifier: MIT
/* io_uring zero-copy receive: area, refill ring, RECV_ZC decoding. */
#include <errno.h>
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <uringx/zcrx.h>

#include "diagnose.h"
#include "memory.h"
#include "nic_region.h"
#include "rx_outcome.h"
#include "token.h"
#include "uapi.h"

#define REFILL_BATCH 32u

struct uringx_zcrx {
	struct io_uring *ring;
	struct region area;	/* CPU mapping of the area */
	int memfd;		/* udmabuf backing, or -1 */
	int dmabuf_fd;
	int tx_slot;		/* fixed-buffer slot of the area bound for TX, or -1 */
	struct region rq_mem;	/* refill ring + header (+ stats) */
	_Atomic uint32_t *rq_head;
	_Atomic uint32_t *rq_tail;
	struct io_uring_zcrx_rqe *rqes;
	uint32_t rq_mask;
	uint32_t rq_tail_local;
	uint64_t area_token;
	uint32_t id;
	uint32_t buf_shift;	/* log2(rx_buf_len) */
	uint32_t nr_niovs;
	uint32_t *user_refs;	/* views handed out per niov */
	uint32_t *returns;	/* per niov: released refs not yet in the refill ring */
	uint32_t *pending;	/* niovs with returns, each listed once */
	uint32_t nr_pending;
	uint32_t pending_refs;	/* sum of returns[] */
	uint32_t outstanding;
	uint16_t tag;
	bool nodev;
	const struct ux_zcrx_stats *stats;	/* in rq_mem, when the kernel keeps them */
	bool event_armed;
	uint64_t event_user_data;
	uint64_t events;

	/*
	 * Sharing (uringx_zcrx_export/import). An importer receives into its
	 * owner's area and returns buffers through its owner's refill ring;
	 * it has its own id on its own ring, its own token tag and counts.
	 * Once exported, the owner's refill ring is written under rq_lock by
	 * every sharer, and shared_held counts, over all of them, the buffers
	 * handed out or returned but not yet published.
	 */
	struct uringx_zcrx *owner;	/* importer: whose area and refill ring */
	_Atomic unsigned int refs;	/* owner: itself, importers, shares */
	bool shared;
	pthread_mutex_t rq_lock;
	_Atomic uint32_t shared_held;
};

/* zcrx completions are 32 bytes: every CQE (CQE32) or only those (CQE_MIXED). */
static bool ring_has_big_cqes(const struct io_uring *ring)
{
	return ring->flags & (IORING_SETUP_CQE32 | IORING_SETUP_CQE_MIXED);
}

static struct uringx_zcrx *root_of(struct uringx_zcrx *z)
{
	return z->owner ? z->owner : z;
}

static uint32_t ilog2_u32(uint32_t v)
{
	uint32_t r = 0;

	while (v >>= 1)
		r++;
	return r;
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

static int map_udmabuf(struct uringx_zcrx *z, uint64_t len)
{
	struct udmabuf_create create = { 0 };
	void *addr;
	int dev, ret;

	z->memfd = memfd_create("uringx-zcrx", MFD_ALLOW_SEALING);
	if (z->memfd < 0)
		return -errno;
	if (ftruncate(z->memfd, (off_t)len) || fcntl(z->memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -errno;
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	create.memfd = (uint32_t)z->memfd;
	create.size = len;
	ret = ioctl(dev, UDMABUF_CREATE, &create);
	close(dev);
	if (ret < 0)
		return -errno;
	z->dmabuf_fd = ret;
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, z->memfd, 0);
	if (addr == MAP_FAILED)
		return -errno;
	z->area.addr = addr;
	z->area.len = len;
	return 0;
}

/*
 * Why a registration with rx buffers larger than a page was refused: the
 * kernel checks the area (-ERANGE unless it is contiguous in such chunks,
 * i.e. huge pages here) before the device; a device problem that page-size
 * buffers would also meet, and that can be seen, is named as such; what
 * remains is the driver refusing the length (no QCFG_RX_PAGE_SIZE:
 * -EOPNOTSUPP; a size it does not take: its validate callback's errno,
 * -EINVAL from most). zcrx_diagnose()'s hds_unconfigured is only a guess
 * from -EINVAL with split reported on, which here the length explains.
 */
static enum uringx_reason large_bufs_refusal(const struct uringx_zcrx *z,
					     const struct uringx_zcrx_params *params, int err)
{
	enum uringx_reason r;

	if (err == -ERANGE && !z->area.hugetlb)
		return URINGX_REASON_AREA_NOT_CONTIGUOUS;
	r = zcrx_diagnose(params->ifname, params->queue, err, NULL);
	switch (r) {
	case URINGX_REASON_NO_SUCH_DEVICE:
	case URINGX_REASON_NOT_PERMITTED:
	case URINGX_REASON_NO_SUCH_QUEUE:
	case URINGX_REASON_VIRTUAL_DEVICE:
	case URINGX_REASON_QUEUE_BUSY:
	case URINGX_REASON_HDS_UNSUPPORTED:
	case URINGX_REASON_HDS_OFF:
	case URINGX_REASON_HDS_THRESHOLD:
	case URINGX_REASON_NO_MEMORY:
		return r;
	default:
		return URINGX_REASON_NO_RX_PAGE_SIZE;
	}
}

static void free_counts(struct uringx_zcrx *z)
{
	free(z->user_refs);
	free(z->returns);
	free(z->pending);
}

/* An owner lives on, unused, while importers or shares need its area. */
static void put_owner(struct uringx_zcrx *z)
{
	if (atomic_fetch_sub(&z->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&z->rq_lock);
	region_unmap(&z->area);
	region_unmap(&z->rq_mem);
	if (z->dmabuf_fd >= 0)
		close(z->dmabuf_fd);
	if (z->memfd >= 0)
		close(z->memfd);
	free_counts(z);
	free(z);
}

static void free_zcrx(struct uringx_zcrx *z)
{
	struct uringx_zcrx *owner = z->owner;

	if (!owner) {
		put_owner(z);
		return;
	}
	free_counts(z);
	free(z);
	put_owner(owner);
}

/* Where the kernel wants the stats: after the refill entries, aligned. */
static size_t stats_offset(const struct io_uring_query_zcrx *q,
			   const struct ux_query_zcrx_event *qe, uint32_t rq_entries)
{
	size_t rqes = align_up(q->rq_hdr_size, q->rq_hdr_alignment ? q->rq_hdr_alignment : 64);

	return align_up(rqes + sizeof(struct io_uring_zcrx_rqe) * rq_entries,
			qe->stats_off_alignment ? qe->stats_off_alignment : 8);
}

int uringx_zcrx_create(struct io_uring *ring, const struct uringx_zcrx_params *params,
		       struct uringx_zcrx **out, enum uringx_reason *reason)
{
	struct io_uring_zcrx_area_reg area_reg = { 0 };
	struct io_uring_region_desc rd = { 0 };
	struct io_uring_zcrx_ifq_reg reg = { 0 };
	struct ux_zcrx_event_desc event = { 0 };
	struct io_uring_query_zcrx q = { 0 };
	struct ux_query_zcrx_event qe = { 0 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct uringx_zcrx *z;
	uint32_t rq_entries;
	uint64_t area_size;
	size_t stats_off = 0;
	bool events, large_bufs;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!ring || !params || !out || !params->area_size)
		return -EINVAL;
	rq_entries = params->rq_entries ? params->rq_entries : 4096;
	if ((unsigned int)params->mem > URINGX_ZCRX_MEM_UDMABUF)
		return -EINVAL;
	if (rq_entries & (rq_entries - 1) || rq_entries > 32768)
		return -EINVAL;
	if (params->rx_buf_len &&
	    (params->rx_buf_len & (params->rx_buf_len - 1) || params->rx_buf_len < page))
		return -EINVAL;
	large_bufs = params->rx_buf_len > page;
	area_size = align_up(params->area_size, large_bufs ? params->rx_buf_len : page);
	if (!(ring->flags & IORING_SETUP_DEFER_TASKRUN) || !ring_has_big_cqes(ring)) {
		if (reason)
			*reason = URINGX_REASON_KERNEL_RING_FLAGS;
		return -EINVAL;
	}

	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->ring = ring;
	z->memfd = z->dmabuf_fd = -1;
	z->tx_slot = -1;
	z->tag = token_new_tag();
	z->nodev = !params->ifname;
	atomic_init(&z->refs, 1);
	pthread_mutex_init(&z->rq_lock, NULL);
	z->event_user_data = params->event_user_data;

	events = zcrx_query(&q, &qe) == 0 && (q.features & UX_ZCRX_FEATURE_EVENT);
	if (z->nodev && !(q.register_flags & ZCRX_REG_NODEV)) {
		if (reason)
			*reason = URINGX_REASON_KERNEL_NO_NODEV;
		ret = -EOPNOTSUPP;
		goto err;
	}
	if (large_bufs && (!(q.features & UX_ZCRX_FEATURE_RX_PAGE_SIZE) || z->nodev)) {
		/* NODEV copies into page-size buffers only (the kernel refuses too). */
		if (reason)
			*reason = z->nodev && (q.features & UX_ZCRX_FEATURE_RX_PAGE_SIZE) ?
				  URINGX_REASON_NO_RX_PAGE_SIZE : URINGX_REASON_KERNEL_NO_RX_BUF_LEN;
		ret = -EOPNOTSUPP;
		goto err;
	}

	/* Refill ring region: header, entries, then the kernel's stats. */
	{
		size_t len = page + sizeof(struct io_uring_zcrx_rqe) * rq_entries;

		if (events) {
			stats_off = stats_offset(&q, &qe, rq_entries);
			len = stats_off + sizeof(struct ux_zcrx_stats);
		}
		ret = region_map(&z->rq_mem, align_up(len, page), REGION_PAGES);
		if (ret < 0)
			goto err;
	}

	switch (params->mem) {
	case URINGX_ZCRX_MEM_UDMABUF:
		ret = map_udmabuf(z, area_size);
		break;
	case URINGX_ZCRX_MEM_HUGETLB:
		ret = region_map(&z->area, area_size, REGION_HUGETLB);
		break;
	case URINGX_ZCRX_MEM_PAGES:
		ret = region_map(&z->area, area_size, REGION_PAGES);
		break;
	default:
		ret = region_map(&z->area, area_size, REGION_AUTO);
		break;
	}
	if (ret < 0) {
		if (reason)
			*reason = params->mem == URINGX_ZCRX_MEM_UDMABUF && access("/dev/udmabuf", F_OK) ?
				  URINGX_REASON_NO_UDMABUF : URINGX_REASON_NO_MEMORY;
		goto err;
	}

	if (z->dmabuf_fd >= 0) {
		area_reg.addr = 0;	/* offset into the dmabuf */
		area_reg.flags = IORING_ZCRX_AREA_DMABUF;
		area_reg.dmabuf_fd = (uint32_t)z->dmabuf_fd;
	} else {
		area_reg.addr = (uint64_t)(uintptr_t)z->area.addr;
	}
	area_reg.len = z->area.len;

	rd.user_addr = (uint64_t)(uintptr_t)z->rq_mem.addr;
	rd.size = z->rq_mem.len;
	rd.flags = IORING_MEM_REGION_TYPE_USER;

	if (!z->nodev) {
		reg.if_idx = if_nametoindex(params->ifname);
		if (!reg.if_idx) {
			if (reason)
				*reason = URINGX_REASON_NO_SUCH_DEVICE;
			ret = -ENODEV;
			goto err;
		}
		reg.if_rxq = params->queue;
	} else {
		reg.flags = ZCRX_REG_NODEV;
	}
	reg.rq_entries = rq_entries;
	if (large_bufs)
		reg.rx_buf_len = params->rx_buf_len;
	reg.area_ptr = (uint64_t)(uintptr_t)&area_reg;
	reg.region_ptr = (uint64_t)(uintptr_t)&rd;
	if (events) {
		event.user_data = params->event_user_data;
		event.type_mask = 1u << UX_ZCRX_EVENT_COPY;
		event.flags = UX_ZCRX_EVENT_DESC_FLAG_STATS;
		event.stats_offset = stats_off;
		/* event_desc is the first reserved word in liburing 2.15's copy. */
		reg.__resv[0] = (uint64_t)(uintptr_t)&event;
	}

	ret = io_uring_register_ifq(ring, &reg);
	if (ret < 0) {
		if (reason)
			*reason = z->nodev ? (ret == -EPERM ? URINGX_REASON_NOT_PERMITTED :
					      URINGX_REASON_OTHER) :
				  large_bufs ? large_bufs_refusal(z, params, ret) :
				  zcrx_diagnose(params->ifname, params->queue, ret, NULL);
		goto err;
	}

	z->id = reg.zcrx_id;
	z->area_token = area_reg.rq_area_token;
	z->buf_shift = ilog2_u32(reg.rx_buf_len ? reg.rx_buf_len : (uint32_t)page);
	z->nr_niovs = (uint32_t)(z->area.len >> z->buf_shift);
	z->rq_head = (_Atomic uint32_t *)((char *)z->rq_mem.addr + reg.offsets.head);
	z->rq_tail = (_Atomic uint32_t *)((char *)z->rq_mem.addr + reg.offsets.tail);
	z->rqes = (struct io_uring_zcrx_rqe *)((char *)z->rq_mem.addr + reg.offsets.rqes);
	z->rq_mask = reg.rq_entries - 1;
	z->rq_tail_local = atomic_load_explicit(z->rq_tail, memory_order_relaxed);
	if (events) {
		z->stats = (const struct ux_zcrx_stats *)((char *)z->rq_mem.addr + stats_off);
		z->event_armed = true;
	}
	z->user_refs = calloc(z->nr_niovs, sizeof(uint32_t));
	z->returns = calloc(z->nr_niovs, sizeof(uint32_t));
	z->pending = calloc(z->nr_niovs, sizeof(uint32_t));
	if (!z->user_refs || !z->returns || !z->pending) {
		/* The ifq lives until the ring closes; only our memory leaks into it. */
		ret = -ENOMEM;
		goto err;
	}
	*out = z;
	return 0;
err:
	free_zcrx(z);
	return ret;
}

void uringx_zcrx_destroy(struct uringx_zcrx *zcrx)
{
	if (!zcrx)
		return;
	if (zcrx->tx_slot >= 0) {
		struct iovec empty = { 0 };

		/* Sends still in flight keep the binding; a closed ring has none. */
		io_uring_register_buffers_update_tag(zcrx->ring, (unsigned int)zcrx->tx_slot, &empty,
						     NULL, 1);
	}
	free_zcrx(zcrx);
}

void uringx_zcrx_prep_recv(const struct uringx_zcrx *zcrx, struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_rw(IORING_OP_RECV_ZC, sqe, fd, NULL, 0, 0);
	sqe->ioprio |= IORING_RECV_MULTISHOT;
	sqe->zcrx_ifq_idx = zcrx->id;
}

int uringx_zcrx_decode(struct uringx_zcrx *zcrx, const struct io_uring_cqe *cqe,
		       struct uringx_rx_view *view, struct uringx_rx_event *ev)
{
	int res = cqe->res;

	memset(ev, 0, sizeof(*ev));
	if (res > 0) {
		const struct io_uring_zcrx_cqe *rcqe = (const struct io_uring_zcrx_cqe *)(cqe + 1);
		uint64_t off = rcqe->off & ~IORING_ZCRX_AREA_MASK;
		uint32_t niov;

		if ((rcqe->off & IORING_ZCRX_AREA_MASK) != zcrx->area_token ||
		    off + (uint64_t)res > zcrx->area.len)
			return -EPROTO;
		niov = (uint32_t)(off >> zcrx->buf_shift);
		zcrx->user_refs[niov]++;
		zcrx->outstanding++;
		if (root_of(zcrx)->shared)
			atomic_fetch_add_explicit(&root_of(zcrx)->shared_held, 1,
						  memory_order_relaxed);
		view->data = (const char *)zcrx->area.addr + off;
		view->len = (uint32_t)res;
		view->token = token_make(zcrx->tag, 0, niov);
		ev->nr_views = 1;
		ev->bytes = (uint32_t)res;
	}
	rx_outcome(ev, res, cqe->flags, res == -ENOMEM || res == -ENOSPC || res == -ENOBUFS);
	return 0;
}

int uringx_zcrx_release(struct uringx_zcrx *zcrx, uint64_t token)
{
	uint32_t niov = token_index(token);

	if (!zcrx || token_tag(token) != zcrx->tag || token_gen(token) || niov >= zcrx->nr_niovs)
		return -EINVAL;
	if (!zcrx->user_refs[niov])
		return -EALREADY;
	zcrx->user_refs[niov]--;
	zcrx->outstanding--;
	/* One refill entry returns one user reference. */
	if (!zcrx->returns[niov]++)
		zcrx->pending[zcrx->nr_pending++] = niov;
	zcrx->pending_refs++;
	if (zcrx->nr_pending >= REFILL_BATCH)
		uringx_zcrx_flush(zcrx);
	return 0;
}

static int flush_rq_ctrl(struct uringx_zcrx *zcrx)
{
	struct zcrx_ctrl ctrl;

	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.zcrx_id = zcrx->id;
	ctrl.op = UX_ZCRX_CTRL_FLUSH_RQ;
	return io_uring_register_zcrx_ctrl(zcrx->ring, &ctrl);
}

/* Publish what fits in the refill ring; the caller holds rq_lock if shared. */
static uint32_t publish(struct uringx_zcrx *zcrx, bool shared)
{
	uint32_t head, tail, published = 0;

	head = atomic_load_explicit(zcrx->rq_head, memory_order_acquire);
	/* Shared: other sharers move the tail too; only writers hold the lock. */
	tail = shared ? atomic_load_explicit(zcrx->rq_tail, memory_order_relaxed) :
			zcrx->rq_tail_local;
	while (zcrx->nr_pending && tail - head <= zcrx->rq_mask) {
		uint32_t niov = zcrx->pending[zcrx->nr_pending - 1];
		struct io_uring_zcrx_rqe *rqe = &zcrx->rqes[tail & zcrx->rq_mask];

		rqe->off = zcrx->area_token | ((uint64_t)niov << zcrx->buf_shift);
		rqe->len = 1u << zcrx->buf_shift;
		rqe->__pad = 0;
		tail++;
		zcrx->pending_refs--;
		published++;
		if (!--zcrx->returns[niov])
			zcrx->nr_pending--;
	}
	zcrx->rq_tail_local = tail;
	atomic_store_explicit(zcrx->rq_tail, tail, memory_order_release);
	return published;
}

int uringx_zcrx_flush(struct uringx_zcrx *zcrx)
{
	struct uringx_zcrx *root = root_of(zcrx);
	uint32_t published = 0, n;
	int ret;

	for (int round = 0; round < 2 && zcrx->nr_pending; round++) {
		if (root->shared) {
			pthread_mutex_lock(&root->rq_lock);
			n = publish(zcrx, true);
			pthread_mutex_unlock(&root->rq_lock);
			atomic_fetch_sub_explicit(&root->shared_held, n, memory_order_relaxed);
		} else {
			n = publish(zcrx, false);
		}
		published += n;
		/* Without a NIC nobody polls the refill ring: ask the kernel to take it. */
		if (zcrx->nodev || zcrx->nr_pending) {
			ret = flush_rq_ctrl(zcrx);
			if (ret < 0 && zcrx->nodev)
				return ret;
		}
	}
	return (int)published;
}

void uringx_zcrx_get_stats(const struct uringx_zcrx *zcrx, struct uringx_zcrx_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->events = zcrx->events;
	if (!zcrx->stats)
		return;
	out->kernel_counts = true;
	out->copy_count = __atomic_load_n(&zcrx->stats->copy_count, __ATOMIC_RELAXED);
	out->copy_bytes = __atomic_load_n(&zcrx->stats->copy_bytes, __ATOMIC_RELAXED);
}

bool uringx_zcrx_is_event(struct uringx_zcrx *zcrx, const struct io_uring_cqe *cqe)
{
	struct zcrx_ctrl ctrl;
	uint32_t type = UX_ZCRX_EVENT_COPY;

	if (!zcrx->event_armed || cqe->user_data != zcrx->event_user_data)
		return false;
	zcrx->events++;
	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.zcrx_id = zcrx->id;
	ctrl.op = UX_ZCRX_CTRL_ARM_EVENT;
	memcpy(&ctrl.zc_flush, &type, sizeof(type));	/* zcrx_ctrl_arm_event.event_type */
	(void)io_uring_register_zcrx_ctrl(zcrx->ring, &ctrl);
	return true;
}

bool uringx_zcrx_nodev(const struct uringx_zcrx *zcrx)
{
	return zcrx->nodev;
}

uint32_t uringx_zcrx_id(const struct uringx_zcrx *zcrx)
{
	return zcrx->id;
}

uint32_t uringx_zcrx_rx_buf_len(const struct uringx_zcrx *zcrx)
{
	return 1u << zcrx->buf_shift;
}

const void *uringx_zcrx_area(const struct uringx_zcrx *zcrx, uint64_t *len)
{
	if (len)
		*len = zcrx->area.len;
	return zcrx->area.addr;
}

int uringx_zcrx_dmabuf_fd(const struct uringx_zcrx *zcrx)
{
	const struct uringx_zcrx *root = zcrx->owner ? zcrx->owner : zcrx;

	return root->dmabuf_fd;
}

int uringx_zcrx_bind_tx(struct uringx_zcrx *zcrx, const char *ifname, uint16_t buf_index,
			enum uringx_reason *reason)
{
	struct ux_net_tx_buf reg = { 0 };
	enum uringx_reason why = URINGX_REASON_OTHER;
	int dmabuf_fd, ret = -EINVAL;

	if (!zcrx || !ifname)
		goto out;
	dmabuf_fd = uringx_zcrx_dmabuf_fd(zcrx);
	if (dmabuf_fd < 0) {
		why = URINGX_REASON_AREA_NOT_DMABUF;
		goto out;
	}
	if (zcrx->tx_slot >= 0) {
		ret = -EALREADY;
		goto out;
	}
	reg.ifindex = if_nametoindex(ifname);
	if (!reg.ifindex) {
		why = URINGX_REASON_NO_SUCH_DEVICE;
		ret = -ENODEV;
		goto out;
	}
	reg.dmabuf_fd = (uint32_t)dmabuf_fd;
	reg.buf_index = buf_index;
	ret = io_uring_register(zcrx->ring->ring_fd, UX_IORING_REGISTER_NET_TX_BUF, &reg, 1);
	if (ret < 0) {
		/* -ENXIO (no buffer table) and -EBUSY (slot taken) are "other". */
		why = nic_register_reason(ret);
		goto out;
	}
	zcrx->tx_slot = buf_index;
	why = URINGX_REASON_NONE;
	ret = 0;
out:
	if (reason)
		*reason = why;
	return ret;
}

int uringx_zcrx_tx_slot(const struct uringx_zcrx *zcrx)
{
	return zcrx->tx_slot;
}

int uringx_zcrx_prep_send(const struct uringx_zcrx *zcrx, struct io_uring_sqe *sqe, int fd,
			  const void *data, size_t len, int msg_flags)
{
	const struct uringx_zcrx *root = zcrx->owner ? zcrx->owner : zcrx;
	const char *base = root->area.addr, *p = data;

	if (zcrx->tx_slot < 0 || !len || p < base || len > root->area.len ||
	    (size_t)(p - base) > root->area.len - len)
		return -EINVAL;
	/* The slot's addresses are offsets into the dma-buf, which is the area. */
	io_uring_prep_send_zc_fixed(sqe, fd, (void *)(uintptr_t)(p - base), len, msg_flags,
				    IORING_SEND_ZC_REPORT_USAGE, (unsigned int)zcrx->tx_slot);
	return 0;
}

uint32_t uringx_zcrx_outstanding(const struct uringx_zcrx *zcrx)
{
	return zcrx->outstanding;
}

uint32_t uringx_zcrx_nr_bufs(const struct uringx_zcrx *zcrx)
{
	return zcrx->nr_niovs;
}

uint32_t uringx_zcrx_available(const struct uringx_zcrx *zcrx)
{
	const struct uringx_zcrx *root = zcrx->owner ? zcrx->owner : zcrx;
	uint32_t held = root->shared ?
		atomic_load_explicit(&((struct uringx_zcrx *)root)->shared_held,
				     memory_order_relaxed) :
		zcrx->outstanding + zcrx->pending_refs;

	return held >= zcrx->nr_niovs ? 0 : zcrx->nr_niovs - held;
}

int uringx_zcrx_export(struct uringx_zcrx *zcrx, struct uringx_zcrx_share *out,
		       enum uringx_reason *reason)
{
	struct uringx_zcrx *root;
	struct zcrx_ctrl ctrl;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!zcrx || !out)
		return -EINVAL;
	out->fd = -1;
	out->owner = NULL;
	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.zcrx_id = zcrx->id;
	ctrl.op = ZCRX_CTRL_EXPORT;
	ret = io_uring_register_zcrx_ctrl(zcrx->ring, &ctrl);
	if (ret < 0) {
		if (reason)
			*reason = zcrx_share_supported() ? URINGX_REASON_OTHER :
							   URINGX_REASON_KERNEL_NO_ZCRX_SHARE;
		return ret;
	}
	root = root_of(zcrx);
	if (!root->shared) {
		/* Only the owner's thread gets here: nobody else has the ifq yet. */
		atomic_store_explicit(&root->shared_held, root->outstanding + root->pending_refs,
				      memory_order_relaxed);
		root->rq_tail_local = atomic_load_explicit(root->rq_tail, memory_order_relaxed);
		root->shared = true;
	}
	atomic_fetch_add(&root->refs, 1);
	out->fd = (int)ctrl.zc_export.zcrx_fd;
	out->owner = root;
	return 0;
}

void uringx_zcrx_share_drop(struct uringx_zcrx_share *share)
{
	if (!share || !share->owner)
		return;
	if (share->fd >= 0)
		close(share->fd);
	put_owner(share->owner);
	share->fd = -1;
	share->owner = NULL;
}

int uringx_zcrx_import(struct io_uring *ring, struct uringx_zcrx_share *share,
		       struct uringx_zcrx **out, enum uringx_reason *reason)
{
	struct io_uring_zcrx_ifq_reg reg = { 0 };
	struct uringx_zcrx *owner, *z;
	int ret;

	if (reason)
		*reason = URINGX_REASON_NONE;
	if (!ring || !share || !share->owner || share->fd < 0 || !out)
		return -EINVAL;
	if (!(ring->flags & IORING_SETUP_DEFER_TASKRUN) || !ring_has_big_cqes(ring)) {
		if (reason)
			*reason = URINGX_REASON_KERNEL_RING_FLAGS;
		return -EINVAL;
	}
	owner = share->owner;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->user_refs = calloc(owner->nr_niovs, sizeof(uint32_t));
	z->returns = calloc(owner->nr_niovs, sizeof(uint32_t));
	z->pending = calloc(owner->nr_niovs, sizeof(uint32_t));
	if (!z->user_refs || !z->returns || !z->pending) {
		free_counts(z);
		free(z);
		return -ENOMEM;
	}

	reg.if_idx = (uint32_t)share->fd;	/* the exported ifq's descriptor */
	reg.flags = ZCRX_REG_IMPORT;
	ret = io_uring_register_ifq(ring, &reg);
	if (ret < 0) {
		if (reason)
			*reason = zcrx_share_supported() ? URINGX_REASON_OTHER :
							   URINGX_REASON_KERNEL_NO_ZCRX_SHARE;
		free_counts(z);
		free(z);
		return ret;
	}
	z->ring = ring;
	z->owner = owner;	/* the share's reference */
	z->id = reg.zcrx_id;
	z->tag = token_new_tag();
	z->area = owner->area;	/* not unmapped by free_zcrx(): the owner's */
	z->memfd = z->dmabuf_fd = -1;
	z->tx_slot = -1;
	z->rq_head = owner->rq_head;
	z->rq_tail = owner->rq_tail;
	z->rqes = owner->rqes;
	z->rq_mask = owner->rq_mask;
	z->area_token = owner->area_token;
	z->buf_shift = owner->buf_shift;
	z->nr_niovs = owner->nr_niovs;
	z->nodev = owner->nodev;
	z->stats = owner->stats;	/* the ifq's counters, for every sharer */
	close(share->fd);
	share->fd = -1;
	share->owner = NULL;
	*out = z;
	return 0;
}

bool uringx_zcrx_shared(const struct uringx_zcrx *zcrx)
{
	return zcrx->owner || zcrx->shared;
}
