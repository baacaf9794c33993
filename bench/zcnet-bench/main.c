// SPDX-License-Identifier: MIT
/*
 * zcnet-bench - the project's main comparison: socket-API servers (blocking,
 * epoll), io_uring the classic way (plain IORING_OP_RECV, the baseline;
 * registered buffers) and the RDMA-concept way (multishot receive into
 * provided-buffer rings, bundles, incremental consumption, zcrx; the zcnet
 * coroutine layer), over the same loopback TCP connections, in one run.
 *
 * Workloads: stream (1 and 8 connections; plus the send variants), RPC echo
 * (64/512 connections x 64/512/4096 bytes x depth 1/16) and ping-pong
 * latency (64 B, 4 KiB). Every byte is verified; a strategy that cannot run
 * here is listed with the reason.
 *
 * usage: zcnet-bench [--quick] [--trials N] [--json F] [--csv F] [--chart F.svg]
 *                    [--workloads LIST] [--strategies LIST] [--zcrx-ifname IF]
 *                    [--zcrx-queue N] [--zcrx-buf-len BYTES] [--threads N] [--list]
 *
 * --threads N: N server threads, each serving its share of the connections
 * with its own ring and pool (a ring per thread); CPU per request or per GB
 * is the sum over them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "report.h"

#ifndef ZCNET_BUILD_TYPE
#define ZCNET_BUILD_TYPE "unknown"
#endif

#define MAX_TRIALS 64
#define MAX_CELLS 32
#define MAX_ROWS 512

struct options {
	bool quick;
	int trials;
	const char *json, *csv, *chart;
	bool workloads[WL_COUNT];
	const char *strategies;		/* comma list, NULL: all */
	const char *zcrx_ifname;
	unsigned int zcrx_queue;
	unsigned int zcrx_buf_len;	/* 0: page-size zcrx buffers */
	unsigned int pbuf_bufs;
	unsigned int threads;		/* server threads, a ring each; connections split */
	bool list;
	/* --cells: run only these; conns/size/depth 0 where the workload has none */
	struct cell_spec {
		enum workload workload;
		int conns;
		uint32_t size, depth;
	} cells[MAX_CELLS];
	int nr_cells;
	double verdict;			/* --verdict PCT: rounds until every 95 % CI is within it */
	unsigned int measure_ms;	/* --measure-ms: rpc / ping-pong window; 0: default */
};

/* One trial's measurements. */
struct trial {
	double value;			/* Gbit/s, req/s or p50 us */
	double p99_us, p999_us;
	double server_cpu, process_cpu, sender_cpu, syscalls, cqes_per_mb;
	int64_t rx_copied, tx_zc_bytes, tx_zc_copied, rx_out_of_buffers;
	double tx_dma_maps_per_mb;	/* -1: not measured */
	uint64_t bytes;
	bool verified;
	char failure[200];
	char detail[96];
};

struct server_thread {
	struct ready_gate gate;
	const struct rx_strategy *strategy;
	struct server_run run;
	pthread_t thread;
	int ret;
};

static int server_cpu = -1, load_cpu = -1;

static void *server_main(void *arg)
{
	struct server_thread *st = arg;

	pin_to_cpu(st->run.cpu);
	st->ret = st->strategy->serve(&st->run);
	gate_open(st->run.ready);	/* a strategy that failed in setup never did */
	/* A failed server must not leave the load side blocked. */
	if (st->ret)
		for (int i = 0; i < st->run.nr_fds; i++)
			shutdown(st->run.fds[i], SHUT_RDWR);
	return NULL;
}

static void *sender_main(void *arg)
{
	send_stream(arg);
	return NULL;
}

static void *load_main(void *arg)
{
	load_echo(arg);
	return NULL;
}

static void server_init(struct server_thread *st, const struct rx_strategy *s,
			enum serve_mode mode, const int *fds, int n, const struct options *o)
{
	memset(st, 0, sizeof(*st));
	gate_init(&st->gate);
	st->run.ready = &st->gate;
	st->strategy = s;
	st->run.mode = mode;
	st->run.fds = fds;
	st->run.nr_fds = n;
	st->run.cpu = server_cpu;
	st->run.zcrx_ifname = o->zcrx_ifname;
	st->run.zcrx_queue = o->zcrx_queue;
	st->run.zcrx_buf_len = o->zcrx_buf_len;
	st->run.pbuf_bufs = o->pbuf_bufs;
	st->run.rx_copied = RX_COPIED_UNKNOWN;
	st->run.rx_out_of_buffers = -1;
}

/* The server side of a trial: @n threads, each serving its slice of the
 * connections with its own instance of the strategy (its own ring and pool:
 * a ring per thread). @run is what they measured, merged.
 */
#define MAX_SERVER_THREADS 16

struct server_group {
	int n;
	struct server_thread st[MAX_SERVER_THREADS];
	struct server_run run;
};

static void group_init(struct server_group *g, const struct rx_strategy *s,
		       enum serve_mode mode, const int *fds, int nfds, const struct options *o)
{
	int n = (int)o->threads;

	if (n > nfds)
		n = nfds;
	g->n = n;
	for (int i = 0; i < n; i++) {
		int lo = nfds * i / n, hi = nfds * (i + 1) / n;

		server_init(&g->st[i], s, mode, fds + lo, hi - lo, o);
		g->st[i].run.first_conn = lo;
		if (n > 1)
			g->st[i].run.cpu = -1;	/* the scheduler spreads them */
	}
}

static void group_start(struct server_group *g)
{
	for (int i = 0; i < g->n; i++)
		pthread_create(&g->st[i].thread, NULL, server_main, &g->st[i]);
	for (int i = 0; i < g->n; i++)
		gate_wait(&g->st[i].gate);
}

