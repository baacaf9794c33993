/* SPDX-License-Identifier: MIT */
/* zcnet-bench results: one row per (workload, configuration, strategy). */
#ifndef ZCNET_BENCH_REPORT_H
#define ZCNET_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum workload {
	WL_STREAM,	/* receive strategies, IORING_OP_SEND load */
	WL_STREAM_TX,	/* send variants into the baseline receiver */
	WL_RPC,
	WL_PINGPONG,
	WL_COUNT,
};

struct spread {
	double median, min, max;
};

struct row {
	enum workload workload;
	const char *strategy;		/* receive strategy */
	const char *sender;		/* stream: how the load side sends */
	int conns;
	uint32_t msg_size, depth;	/* RPC, ping-pong */
	bool ran;
	bool verified;			/* every byte checked and none wrong */
	char reason[256];		/* skipped: why; failed: what */
	char detail[96];		/* mechanism actually used */
	int trials;
	struct spread value;		/* Gbit/s, req/s, or p50 microseconds */
	double p99_us, p999_us;		/* ping-pong */
	double ratio;			/* vs the IORING_OP_RECV baseline; <0: none */
	/*
	 * Paired: the baseline ran in the same cell, interleaved trial by trial,
	 * and ratio is the median of the per-round ratios, ratio_pairs their
	 * spread, ratio_ci95 the 95 % confidence half-width of their mean,
	 * relative to it (<0: fewer than 2 rounds); cpu_ratio the median of the
	 * per-round server CPU ratios (row/baseline, <1 is cheaper; <0: none).
	 */
	bool paired;
	struct spread ratio_pairs;
	double ratio_mean;
	double ratio_ci95;
	double cpu_ratio;
	/* Per GB (stream) or per request (RPC, ping-pong), from the median trial. */
	double server_cpu, process_cpu, sender_cpu;
	double syscalls;		/* per MB (stream) or per request */
	double cqes_per_mb;
	int64_t rx_copied;		/* zcrx: bytes the kernel copied; -1: not reported */
	int64_t tx_zc_bytes, tx_zc_copied;	/* SEND_ZC notifications; -1: n/a */
	double tx_dma_maps_per_mb;	/* sender device's per-packet DMA maps; -1: not measured */
	int64_t rx_out_of_buffers;	/* receives stopped for want of a buffer; -1: n/a */
	uint64_t bytes;			/* verified payload over all trials */
};

struct header {
	char kernel[128];
	char cpu_model[96];
	int cpus;
	char pinning[64];
	char liburing[16];
	char build[64];
	char date[32];
	bool quick;
	int trials;
	double verdict;			/* --verdict PCT, 0: none */
	unsigned int pbuf_bufs;		/* 16 KiB buffers in the pbuf strategies' ring */
	unsigned int threads;		/* server threads (--threads) */
};

const char *workload_name(enum workload w);
/* Unit of row.value and whether larger is better. */
const char *workload_metric(enum workload w);

/*
 * After the table: for each paired row, whether it is faster or slower than
 * the baseline beyond its 95 % interval, a tie, or undecided (interval wider
 * than +-@pct %).
 */
void report_verdicts(FILE *out, const struct row *rows, int n, double pct);
void report_table(FILE *out, const struct header *h, const struct row *rows, int n,
		  const char *const *strategies, const char *const *strategy_reasons, int nr_strategies);
int report_json(const char *path, const struct header *h, const struct row *rows, int n,
		const char *const *strategies, const char *const *strategy_reasons, int nr_strategies);
int report_csv(const char *path, const struct row *rows, int n);
int report_svg(const char *path, const struct header *h, const struct row *rows, int n);

#endif
