/* SPDX-License-Identifier: MIT */
/*
 * Tokens identify a chunk, buffer view or zcrx buffer to the object that
 * issued it: [tag:16][generation:16][index:32]. The tag is per object, so a
 * token released into the wrong pool is caught; the generation catches a
 * stale token after the slot was recycled.
 */
#ifndef URINGX_SRC_TOKEN_H
#define URINGX_SRC_TOKEN_H

#include <stdint.h>

static inline uint64_t token_make(uint16_t tag, uint16_t gen, uint32_t index)
{
	return ((uint64_t)tag << 48) | ((uint64_t)gen << 32) | index;
}

static inline uint16_t token_tag(uint64_t token)
{
	return (uint16_t)(token >> 48);
}

static inline uint16_t token_gen(uint64_t token)
{
	return (uint16_t)(token >> 32);
}

static inline uint32_t token_index(uint64_t token)
{
	return (uint32_t)token;
}

/* A fresh non-zero tag for a new object. */
uint16_t token_new_tag(void);

#endif
