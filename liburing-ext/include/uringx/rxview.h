/* SPDX-License-Identifier: MIT */
/*
 * uringx/rxview.h - received data as views into registered memory.
 *
 * Both receive paths (provided-buffer rings and zcrx areas) hand the
 * application views: a pointer into memory registered once, a length, and a
 * token that gives the memory back to its source when released. A view stays
 * valid until it is released, across any number of further receives.
 */
#ifndef URINGX_RXVIEW_H
#define URINGX_RXVIEW_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uringx_rx_view {
	const void *data;
	uint32_t len;
	uint64_t token;		/* pass to the source's release */
};

/*
 * What one receive CQE meant for its stream. Exactly one of the outcomes
 * holds: data with the receive still armed; a receive that ended and must be
 * submitted again (now, or after buffers are released when out_of_buffers);
 * end of stream; or an error. Data can come with the ending (the views are
 * valid in every case).
 */
struct uringx_rx_event {
	uint32_t nr_views;	/* views filled in */
	uint32_t bytes;		/* sum of their lengths */
	bool armed;		/* IORING_CQE_F_MORE: more CQEs will come */
	bool rearm;		/* ended, stream healthy: submit the receive again */
	bool out_of_buffers;	/* with rearm: wait until views are released */
	bool eof;		/* orderly shutdown by the peer */
	int error;		/* negative errno: the stream failed */
};

#ifdef __cplusplus
}
#endif
#endif
