// SPDX-License-Identifier: MIT
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "token.h"

uint16_t token_new_tag(void)
{
	static _Atomic uint32_t next;
	uint32_t seed = atomic_fetch_add(&next, 1);
	uint16_t tag;

	/* Differ across processes and objects; never 0 (an all-zero token is never valid). */
	seed = seed * 2654435761u ^ (uint32_t)getpid() * 40503u ^ (uint32_t)time(NULL);
	tag = (uint16_t)(seed ^ (seed >> 16));
	return tag ? tag : 1;
}
