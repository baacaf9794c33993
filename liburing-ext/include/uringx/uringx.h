/* SPDX-License-Identifier: MIT */
/*
 * uringx/uringx.h - liburing-ext: RDMA-style building blocks for kernel TCP
 * over io_uring. Include this for everything.
 */
#ifndef URINGX_URINGX_H
#define URINGX_URINGX_H

#include <uringx/error.h>
#include <uringx/probe.h>
#include <uringx/bufpool.h>
#include <uringx/rxview.h>
#include <uringx/pbufring.h>
#include <uringx/zcrx.h>
#include <uringx/rxsrc.h>
#include <uringx/sendzc.h>
#include <uringx/nictx.h>
#include <uringx/steer.h>

#endif
