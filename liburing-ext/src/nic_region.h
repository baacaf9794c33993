/* SPDX-License-Identifier: MIT */
/*
 * Memory the NIC has DMA-mapped once for transmission: a udmabuf over a
 * sealed memfd, registered with IORING_REGISTER_NET_TX_BUF into a slot of
 * the ring's sparse buffer table. Shared by nictx.c and bufpool.c.
 */
#ifndef URINGX_SRC_NIC_REGION_H
#define URINGX_SRC_NIC_REGION_H

#include <stddef.h>
#include <stdint.h>

#include <liburing.h>
#include <uringx/error.h>

struct nic_region {
	void *base;		/* CPU view (the memfd, mapped shared) */
	size_t len;
	int memfd;
	int dmabuf_fd;
	uint32_t dmabuf_id;	/* the kernel's devmem binding */
	unsigned int ifindex;
};

/*
 * nic_region_map - @len bytes (a page multiple) mapped for TX by @ifname and
 * installed in the empty slot @slot. Errors as uringx_nictx_create(), with
 * *@reason set.
 */
int nic_region_map(struct nic_region *r, struct io_uring *ring, const char *ifname,
		   size_t len, uint16_t slot, enum uringx_reason *reason);

/* nic_region_unmap - the CPU view and the fds; the caller clears the slot. */
void nic_region_unmap(struct nic_region *r);

/* The reason for a failed IORING_REGISTER_NET_TX_BUF. */
enum uringx_reason nic_register_reason(int err);

#endif