static void group_join(struct server_group *g)
{
	struct server_run *m = &g->run;

	for (int i = 0; i < g->n; i++)
		pthread_join(g->st[i].thread, NULL);
	*m = g->st[0].run;
	for (int i = 1; i < g->n; i++) {
		const struct server_run *r = &g->st[i].run;

		m->bytes += r->bytes;
		if (m->syscalls == SYSCALLS_UNKNOWN || r->syscalls == SYSCALLS_UNKNOWN)
			m->syscalls = SYSCALLS_UNKNOWN;
		else
			m->syscalls += r->syscalls;
		m->cqes += r->cqes;
		m->bad_bytes += r->bad_bytes;
		m->cpu_ns += r->cpu_ns;
		if (m->rx_copied == RX_COPIED_UNKNOWN || r->rx_copied == RX_COPIED_UNKNOWN)
			m->rx_copied = RX_COPIED_UNKNOWN;
		else
			m->rx_copied += r->rx_copied;
		if (m->rx_out_of_buffers >= 0 && r->rx_out_of_buffers >= 0)
			m->rx_out_of_buffers += r->rx_out_of_buffers;
		if (!m->error)
			m->error = r->error;
	}
}

static void fail(struct trial *t, const char *what, int err)
{
	if (!t->failure[0])
		snprintf(t->failure, sizeof(t->failure), "%.140s: %.50s", what, strerror(-err));
	t->verified = false;
}

/* Both sides have finished: closes the connections and takes the server's
 * side of the trial.
 */
static void finish_trial(struct trial *t, struct server_group *g, const int *cfds,
			 const int *sfds, int n)
{
	int ret = 0;

	for (int i = 0; i < g->n; i++) {
		gate_destroy(&g->st[i].gate);
		if (!ret)
			ret = g->st[i].ret;
	}
	close_fds(cfds, n);
	close_fds(sfds, n);
	snprintf(t->detail, sizeof(t->detail), "%s", g->run.detail);
	t->bytes = g->run.bytes;
	t->verified = true;
	if (ret)
		fail(t, "server", ret);
}

