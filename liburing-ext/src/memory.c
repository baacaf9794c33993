// SPDX-License-Identifier: MIT
#include <errno.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memory.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static size_t round_up(uint64_t len, size_t to)
{
	return (size_t)((len + to - 1) / to * to);
}

/*
 * Names the mapping "[anon:uringx]" in /proc/PID/maps, so pools can be found
 * (and counted by leak checks, which LeakSanitizer cannot do for mmap).
 * Best effort: kernels without CONFIG_ANON_VMA_NAME refuse it.
 */
static void name_region(void *addr, size_t len)
{
	(void)prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr, len,
		    (unsigned long)"uringx");
}

int region_map(struct region *r, uint64_t len, enum region_kind kind)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *addr;

	r->addr = NULL;
	r->len = 0;
	r->hugetlb = false;
	if (!len)
		return -EINVAL;

	if (kind != REGION_PAGES) {
		size_t huge_len = round_up(len, HUGE_PAGE_SIZE);

		addr = mmap(NULL, huge_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB |
			    MAP_POPULATE, -1, 0);
		if (addr != MAP_FAILED) {
			name_region(addr, huge_len);
			r->addr = addr;
			r->len = huge_len;
			r->hugetlb = true;
			return 0;
		}
		if (kind == REGION_HUGETLB)
			return -errno;
	}

	len = round_up(len, page);
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return -errno;
	/* Fewer TLB misses on the data path when THP is available; best effort. */
	(void)madvise(addr, len, MADV_HUGEPAGE);
	name_region(addr, len);
	r->addr = addr;
	r->len = len;
	return 0;
}

void region_unmap(struct region *r)
{
	if (r->addr)
		munmap(r->addr, r->len);
	r->addr = NULL;
	r->len = 0;
}

static bool has_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}

bool region_exceeds_memlock(size_t len)
{
	struct rlimit lim;

	if (has_cap_ipc_lock())
		return false;
	if (getrlimit(RLIMIT_MEMLOCK, &lim))
		return false;
	return lim.rlim_cur != RLIM_INFINITY && len > lim.rlim_cur;
}
