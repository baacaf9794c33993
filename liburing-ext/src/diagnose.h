/* SPDX-License-Identifier: MIT */
/* Facts about the kernel's zcrx and a device's rx queues, for error reasons. */
#ifndef URINGX_SRC_DIAGNOSE_H
#define URINGX_SRC_DIAGNOSE_H

#include <liburing.h>
#include <uringx/probe.h>

#include "uapi.h"

/*
 * zcrx_query - IO_URING_QUERY_ZCRX (and ZCRX_EVENT when the kernel has it).
 * 0, or -errno when the kernel has no query interface (q zeroed).
 */
int zcrx_query(struct io_uring_query_zcrx *q, struct ux_query_zcrx_event *qe);

/* zcrx_share_supported - the kernel exports and imports ifqs (ZCRX_CTRL_EXPORT, ZCRX_REG_IMPORT). */
bool zcrx_share_supported(void);

/*
 * device_facts - fill the device part of @v (ifindex, queues, parent device,
 * header/data split) for @ifname.
 */
void device_facts(const char *ifname, struct uringx_zcrx_verdict *v);

/*
 * zcrx_diagnose - why registering zcrx on @ifname/@queue failed with @err.
 * Fills @v's device facts when @v is non-NULL.
 */
enum uringx_reason zcrx_diagnose(const char *ifname, unsigned int queue, int err,
				 struct uringx_zcrx_verdict *v);

/*
 * probe_send_recv_fixed_buf - plain IORING_OP_SEND and IORING_OP_RECV take a
 * registered buffer (IORING_RECVSEND_FIXED_BUF), tried live on a socketpair.
 */
bool probe_send_recv_fixed_buf(void);

#endif
