// SPDX-License-Identifier: MIT
/* Reasons and error strings. */
#include <limits.h>
#include <string.h>

#include <uringx/error.h>

static const struct {
	const char *name;
	const char *text;
} reasons[URINGX_REASON__COUNT] = {
	[URINGX_REASON_NONE] = { "none", "no problem" },
	[URINGX_REASON_KERNEL_NO_IO_URING] = { "kernel_no_io_uring",
		"kernel has no io_uring (or it is disabled by io_uring_disabled sysctl / seccomp)" },
	[URINGX_REASON_KERNEL_NO_RECV_ZC] = { "kernel_no_recv_zc",
		"kernel lacks IORING_OP_RECV_ZC (zcrx needs Linux >= 6.15 with CONFIG_IO_URING_ZCRX)" },
	[URINGX_REASON_KERNEL_NO_SEND_ZC] = { "kernel_no_send_zc",
		"kernel lacks IORING_OP_SEND_ZC (needs Linux >= 6.0)" },
	[URINGX_REASON_KERNEL_NO_NODEV] = { "kernel_no_nodev",
		"kernel's zcrx lacks ZCRX_REG_NODEV copy mode (needs a newer kernel, e.g. Linux 7.3)" },
	[URINGX_REASON_KERNEL_RING_FLAGS] = { "kernel_ring_flags",
		"the ring lacks IORING_SETUP_DEFER_TASKRUN/SINGLE_ISSUER and 32-byte CQEs (CQE32 or CQE_MIXED), which zcrx requires" },
	[URINGX_REASON_KERNEL_NO_PBUF_INC] = { "kernel_no_pbuf_inc",
		"kernel lacks incremental buffer rings (IOU_PBUF_RING_INC, Linux >= 6.12)" },
	[URINGX_REASON_KERNEL_NO_BUNDLE] = { "kernel_no_bundle",
		"kernel lacks receive bundles (IORING_FEAT_RECVSEND_BUNDLE, Linux >= 6.10)" },
	[URINGX_REASON_NO_IFNAME] = { "no_ifname",
		"no NIC queue was named: zcrx binds one rx queue of a NIC (give its interface and queue)" },
	[URINGX_REASON_NO_SUCH_DEVICE] = { "no_such_device",
		"no network interface of that name in this network namespace" },
	[URINGX_REASON_NO_SUCH_QUEUE] = { "no_such_queue",
		"the interface has no rx queue of that index" },
	[URINGX_REASON_VIRTUAL_DEVICE] = { "virtual_device",
		"virtual interface (no parent device): no DMA device and no hardware rx queues to bind" },
	[URINGX_REASON_NO_QUEUE_API] = { "no_queue_api",
		"driver has no DMA device or queue management ops for its rx queues (no zcrx support)" },
	[URINGX_REASON_HDS_UNSUPPORTED] = { "hds_unsupported",
		"NIC lacks header/data split (ethtool reports no tcp-data-split)" },
	[URINGX_REASON_HDS_OFF] = { "hds_off",
		"header/data split is off: ethtool -G IFNAME tcp-data-split on" },
	[URINGX_REASON_HDS_THRESHOLD] = { "hds_threshold",
		"header/data split threshold is not 0: ethtool -G IFNAME hds-thresh 0" },
	[URINGX_REASON_HDS_UNCONFIGURED] = { "hds_unconfigured",
		"the driver reports header/data split by default, but binding needs it configured: ethtool -G IFNAME tcp-data-split on" },
	[URINGX_REASON_QUEUE_BUSY] = { "queue_busy",
		"the rx queue already has a memory provider or XDP program bound" },
	[URINGX_REASON_NOT_PERMITTED] = { "not_permitted",
		"not permitted: zcrx registration needs CAP_NET_ADMIN" },
	[URINGX_REASON_MEMLOCK] = { "memlock",
		"RLIMIT_MEMLOCK too small to pin the buffers: raise it (ulimit -l, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK" },
	[URINGX_REASON_NO_MEMORY] = { "no_memory", "out of memory" },
	[URINGX_REASON_FORCED] = { "forced", "another mechanism was requested explicitly" },
	[URINGX_REASON_OTHER] = { "other", "failed; see the errno" },
	[URINGX_REASON_KERNEL_NO_NET_TX_BUF] = { "kernel_no_net_tx_buf",
		"kernel lacks IORING_REGISTER_NET_TX_BUF (NIC-registered TX pools: Linux 7.3 with zcnet's kernel/patches)" },
	[URINGX_REASON_NO_NETMEM_TX] = { "no_netmem_tx",
		"the driver does not transmit from device memory (netmem TX), or the kernel lacks CONFIG_NET_DEVMEM" },
	[URINGX_REASON_NO_UDMABUF] = { "no_udmabuf",
		"/dev/udmabuf is missing (CONFIG_UDMABUF) or not accessible: no dma-buf over ordinary memory" },
	[URINGX_REASON_ROUTE_OTHER_DEVICE] = { "route_other_device",
		"the socket's route leaves through another interface than the one the pool is mapped for" },
	[URINGX_REASON_NO_RSS] = { "no_rss",
		"the device reports no RSS key or indirection table (no multi-queue receive hashing)" },
	[URINGX_REASON_NO_NTUPLE] = { "no_ntuple",
		"the device has no ntuple rx flow rules, or they are off (ethtool -K IF ntuple on)" },
	[URINGX_REASON_KERNEL_NO_ZCRX_SHARE] = { "kernel_no_zcrx_share",
		"kernel cannot share a zcrx ifq between rings (lacks ZCRX_CTRL_EXPORT / ZCRX_REG_IMPORT; Linux 7.3 has them)" },
	[URINGX_REASON_NO_NAPI] = { "no_napi",
		"the socket's packets did not arrive through a NAPI instance of that device's rx queues (loopback, another device, or no packet yet)" },
	[URINGX_REASON_KERNEL_NO_RX_BUF_LEN] = { "kernel_no_rx_buf_len",
		"kernel's zcrx cannot take rx buffers larger than a page (no ZCRX_FEATURE_RX_PAGE_SIZE; Linux 7.3 has it)" },
	[URINGX_REASON_NO_RX_PAGE_SIZE] = { "no_rx_page_size",
		"the driver does not take rx buffers of that length (it lacks QCFG_RX_PAGE_SIZE or refuses the size); NODEV copy mode has page-size buffers only" },
	[URINGX_REASON_AREA_NOT_CONTIGUOUS] = { "area_not_contiguous",
		"the area is not physically contiguous in rx-buffer-length chunks: back it with huge pages (URINGX_ZCRX_MEM_HUGETLB, vm.nr_hugepages)" },
	[URINGX_REASON_AREA_NOT_DMABUF] = { "area_not_dmabuf",
		"the zcrx area is not a dma-buf, so no NIC can map it for transmission: create it with URINGX_ZCRX_MEM_UDMABUF" },
};

const char *uringx_reason_str(enum uringx_reason reason)
{
	if ((unsigned int)reason >= URINGX_REASON__COUNT)
		return "unknown reason";
	return reasons[reason].text;
}

const char *uringx_reason_name(enum uringx_reason reason)
{
	if ((unsigned int)reason >= URINGX_REASON__COUNT)
		return "unknown";
	return reasons[reason].name;
}

const char *uringx_strerror(int err)
{
	if (err == INT_MIN)
		return "Unknown error";
	if (err < 0)
		err = -err;
	return strerror(err);
}