/* The sender's device's per-packet DMA maps so far (--tx-dma-counters), or -1. */
static int64_t tx_dma_maps(void)
{
	char path[512];
	long long v = -1;
	FILE *f;

	if (!bench_link.tx_dma_dir)
		return -1;
	snprintf(path, sizeof(path), "%s/tx_dma_maps", bench_link.tx_dma_dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Stream: @n connections, @total bytes split across them. */
static void stream_trial(const struct rx_strategy *s, enum send_kind kind, int n,
			 uint64_t total, bool sender_row, const struct options *o, struct trial *t)
{
	int cfds[16], sfds[16], err;
	struct server_group g;
	struct send_run sr;
	uint64_t t0, t1, p0, p1;
	int64_t maps0, maps1;
	double gb;

	memset(t, 0, sizeof(*t));
	t->tx_dma_maps_per_mb = -1;
	err = connect_pairs(n, cfds, sfds);
	if (err) {
		fail(t, "loopback connections", err);
		return;
	}
	group_init(&g, s, SERVE_SINK, sfds, n, o);
	sr = (struct send_run){ .kind = kind, .fds = cfds, .nr_fds = n,
				.bytes_per_conn = total / (uint64_t)n, .cpu = load_cpu };
	pthread_t sender;

	group_start(&g);
	maps0 = tx_dma_maps();
	p0 = process_cpu_ns();
	t0 = now_ns();
	pthread_create(&sender, NULL, sender_main, &sr);
	pthread_join(sender, NULL);
	group_join(&g);
	t1 = now_ns();
	p1 = process_cpu_ns();
	maps1 = tx_dma_maps();
	finish_trial(t, &g, cfds, sfds, n);
	if (sr.error) {
		char what[200];

		snprintf(what, sizeof(what), "sender%s%s", sr.why[0] ? ": " : "", sr.why);
		fail(t, what, sr.error);
	}
	if (g.run.bad_bytes)
		fail(t, "verification: corrupt bytes", -EBADMSG);
	if (g.run.bytes != sr.bytes_per_conn * (uint64_t)n)
		fail(t, "bytes received != bytes sent", -EPIPE);
	gb = (double)g.run.bytes / 1e9;
	if (gb <= 0)
		return;
	t->value = (double)g.run.bytes * 8 / ((double)(t1 - t0) / 1e9) / 1e9;
	t->server_cpu = (double)g.run.cpu_ns / 1e9 / gb;
	t->process_cpu = (double)(p1 - p0) / 1e9 / gb;
	t->sender_cpu = (double)sr.cpu_ns / 1e9 / gb;
	/* Syscalls of the side the row is about: receiver, or sender for stream-tx. */
	t->syscalls = (double)(sender_row ? sr.syscalls : g.run.syscalls) / (gb * 1e3);
	if (!sender_row && g.run.syscalls == SYSCALLS_UNKNOWN)
		t->syscalls = -1;
	t->cqes_per_mb = g.run.cqes ? (double)g.run.cqes / (gb * 1e3) : -1;
	t->rx_copied = g.run.rx_copied == RX_COPIED_UNKNOWN ? -1 : (int64_t)g.run.rx_copied;
	t->rx_out_of_buffers = g.run.rx_out_of_buffers;
	t->tx_zc_bytes = kind >= SEND_URING_ZC ? (int64_t)sr.zc_bytes : -1;
	t->tx_zc_copied = kind >= SEND_URING_ZC ? (int64_t)sr.zc_copied : -1;
	if (maps0 >= 0 && maps1 >= maps0)
		t->tx_dma_maps_per_mb = (double)(maps1 - maps0) / (gb * 1e3);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* RPC echo and ping-pong. */
static void echo_trial(const struct rx_strategy *s, int n, uint32_t size, uint32_t depth,
		       bool latency, const struct options *o, struct trial *t)
{
	int *cfds = calloc((size_t)n, sizeof(int)), *sfds = calloc((size_t)n, sizeof(int));
	struct load_run lr = { 0 };
	struct server_group g;
	pthread_t load;
	uint64_t p0, p1, served;
	int err;

	memset(t, 0, sizeof(*t));
	if (!cfds || !sfds) {
		fail(t, "allocation", -ENOMEM);
		goto out;
	}
	err = connect_pairs(n, cfds, sfds);
	if (err) {
		fail(t, "loopback connections", err);
		goto out;
	}
	group_init(&g, s, SERVE_ECHO, sfds, n, o);
	lr = (struct load_run){ .fds = cfds, .nr_fds = n, .msg_size = size, .depth = depth,
				.latency = latency, .cpu = load_cpu };
	lr.warmup_ns = (o->quick ? 30 : 50) * 1000000ull;
	lr.measure_ns = (latency ? (o->quick ? 100 : 300) : (o->quick ? 100 : 150)) * 1000000ull;
	if (o->measure_ms)
		lr.measure_ns = o->measure_ms * 1000000ull;
	group_start(&g);
	p0 = process_cpu_ns();
	pthread_create(&load, NULL, load_main, &lr);
	pthread_join(load, NULL);
	group_join(&g);
	p1 = process_cpu_ns();
	finish_trial(t, &g, cfds, sfds, n);
	if (lr.error)
		fail(t, "load client", lr.error);
	if (lr.bad_bytes)
		fail(t, "verification: corrupt echo", -EBADMSG);
	if (!lr.requests)
		fail(t, "no request completed", -ETIMEDOUT);
	served = g.run.bytes / size;
	if (served) {
		t->server_cpu = (double)g.run.cpu_ns / 1e3 / (double)served;
		t->process_cpu = (double)(p1 - p0) / 1e3 / (double)served;
		t->syscalls = g.run.syscalls == SYSCALLS_UNKNOWN ? -1 :
			      (double)g.run.syscalls / (double)served;
		t->cqes_per_mb = g.run.cqes ? (double)g.run.cqes / ((double)g.run.bytes / 1e6) : -1;
	}
	t->rx_copied = g.run.rx_copied == RX_COPIED_UNKNOWN ? -1 : (int64_t)g.run.rx_copied;
	t->rx_out_of_buffers = g.run.rx_out_of_buffers;
	t->tx_zc_bytes = t->tx_zc_copied = -1;
	t->tx_dma_maps_per_mb = -1;
	if (latency) {
		if (lr.nr_lat) {
			qsort(lr.lat_ns, lr.nr_lat, sizeof(uint64_t), cmp_u64);
			t->value = (double)lr.lat_ns[lr.nr_lat / 2] / 1e3;
			t->p99_us = (double)lr.lat_ns[lr.nr_lat * 99 / 100] / 1e3;
			t->p999_us = (double)lr.lat_ns[lr.nr_lat * 999 / 1000] / 1e3;
		} else {
			fail(t, "no latency sample", -ETIMEDOUT);
		}
	} else {
		t->value = (double)lr.requests / ((double)lr.measure_ns / 1e9);
	}
out:
	free(lr.lat_ns);
	free(cfds);
	free(sfds);
}

static int cmp_trial(const void *a, const void *b)
{
	double x = ((const struct trial *)a)->value, y = ((const struct trial *)b)->value;

	return x < y ? -1 : x > y;
}

/* Folds trials into the row: median/min/max of the value, the rest from the
 * median trial. Any failed trial fails the row.
 */
static void fold(struct row *r, struct trial *t, int n)
{
	struct trial *mid;

	r->ran = true;
	r->verified = true;
	r->trials = n;
	for (int i = 0; i < n; i++) {
		r->bytes += t[i].bytes;
		if (!t[i].verified) {
			r->verified = false;
			snprintf(r->reason, sizeof(r->reason), "trial %d: %s", i + 1, t[i].failure);
			snprintf(r->detail, sizeof(r->detail), "%s", t[i].detail);
			return;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_trial);
	mid = &t[n / 2];
	r->value = (struct spread){ mid->value, t[0].value, t[n - 1].value };
	r->p99_us = mid->p99_us;
	r->p999_us = mid->p999_us;
	r->server_cpu = mid->server_cpu;
	r->process_cpu = mid->process_cpu;
	r->sender_cpu = mid->sender_cpu;
	r->syscalls = mid->syscalls;
	r->cqes_per_mb = mid->cqes_per_mb;
	r->rx_copied = mid->rx_copied;
	r->rx_out_of_buffers = mid->rx_out_of_buffers;
	r->tx_zc_bytes = mid->tx_zc_bytes;
	r->tx_zc_copied = mid->tx_zc_copied;
	r->tx_dma_maps_per_mb = mid->tx_dma_maps_per_mb;
	snprintf(r->detail, sizeof(r->detail), "%s", mid->detail);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The row against the baseline, round by round: both ran trial t of the same
 * cell back to back (ABBA order), so the machine's drift between rounds
 * cancels out of each round's ratio. Call before fold(), which sorts.
 */
static void pair_with_baseline(struct row *r, const struct trial *rt, const struct trial *bt,
			       int n)
{
	double q[MAX_TRIALS], c[MAX_TRIALS], mean = 0, var = 0;
	int k = 0, kc = 0;

	for (int t = 0; t < n; t++) {
		if (!rt[t].verified || !bt[t].verified || rt[t].value <= 0 || bt[t].value <= 0)
			continue;
		q[k++] = r->workload == WL_PINGPONG ? bt[t].value / rt[t].value :
			 rt[t].value / bt[t].value;
		if (rt[t].server_cpu > 0 && bt[t].server_cpu > 0)
			c[kc++] = rt[t].server_cpu / bt[t].server_cpu;
	}
	if (!k)
		return;
	for (int i = 0; i < k; i++)
		mean += q[i] / k;
	for (int i = 0; i < k; i++)
		var += (q[i] - mean) * (q[i] - mean) / (k > 1 ? k - 1 : 1);
	qsort(q, (size_t)k, sizeof(q[0]), cmp_double);
	qsort(c, (size_t)kc, sizeof(c[0]), cmp_double);
	r->paired = true;
	r->ratio = k % 2 ? q[k / 2] : (q[k / 2 - 1] + q[k / 2]) / 2;
	r->ratio_pairs = (struct spread){ r->ratio, q[0], q[k - 1] };
	r->ratio_mean = mean;
	/* Normal approximation; with few rounds it is optimistic (t(2) is 4.3). */
	r->ratio_ci95 = k > 1 ? 1.96 * sqrt(var / k) / mean : -1;
	r->cpu_ratio = kc ? (kc % 2 ? c[kc / 2] : (c[kc / 2 - 1] + c[kc / 2]) / 2) : -1;
}

static bool strategy_selected(const struct options *o, const char *name)
{
	const char *p = o->strategies;
	size_t len = strlen(name);

	if (!p)
		return !rx_strategy_find(name)->only_when_named;
	while (p && *p) {
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

static struct row rows[MAX_ROWS];
static int nr_rows;

static struct row *new_row(enum workload w, const char *strategy, const char *sender,
			   int conns, uint32_t size, uint32_t depth)
{
	struct row *r;

	if (nr_rows == MAX_ROWS) {
		fprintf(stderr, "zcnet-bench: more than %d rows\n", MAX_ROWS);
		exit(1);
	}
	r = &rows[nr_rows++];
	*r = (struct row){ .workload = w, .strategy = strategy, .sender = sender,
			   .conns = conns, .msg_size = size, .depth = depth, .ratio = -1,
			   .rx_copied = -1, .tx_zc_bytes = -1, .tx_zc_copied = -1,
			   .tx_dma_maps_per_mb = -1,
			   .rx_out_of_buffers = -1, .ratio_ci95 = -1, .cpu_ratio = -1 };
	return r;
}

/* One status line per row: rewritten in place on a terminal, a line each in a log. */
static void progress(const struct row *r, int done, int planned)
{
	static int tty = -1;

	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%s[%3d/%3d] %-9s %-12s %-14s %4d conn %5u B d%-2u %-7s%s",
		tty ? "\r" : "", done, planned, workload_name(r->workload), r->strategy,
		r->sender ? r->sender : "", r->conns, r->msg_size, r->depth,
		!r->ran ? "skipped" : r->verified ? "ok" : "FAILED", tty ? "" : "\n");
	fflush(stderr);
}

static bool same_cell(const struct row *a, const struct row *b)
{
	return a->workload == b->workload && a->conns == b->conns && a->msg_size == b->msg_size &&
	       a->depth == b->depth;
}

static enum send_kind row_send_kind(const struct row *r)
{
	for (int k = 0; k < SEND_KIND_COUNT; k++)
		if (r->sender && !strcmp(r->sender, send_kind_name((enum send_kind)k)))
			return (enum send_kind)k;
	return SEND_URING;
}

/* Bytes per stream trial: receive rows, and the send-variant rows. */
static uint64_t stream_bytes(const struct options *o, enum workload w)
{
	if (w == WL_STREAM_TX)
		return o->quick ? 16ull << 20 : 256ull << 20;
	return o->quick ? 32ull << 20 : 256ull << 20;
}

static void run_trial(const struct row *r, const struct options *o, struct trial *t)
{
	const struct rx_strategy *s = rx_strategy_find(r->strategy);

	if (r->workload == WL_STREAM || r->workload == WL_STREAM_TX)
		stream_trial(s, row_send_kind(r), r->conns, stream_bytes(o, r->workload),
			     r->workload == WL_STREAM_TX, o, t);
	else
		echo_trial(s, r->conns, r->msg_size, r->depth, r->workload == WL_PINGPONG, o, t);
}

/* Whether every paired row of the cell has its 95 % interval within --verdict. */
static bool cell_decided(int first, int end, int base, int rounds, struct trial (*tr)[MAX_TRIALS],
			 const bool *runnable, const struct options *o)
{
	if (base < 0)
		return true;
	for (int i = first; i < end; i++) {
		struct row probe = rows[i];

		if (i == base || !runnable[i - first])
			continue;
		probe.paired = false;
		pair_with_baseline(&probe, tr[i - first], tr[base - first], rounds);
		if (!probe.paired || probe.ratio_ci95 < 0 || probe.ratio_ci95 * 100 > o->verdict)
			return false;
	}
	return true;
}

/*
 * One cell: every row (strategy or sender) of one configuration. Trials are
 * interleaved: round t runs each row once, in order on even rounds and in
 * reverse on odd ones (ABC CBA), so no row always runs first or last, and a
 * drift of the machine between rounds hits every row alike. With --verdict,
 * rounds are added until every ratio's interval is narrow enough.
 */
static void run_cell(int first, int end, const char *const *reasons, const struct options *o)
{
	int cnt = end - first, base = -1, rounds = o->trials;
	struct trial (*tr)[MAX_TRIALS] = calloc((size_t)cnt, sizeof(*tr));
	bool runnable[MAX_ROWS];
	struct trial warm;

	if (!tr) {
		fprintf(stderr, "zcnet-bench: out of memory\n");
		exit(1);
	}
	for (int i = first; i < end; i++) {
		struct row *r = &rows[i];
		const struct rx_strategy *s = rx_strategy_find(r->strategy);
		const char *why = reasons[s - rx_strategies];

		runnable[i - first] = false;
		if (why) {
			snprintf(r->reason, sizeof(r->reason), "%s", why);
		} else if (r->workload == WL_STREAM_TX &&
			   send_kind_unavailable(row_send_kind(r), r->reason, sizeof(r->reason))) {
			/* reason filled in */
		} else {
			runnable[i - first] = true;
			if (!strcmp(r->strategy, BASELINE_STRATEGY) && r->workload != WL_STREAM_TX)
				base = i;
		}
	}
	/* Stream rows warm up once each: a quarter of a trial, untimed. */
	for (int i = first; i < end; i++)
		if (runnable[i - first] && !o->quick &&
		    (rows[i].workload == WL_STREAM || rows[i].workload == WL_STREAM_TX))
			stream_trial(rx_strategy_find(rows[i].strategy), row_send_kind(&rows[i]),
				     rows[i].conns, stream_bytes(o, WL_STREAM) / 4, false, o, &warm);
	for (int t = 0; t < rounds; t++) {
		for (int k = 0; k < cnt; k++) {
			int i = t % 2 ? cnt - 1 - k : k;

			if (runnable[i])
				run_trial(&rows[first + i], o, &tr[i][t]);
		}
		if (o->verdict && t + 1 == rounds && rounds < MAX_TRIALS &&
		    !cell_decided(first, end, base, rounds, tr, runnable, o))
			rounds++;
	}
	for (int i = first; i < end; i++) {
		if (!runnable[i - first])
			continue;
		if (base >= 0 && i != base)
			pair_with_baseline(&rows[i], tr[i - first], tr[base - first], rounds);
		else if (i == base)
			rows[i].ratio = 1;
	}
	/* fold() sorts each row's trials: after the pairing. */
	for (int i = first; i < end; i++)
		if (runnable[i - first])
			fold(&rows[i], tr[i - first], rounds);
	free(tr);
}

/* Same configuration, baseline strategy: the ratio's denominator. */
static void compute_ratios(void)
{
	for (int i = 0; i < nr_rows; i++) {
		struct row *r = &rows[i];

		if (!r->ran || !r->verified || r->paired)
			continue;
		for (int j = 0; j < nr_rows; j++) {
			const struct row *b = &rows[j];

			if (!b->ran || !b->verified || strcmp(b->strategy, BASELINE_STRATEGY) ||
			    b->conns != r->conns || b->msg_size != r->msg_size ||
			    b->depth != r->depth)
				continue;
			/* stream-tx rows compare with the stream baseline (same receiver). */
			if (r->workload == WL_STREAM_TX ? b->workload != WL_STREAM :
			    b->workload != r->workload)
				continue;
			if (r->workload == WL_PINGPONG)
				r->ratio = b->value.median / r->value.median;
			else
				r->ratio = r->value.median / b->value.median;
			break;
		}
	}
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: zcnet-bench [--quick] [--trials N] [--json FILE] [--csv FILE]\n"
		"                   [--chart FILE.svg] [--workloads stream,stream-tx,rpc,pingpong]\n"
		"                   [--strategies a,b,...] [--zcrx-ifname IF [--zcrx-queue N]]\n"
		"                   [--zcrx-buf-len BYTES] [--server-addr A --client-netns PATH]\n"
		"                   [--pbuf-bufs N] [--threads N] [--cells LIST] [--verdict PCT]\n"
		"                   [--measure-ms MS] [--tx-nic IF] [--tx-dma-counters DIR] [--list]\n"
		"Runs every receive strategy over the same loopback TCP connections and prints\n"
		"one table with each row's ratio against plain IORING_OP_RECV (uring-recv).\n"
		"Default run: under 2 minutes on 2 CPUs; --quick: under 20 s.\n"
		"--pbuf-bufs N: 16 KiB buffers in the provided-buffer ring of the pbuf\n"
		"strategies and zcnet (a power of two, 1..32768; default 512, 8 MiB).\n"
		"--threads N: N server threads (1..16), each with its own ring and pool,\n"
		"serving its share of the connections; CPU per request is summed over them.\n"
		"Within a cell (one configuration, every strategy) the strategies run\n"
		"interleaved trial by trial (ABC CBA ...), and a row's ratio is the median of\n"
		"its per-round ratios to the baseline, with their spread and 95 %% interval.\n"
		"--cells LIST: only these cells, e.g. rpc:64x64x1,pingpong:64,stream:8,stream-tx.\n"
		"--verdict PCT: at least 6 rounds, then add rounds (up to %d) until every ratio's\n"
		"95 %% interval is within +-PCT %%; print a verdict per row (faster, slower, a tie).\n"
		"--measure-ms MS: the rpc and ping-pong measuring window per trial.\n"
		"--zcrx-buf-len BYTES: zcrx buffers of that length (a power of two above\n"
		"the page size needs huge pages and a driver that takes it).\n"
		"--server-addr A --client-netns PATH: the server listens on A and the\n"
		"clients connect from the network namespace PATH (/run/netns/NAME), over a\n"
		"NIC pair instead of loopback, so zcrx receives from a real rx queue.\n"
		"--tx-nic IF: the stream-tx row SEND_ZC NIC sends from memory IF (the client's\n"
		"interface) has DMA-mapped once (zcnet's kernel patches).\n"
		"--tx-dma-counters DIR: read DIR/tx_dma_maps (netdevsim debugfs ports/N) around\n"
		"each stream trial: the DMA maps per MB column.\n"
		"--list: the strategies and whether each can run here (and why not).\n", MAX_TRIALS);
	exit(code);
}

/*
 * --cells rpc:64x512x16,pingpong:64,stream:8,stream-tx: the cells to run
 * (each cell: every selected strategy on one configuration).
 */
static void parse_cells(const char *list, struct options *o)
{
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[64], *colon, *end;
		struct cell_spec c = { 0 };
		bool found = false;

		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		colon = strchr(item, ':');
		if (colon)
			*colon = 0;
		for (int w = 0; w < WL_COUNT; w++)
			if (!strcmp(item, workload_name((enum workload)w))) {
				c.workload = (enum workload)w;
				found = true;
			}
		if (!found || o->nr_cells == MAX_CELLS)
			goto bad;
		if (c.workload == WL_RPC) {
			unsigned long conns, size, depth;
			int used = 0;

			if (!colon || sscanf(colon + 1, "%lux%lux%lu%n", &conns, &size, &depth, &used) != 3 ||
			    colon[1 + used])
				goto bad;
			c.conns = (int)conns;
			c.size = (uint32_t)size;
			c.depth = (uint32_t)depth;
		} else if (c.workload == WL_PINGPONG || c.workload == WL_STREAM) {
			unsigned long v;

			if (!colon || !colon[1] || (v = strtoul(colon + 1, &end, 10), *end))
				goto bad;
			if (c.workload == WL_PINGPONG) {
				c.conns = 1;
				c.size = (uint32_t)v;
				c.depth = 1;
			} else {
				c.conns = (int)v;
			}
		} else {
			if (colon)
				goto bad;
			c.conns = 1;
		}
		o->cells[o->nr_cells++] = c;
		p = comma ? comma + 1 : NULL;
		continue;
bad:
		fprintf(stderr, "zcnet-bench: --cells: '%.*s' is not rpc:CONNSxSIZExDEPTH, "
			"pingpong:SIZE, stream:CONNS or stream-tx (at most %d)\n", (int)len, p,
			MAX_CELLS);
		exit(2);
	}
}

static bool cell_selected(const struct options *o, enum workload w, int conns, uint32_t size,
			  uint32_t depth)
{
	if (!o->nr_cells)
		return true;
	for (int i = 0; i < o->nr_cells; i++) {
		const struct cell_spec *c = &o->cells[i];

		if (c->workload == w && c->conns == conns && c->size == size && c->depth == depth)
			return true;
	}
	return false;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "trials", required_argument, NULL, 't' },
		{ "json", required_argument, NULL, 'j' },
		{ "csv", required_argument, NULL, 'c' },
		{ "chart", required_argument, NULL, 'g' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "strategies", required_argument, NULL, 's' },
		{ "zcrx-ifname", required_argument, NULL, 'i' },
		{ "zcrx-queue", required_argument, NULL, 'Q' },
		{ "zcrx-buf-len", required_argument, NULL, 'L' },
		{ "server-addr", required_argument, NULL, 'A' },
		{ "client-netns", required_argument, NULL, 'N' },
		{ "tx-nic", required_argument, NULL, 'X' },
		{ "tx-dma-counters", required_argument, NULL, 'D' },
		{ "pbuf-bufs", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 'T' },
		{ "cells", required_argument, NULL, 'C' },
		{ "verdict", required_argument, NULL, 'V' },
		{ "measure-ms", required_argument, NULL, 'M' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *workloads = NULL;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->trials = -1;
	o->pbuf_bufs = 512;
	o->threads = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q': o->quick = true; break;
		case 't':
			o->trials = (int)strtol(optarg, &end, 10);
			if (*end || o->trials < 1 || o->trials > MAX_TRIALS) {
				fprintf(stderr, "zcnet-bench: --trials wants 1..%d, got '%s'\n",
					MAX_TRIALS, optarg);
				exit(2);
			}
			break;
		case 'j': o->json = optarg; break;
		case 'c': o->csv = optarg; break;
		case 'g': o->chart = optarg; break;
		case 'w': workloads = optarg; break;
		case 's': o->strategies = optarg; break;
		case 'i': o->zcrx_ifname = optarg; break;
		case 'Q': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || !*optarg || n > 4095) {
				fprintf(stderr, "zcnet-bench: --zcrx-queue wants a queue number 0..4095, "
					"got '%s'\n", optarg);
				exit(2);
			}
			o->zcrx_queue = (unsigned int)n;
			break;
		}
		case 'A': {
			struct in_addr a;

			if (inet_pton(AF_INET, optarg, &a) != 1) {
				fprintf(stderr, "zcnet-bench: --server-addr wants an IPv4 address, "
					"got '%s'\n", optarg);
				exit(2);
			}
			bench_link.server_addr = optarg;
			break;
		}
		case 'N':
			if (access(optarg, R_OK)) {
				fprintf(stderr, "zcnet-bench: --client-netns %s: %s\n", optarg,
					strerror(errno));
				exit(2);
			}
			bench_link.client_netns = optarg;
			break;
		case 'X':
			bench_link.tx_nic = optarg;
			break;
		case 'D': {
			char f[512];

			snprintf(f, sizeof(f), "%s/tx_dma_maps", optarg);
			if (access(f, R_OK)) {
				fprintf(stderr, "zcnet-bench: --tx-dma-counters %s: %s: %s\n", optarg,
					f, strerror(errno));
				exit(2);
			}
			bench_link.tx_dma_dir = optarg;
			break;
		}
		case 'L': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || !*optarg || n < 4096 || n > (1ul << 21) || (n & (n - 1))) {
				fprintf(stderr, "zcnet-bench: --zcrx-buf-len wants a power of two, "
					"4096..2097152 bytes, got '%s'\n", optarg);
				exit(2);
			}
			o->zcrx_buf_len = (unsigned int)n;
			break;
		}
		case 'b': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || !n || n > 32768 || (n & (n - 1))) {
				fprintf(stderr, "zcnet-bench: --pbuf-bufs wants a power of two "
					"1..32768, got '%s'\n", optarg);
				exit(2);
			}
			o->pbuf_bufs = (unsigned int)n;
			break;
		}
		case 'T': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || !n || n > MAX_SERVER_THREADS) {
				fprintf(stderr, "zcnet-bench: --threads wants 1..%d server threads, "
					"got '%s'\n", MAX_SERVER_THREADS, optarg);
				exit(2);
			}
			o->threads = (unsigned int)n;
			break;
		}
		case 'C': parse_cells(optarg, o); break;
		case 'V':
			o->verdict = strtod(optarg, &end);
			if (*end || !(o->verdict >= 0.5 && o->verdict <= 50)) {
				fprintf(stderr, "zcnet-bench: --verdict wants a percentage 0.5..50, "
					"got '%s'\n", optarg);
				exit(2);
			}
			break;
		case 'M': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n < 10 || n > 60000) {
				fprintf(stderr, "zcnet-bench: --measure-ms wants 10..60000 ms, "
					"got '%s'\n", optarg);
				exit(2);
			}
			o->measure_ms = (unsigned int)n;
			break;
		}
		case 'l': o->list = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "zcnet-bench: unexpected argument '%s'\n", argv[optind]);
		usage(2);
	}
	if (!bench_link.server_addr != !bench_link.client_netns) {
		fprintf(stderr, "zcnet-bench: --server-addr and --client-netns go together\n");
		exit(2);
	}
	if (o->trials < 0)
		o->trials = o->quick ? 1 : 3;
	/* An interval from few rounds is narrow by chance too often: a 3-round
	 * cell once stopped at 0.93x +-2.5 % that 15 rounds put at 1.00x +-2 %. */
	if (o->verdict && o->trials < 6)
		o->trials = 6;
	for (int w = 0; w < WL_COUNT; w++)
		o->workloads[w] = !workloads;
	for (const char *p = workloads; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		bool found = false;

		for (int w = 0; w < WL_COUNT; w++) {
			const char *name = workload_name((enum workload)w);

			if (strlen(name) == len && !strncmp(p, name, len)) {
				o->workloads[w] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "zcnet-bench: --workloads: no workload '%.*s' (stream, "
				"stream-tx, rpc, pingpong)\n", (int)len, p);
			exit(2);
		}
		p = comma ? comma + 1 : NULL;
	}
	if (o->nr_cells && !workloads)
		for (int w = 0; w < WL_COUNT; w++) {
			o->workloads[w] = false;
			for (int i = 0; i < o->nr_cells; i++)
				o->workloads[w] |= o->cells[i].workload == (enum workload)w;
		}
	if (o->strategies) {
		for (const char *p = o->strategies; p && *p;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			if (!rx_strategy_find(name)) {
				fprintf(stderr, "zcnet-bench: --strategies: no strategy '%s' "
					"(see --list)\n", name);
				exit(2);
			}
			p = comma ? comma + 1 : NULL;
		}
	}
}

