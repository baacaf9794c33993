// SPDX-License-Identifier: MIT
/* A udmabuf over a sealed memfd, DMA-mapped once for a NIC's TX. */
#include <errno.h>
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nic_region.h"
#include "uapi.h"

void nic_region_unmap(struct nic_region *r)
{
	if (r->base)
		munmap(r->base, r->len);
	if (r->dmabuf_fd >= 0)
		close(r->dmabuf_fd);
	if (r->memfd >= 0)
		close(r->memfd);
	r->base = NULL;
	r->dmabuf_fd = r->memfd = -1;
}

/* A dma-buf over @r->len bytes of a sealed memfd, and the memfd's CPU view. */
static int create_udmabuf(struct nic_region *r, enum uringx_reason *reason)
{
	struct udmabuf_create create = { 0 };
	int dev, ret;

	r->memfd = memfd_create("uringx-nic-tx", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->memfd < 0)
		return -errno;
	if (ftruncate(r->memfd, (off_t)r->len) ||
	    fcntl(r->memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -errno;
	r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return -errno;
	}

	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		*reason = URINGX_REASON_NO_UDMABUF;
		return -errno;
	}
	create.memfd = (uint32_t)r->memfd;
	create.flags = UDMABUF_FLAGS_CLOEXEC;
	create.offset = 0;
	create.size = r->len;
	ret = ioctl(dev, UDMABUF_CREATE, &create);
	if (ret < 0) {
		ret = -errno;
		close(dev);
		*reason = URINGX_REASON_NO_UDMABUF;
		return ret;
	}
	close(dev);
	r->dmabuf_fd = ret;
	return 0;
}

enum uringx_reason nic_register_reason(int err)
{
	switch (err) {
	case -EINVAL:
		return URINGX_REASON_KERNEL_NO_NET_TX_BUF;
	case -EOPNOTSUPP:
		return URINGX_REASON_NO_NETMEM_TX;
	case -ENODEV:
		return URINGX_REASON_NO_SUCH_DEVICE;
	case -ENOMEM:
		return URINGX_REASON_NO_MEMORY;
	default:
		return URINGX_REASON_OTHER;
	}
}

int nic_region_map(struct nic_region *r, struct io_uring *ring, const char *ifname,
		   size_t len, uint16_t slot, enum uringx_reason *reason)
{
	struct ux_net_tx_buf reg = { 0 };
	int ret;

	memset(r, 0, sizeof(*r));
	r->memfd = r->dmabuf_fd = -1;
	r->len = len;
	*reason = URINGX_REASON_OTHER;
	r->ifindex = if_nametoindex(ifname);
	if (!r->ifindex) {
		*reason = URINGX_REASON_NO_SUCH_DEVICE;
		return -ENODEV;
	}
	ret = create_udmabuf(r, reason);
	if (ret)
		goto err;
	reg.dmabuf_fd = (uint32_t)r->dmabuf_fd;
	reg.ifindex = r->ifindex;
	reg.buf_index = slot;
	ret = io_uring_register(ring->ring_fd, UX_IORING_REGISTER_NET_TX_BUF, &reg, 1);
	if (ret < 0) {
		*reason = nic_register_reason(ret);
		goto err;
	}
	r->dmabuf_id = reg.dmabuf_id;
	*reason = URINGX_REASON_NONE;
	return 0;
err:
	nic_region_unmap(r);
	return ret;
}
