/* SPDX-License-Identifier: MIT */
/*
 * uringx/error.h - error reporting for liburing-ext.
 *
 * Every function returns 0 or a positive count on success and a negative
 * errno on failure, exactly like liburing. Where an errno alone does not say
 * what to fix (EOPNOTSUPP from a zcrx registration, ENOMEM from a buffer
 * registration), the object also records a uringx_reason, readable with
 * uringx_reason_str().
 */
#ifndef URINGX_ERROR_H
#define URINGX_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Why a mechanism is unavailable, beyond the errno. */
enum uringx_reason {
	URINGX_REASON_NONE = 0,
	URINGX_REASON_KERNEL_NO_IO_URING,   /* io_uring_setup() fails */
	URINGX_REASON_KERNEL_NO_RECV_ZC,    /* IORING_OP_RECV_ZC not in the probe */
	URINGX_REASON_KERNEL_NO_SEND_ZC,    /* IORING_OP_SEND_ZC not in the probe */
	URINGX_REASON_KERNEL_NO_NODEV,      /* zcrx lacks ZCRX_REG_NODEV (copy mode) */
	URINGX_REASON_KERNEL_RING_FLAGS,    /* DEFER_TASKRUN or CQE32 unsupported */
	URINGX_REASON_KERNEL_NO_PBUF_INC,   /* IOU_PBUF_RING_INC unsupported */
	URINGX_REASON_KERNEL_NO_BUNDLE,     /* IORING_FEAT_RECVSEND_BUNDLE missing */
	URINGX_REASON_NO_IFNAME,            /* no NIC queue was named */
	URINGX_REASON_NO_SUCH_DEVICE,       /* no interface of that name */
	URINGX_REASON_NO_SUCH_QUEUE,        /* rx queue index out of range */
	URINGX_REASON_VIRTUAL_DEVICE,       /* no parent device: no DMA, no hw queues */
	URINGX_REASON_NO_QUEUE_API,         /* driver lacks DMA device or queue management ops */
	URINGX_REASON_HDS_UNSUPPORTED,      /* driver reports no header/data split */
	URINGX_REASON_HDS_OFF,              /* header/data split supported but off */
	URINGX_REASON_HDS_THRESHOLD,        /* hds-thresh is not 0 */
	URINGX_REASON_HDS_UNCONFIGURED,     /* split reported on but never configured */
	URINGX_REASON_QUEUE_BUSY,           /* XDP or another memory provider on the queue */
	URINGX_REASON_NOT_PERMITTED,        /* needs CAP_NET_ADMIN */
	URINGX_REASON_MEMLOCK,              /* RLIMIT_MEMLOCK too small to pin the memory */
	URINGX_REASON_NO_MEMORY,            /* allocation failed */
	URINGX_REASON_FORCED,               /* the caller forced another mechanism */
	URINGX_REASON_OTHER,                /* see the errno */
	URINGX_REASON_KERNEL_NO_NET_TX_BUF, /* IORING_REGISTER_NET_TX_BUF unknown */
	URINGX_REASON_NO_NETMEM_TX,         /* driver (or kernel) without devmem TX */
	URINGX_REASON_NO_UDMABUF,           /* /dev/udmabuf missing */
	URINGX_REASON_ROUTE_OTHER_DEVICE,   /* the socket's route uses another device */
	URINGX_REASON_NO_RSS,               /* device reports no RSS key or indirection table */
	URINGX_REASON_NO_NTUPLE,            /* device has no (or disabled) ntuple rx rules */
	URINGX_REASON_KERNEL_NO_ZCRX_SHARE, /* no ZCRX_CTRL_EXPORT / ZCRX_REG_IMPORT */
	URINGX_REASON_NO_NAPI,              /* the socket's packets came through no NAPI of the device */
	URINGX_REASON_KERNEL_NO_RX_BUF_LEN, /* zcrx lacks ZCRX_FEATURE_RX_PAGE_SIZE */
	URINGX_REASON_NO_RX_PAGE_SIZE,      /* driver (or NODEV mode) refuses that rx buffer length */
	URINGX_REASON_AREA_NOT_CONTIGUOUS,  /* area not physically contiguous per rx buffer */
	URINGX_REASON_AREA_NOT_DMABUF,      /* zcrx area is not a dma-buf (URINGX_ZCRX_MEM_UDMABUF) */
	URINGX_REASON__COUNT
};

/*
 * uringx_reason_str - one sentence naming the cause and, where there is one,
 * the fix. Never NULL; the string is static.
 */
const char *uringx_reason_str(enum uringx_reason reason);

/*
 * uringx_reason_name - short stable identifier of @reason ("hds_off", ...)
 * for machine-readable output such as uringx-probe --json.
 */
const char *uringx_reason_name(enum uringx_reason reason);

/*
 * uringx_strerror - strerror() for the negative errnos returned by this
 * library (pass -EINVAL or EINVAL, both work). Never NULL; the string is
 * static.
 */
const char *uringx_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
