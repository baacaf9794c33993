/* SPDX-License-Identifier: MIT */
/* What a receive CQE means for its stream, shared by both receive paths. */
#ifndef URINGX_SRC_RX_OUTCOME_H
#define URINGX_SRC_RX_OUTCOME_H

#include <errno.h>
#include <stdbool.h>

#include <liburing.h>
#include <uringx/rxview.h>

/*
 * rx_outcome - set @ev's outcome for a CQE with @res and @flags. @res is
 * "out of buffers" for this source when @out_of_buffers says so (ENOBUFS
 * for buffer rings; the zcrx copy path also reports ENOMEM or ENOSPC).
 */
static inline void rx_outcome(struct uringx_rx_event *ev, int res, unsigned int flags,
			      bool out_of_buffers)
{
	if (flags & IORING_CQE_F_MORE)
		ev->armed = true;
	else if (res > 0)
		ev->rearm = true;
	else if (res == 0)
		ev->eof = true;
	else if (out_of_buffers)
		ev->rearm = ev->out_of_buffers = true;
	else
		ev->error = res;
}

#endif