static void read_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown CPU");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		snprintf(buf, len, "%s", colon + 2);
		buf[strcspn(buf, "\n")] = 0;
		break;
	}
	if (f)
		fclose(f);
}

static void fill_header(struct header *h, const struct options *o)
{
	struct utsname u;
	time_t now = time(NULL);

	uname(&u);
	snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
	read_cpu_model(h->cpu_model, sizeof(h->cpu_model));
	h->cpus = nr_cpus();
	if (server_cpu >= 0)
		snprintf(h->pinning, sizeof(h->pinning), "server on CPU %d, load on CPU %d",
			 server_cpu, load_cpu);
	else
		snprintf(h->pinning, sizeof(h->pinning), "one CPU: no pinning");
	snprintf(h->liburing, sizeof(h->liburing), "%d.%d", io_uring_major_version(),
		 io_uring_minor_version());
	snprintf(h->build, sizeof(h->build), "%s", ZCNET_BUILD_TYPE);
	strftime(h->date, sizeof(h->date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	h->quick = o->quick;
	h->trials = o->trials;
	h->verdict = o->verdict;
	h->pbuf_bufs = o->pbuf_bufs;
	h->threads = o->threads;
	if (o->threads > 1)
		snprintf(h->pinning, sizeof(h->pinning), "%u server threads (a ring each), unpinned",
			 o->threads);
}

int main(int argc, char **argv)
{
	static const int rpc_conns[] = { 64, 512 };
	static const uint32_t rpc_sizes[] = { 64, 512, 4096 }, rpc_depths[] = { 1, 16 };
	static const uint32_t pingpong_sizes[] = { 64, 4096 };
	const char *names[32], *reasons[32];
	char why[32][256];
	struct options o;
	struct header h;
	struct server_run probe_cfg = { 0 };
	int planned = 0, done = 0, ret = 0;

	parse_options(argc, argv, &o);
	pattern_init();
	if (nr_cpus() >= 2) {
		cpu_set_t set;

		sched_getaffinity(0, sizeof(set), &set);
		for (int c = 0; c < CPU_SETSIZE; c++) {
			if (!CPU_ISSET(c, &set))
				continue;
			if (server_cpu < 0)
				server_cpu = c;
			else if (load_cpu < 0)
				load_cpu = c;
		}
	}
	fill_header(&h, &o);
	probe_cfg.zcrx_ifname = o.zcrx_ifname;
	probe_cfg.zcrx_queue = o.zcrx_queue;
	for (int i = 0; i < nr_rx_strategies; i++) {
		names[i] = rx_strategies[i].name;
		reasons[i] = rx_strategies[i].unavailable(&probe_cfg, why[i], sizeof(why[i]));
	}
	if (o.list) {
		for (int i = 0; i < nr_rx_strategies; i++)
			printf("%-12s %-9s %s%s%s\n", names[i], reasons[i] ? "skipped" : "available",
			       rx_strategies[i].description, reasons[i] ? "\n             why: " : "",
			       reasons[i] ? reasons[i] : "");
		for (int k = 0; k < SEND_KIND_COUNT; k++) {
			char w[256];
			const char *r = send_kind_unavailable((enum send_kind)k, w, sizeof(w));

			printf("sender %-14s %s%s\n", send_kind_name((enum send_kind)k),
			       r ? "skipped: " : "available", r ? r : "");
		}
		return 0;
	}

	/* The plan: every row, in order, so progress can say how far along. */
	const int stream_conns[] = { 1, 8 };
	const int nr_stream_conns = o.quick ? 1 : 2;
	const int nr_rpc_conns = o.quick ? 1 : 2, nr_rpc_sizes = o.quick ? 1 : 3;
	const int nr_rpc_depths = o.quick ? 1 : 2, nr_pp_sizes = o.quick ? 1 : 2;

	if (o.workloads[WL_STREAM])
		for (int c = 0; c < nr_stream_conns; c++)
			for (int i = 0; i < nr_rx_strategies; i++)
				if (strategy_selected(&o, names[i]) &&
				    cell_selected(&o, WL_STREAM, stream_conns[c], 0, 0))
					new_row(WL_STREAM, names[i], send_kind_name(SEND_URING),
						stream_conns[c], 0, 0);
	if (o.workloads[WL_STREAM_TX] && cell_selected(&o, WL_STREAM_TX, 1, 0, 0))
		for (int k = 0; k < SEND_KIND_COUNT; k++)
			new_row(WL_STREAM_TX, BASELINE_STRATEGY, send_kind_name((enum send_kind)k),
				1, 0, 0);
	if (o.workloads[WL_RPC])
		for (int c = 0; c < nr_rpc_conns; c++)
			for (int s = 0; s < nr_rpc_sizes; s++)
				for (int d = 0; d < nr_rpc_depths; d++) {
					int conns = o.quick ? 64 : rpc_conns[c];
					uint32_t size = o.quick ? 512 : rpc_sizes[s];
					uint32_t depth = o.quick ? 16 : rpc_depths[d];

					if (!cell_selected(&o, WL_RPC, conns, size, depth))
						continue;
					for (int i = 0; i < nr_rx_strategies; i++)
						if (strategy_selected(&o, names[i]))
							new_row(WL_RPC, names[i], NULL, conns, size, depth);
				}
	if (o.workloads[WL_PINGPONG])
		for (int s = 0; s < nr_pp_sizes; s++)
			for (int i = 0; i < nr_rx_strategies; i++)
				if (strategy_selected(&o, names[i]) &&
				    cell_selected(&o, WL_PINGPONG, 1, pingpong_sizes[s], 1))
					new_row(WL_PINGPONG, names[i], NULL, 1, pingpong_sizes[s], 1);
	if (o.nr_cells && !nr_rows) {
		fprintf(stderr, "zcnet-bench: --cells: none of them is in the plan (rpc:{64,512}x"
			"{64,512,4096}x{1,16}, pingpong:{64,4096}, stream:{1,8}, stream-tx; "
			"--quick: rpc:64x512x16, pingpong:64, stream:1)\n");
		return 2;
	}
	planned = nr_rows;
	fprintf(stderr, "zcnet-bench: %d rows, %d trial(s) each%s\n", planned, o.trials,
		o.quick ? " (--quick)" : "");

	for (int first = 0, end; first < nr_rows; first = end) {
		for (end = first + 1; end < nr_rows && same_cell(&rows[first], &rows[end]); end++)
			;
		run_cell(first, end, reasons, &o);
		for (int n = first; n < end; n++) {
			progress(&rows[n], ++done, planned);
			if (rows[n].ran && !rows[n].verified)
				ret = 1;
		}
	}
	fprintf(stderr, "\n");
	compute_ratios();
	report_table(stdout, &h, rows, nr_rows, names, reasons, nr_rx_strategies);
	if (o.verdict)
		report_verdicts(stdout, rows, nr_rows, o.verdict);
	if (o.json && report_json(o.json, &h, rows, nr_rows, names, reasons, nr_rx_strategies)) {
		fprintf(stderr, "zcnet-bench: writing %s: %s\n", o.json, strerror(errno));
		ret = 1;
	}
	if (o.csv && report_csv(o.csv, rows, nr_rows)) {
		fprintf(stderr, "zcnet-bench: writing %s: %s\n", o.csv, strerror(errno));
		ret = 1;
	}
	if (o.chart && report_svg(o.chart, &h, rows, nr_rows)) {
		fprintf(stderr, "zcnet-bench: writing %s: %s\n", o.chart, strerror(errno));
		ret = 1;
	}
	if (ret)
		fprintf(stderr, "zcnet-bench: some rows FAILED (see the table)\n");
	return ret;
}
