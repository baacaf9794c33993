/* SPDX-License-Identifier: MIT */
/* Anonymous memory regions for buffers the kernel pins. */
#ifndef URINGX_SRC_MEMORY_H
#define URINGX_SRC_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum region_kind {
	REGION_AUTO,		/* hugetlb if pages are reserved, else normal */
	REGION_HUGETLB,
	REGION_PAGES,
};

struct region {
	void *addr;
	size_t len;
	bool hugetlb;
};

#define HUGE_PAGE_SIZE (2u << 20)

/* region_map - map @len bytes (rounded up to the page size). 0 or -errno. */
int region_map(struct region *r, uint64_t len, enum region_kind kind);
void region_unmap(struct region *r);

/* True if pinning @len more bytes would exceed RLIMIT_MEMLOCK for us. */
bool region_exceeds_memlock(size_t len);

#endif
