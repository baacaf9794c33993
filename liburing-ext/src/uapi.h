/* SPDX-License-Identifier: MIT */
/*
 * Kernel ABI that liburing 2.15's bundled io_uring.h predates (Linux 7.x
 * zcrx events and statistics). Layouts match include/uapi/linux/io_uring/zcrx.h
 * and query.h of Linux 7.3; the kernel rejects them on older kernels, which
 * the probe reports.
 */
#ifndef URINGX_SRC_UAPI_H
#define URINGX_SRC_UAPI_H

#include <stdint.h>


#define UX_ZCRX_FEATURE_RX_PAGE_SIZE	(1u << 0)
#define UX_ZCRX_FEATURE_EVENT		(1u << 1)

#define UX_ZCRX_EVENT_ALLOC_FAIL	0
#define UX_ZCRX_EVENT_COPY		1

#define UX_ZCRX_EVENT_DESC_FLAG_STATS	(1u << 0)

#define UX_ZCRX_CTRL_FLUSH_RQ		0
#define UX_ZCRX_CTRL_ARM_EVENT		2

#define UX_IO_URING_QUERY_ZCRX_EVENT	3

struct ux_zcrx_stats {
	uint64_t copy_count;
	uint64_t copy_bytes;
};

struct ux_zcrx_event_desc {
	uint64_t user_data;
	uint32_t type_mask;
	uint32_t flags;
	uint64_t stats_offset;
	uint64_t resv2[9];
};

struct ux_query_zcrx_event {
	uint32_t event_flags;
	uint32_t stats_size;
	uint32_t stats_off_alignment;
	uint32_t resv1;
	uint64_t resv2[4];
};

/*
 * IORING_REGISTER_NET_TX_BUF: zcnet's kernel/patches against Linux 7.3
 * (include/uapi/linux/io_uring.h of the patched tree); not upstream.
 */
#define UX_IORING_REGISTER_NET_TX_BUF	38

struct ux_net_tx_buf {
	uint32_t dmabuf_fd;
	uint32_t ifindex;
	uint32_t buf_index;
	uint32_t flags;
	uint32_t dmabuf_id;	/* out */
	uint32_t resv1;
	uint64_t size;		/* out */
	uint64_t resv2[2];
};

#endif
