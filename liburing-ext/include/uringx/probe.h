/* SPDX-License-Identifier: MIT */
/*
 * uringx/probe.h - what the running kernel (and a given NIC queue) supports.
 *
 * Every answer comes from asking the kernel: opcode probes, ring setups with
 * each flag, a real multishot receive and accept on loopback, the io_uring
 * query interface, and for a NIC queue a real zcrx registration that is torn
 * down again. Nothing is inferred from version numbers.
 */
#ifndef URINGX_PROBE_H
#define URINGX_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include <uringx/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_probe {
	char kernel_release[65];	/* uname -r */
	bool io_uring;			/* io_uring_setup() works */

	/* Opcodes (IORING_REGISTER_PROBE), and the multishot forms tried live. */
	bool op_recv_zc;
	bool op_send_zc;
	bool op_sendmsg_zc;
	bool recv_multishot;
	bool accept_multishot;
	/*
	 * Plain (copying) IORING_OP_SEND and IORING_OP_RECV on a registered
	 * buffer, IORING_RECVSEND_FIXED_BUF (Linux 7.x), tried live.
	 */
	bool send_recv_fixed_buf;

	/* Ring setup flags, each tried with io_uring_queue_init_params(). */
	bool setup_defer_taskrun;	/* with SINGLE_ISSUER, as the kernel requires */
	bool setup_single_issuer;
	bool setup_cqe32;
	bool setup_cqe_mixed;		/* 16-byte CQEs, 32 only where needed (6.18) */

	/* Provided-buffer rings. */
	bool recv_bundle;		/* IORING_FEAT_RECVSEND_BUNDLE */
	bool pbuf_ring_inc;		/* IOU_PBUF_RING_INC accepted */

	/* zcrx (io_uring zero-copy receive). */
	bool zcrx_query;		/* IORING_REGISTER_QUERY answers IO_URING_QUERY_ZCRX */
	bool zcrx_nodev;		/* ZCRX_REG_NODEV: copy mode without a NIC */
	bool zcrx_event;		/* ZCRX_FEATURE_EVENT: copy counters and events */
	bool zcrx_rx_page_size;		/* ZCRX_FEATURE_RX_PAGE_SIZE */
	bool zcrx_share;		/* ifqs shared between rings (export/import) */
	enum uringx_reason zcrx_nodev_reason;	/* why zcrx_nodev is false */
};

/*
 * uringx_probe_kernel - fill @out with what the running kernel supports.
 * Needs no privilege; opens loopback sockets on 127.0.0.1 for the live
 * multishot checks. Returns 0, or -errno if even the probe could not run.
 */
int uringx_probe_kernel(struct uringx_probe *out);

/* Header/data split state of a device, as ethtool netlink reports it. */
enum uringx_hds_state {
	URINGX_HDS_UNKNOWN = 0,		/* could not ask (no ethtool netlink) */
	URINGX_HDS_UNSUPPORTED,		/* device reports no ring parameters / no HDS */
	URINGX_HDS_DISABLED,
	URINGX_HDS_ENABLED,
};

struct uringx_zcrx_verdict {
	bool usable;			/* a zcrx ifq registered on that queue */
	int err;			/* 0 or the negative errno of the attempt */
	enum uringx_reason reason;	/* why not usable */
	unsigned int ifindex;		/* 0 if no such device */
	unsigned int rx_queues;		/* rx queues the device has */
	bool has_parent_device;		/* /sys/class/net/IF/device exists */
	enum uringx_hds_state hds;	/* tcp-data-split */
	uint32_t hds_thresh;		/* hds-thresh, when reported */
	bool hds_thresh_known;
	unsigned int rx_buf_len;	/* buffer size the kernel chose, if usable */
};

/*
 * uringx_probe_zcrx - can io_uring zcrx bind rx queue @queue of @ifname?
 *
 * Tries a real registration (ring with DEFER_TASKRUN|SINGLE_ISSUER|CQE32,
 * a small area, IORING_REGISTER_ZCRX_IFQ) and tears it down at once, then
 * explains a failure with the device's facts (parent device, queue count,
 * header/data split). Needs CAP_NET_ADMIN to succeed; without it the verdict
 * says URINGX_REASON_NOT_PERMITTED.
 * Returns 0 when @out was filled (usable or not), -EINVAL on bad arguments.
 */
int uringx_probe_zcrx(const char *ifname, unsigned int queue,
		      struct uringx_zcrx_verdict *out);

/* uringx_hds_state_name - "enabled", "disabled", "unsupported", "unknown". */
const char *uringx_hds_state_name(enum uringx_hds_state state);

#ifdef __cplusplus
}
#endif
#endif
