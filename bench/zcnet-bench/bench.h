/* SPDX-License-Identifier: MIT */
/*
 * zcnet-bench: the socket-API application and the RDMA-concept application
 * side by side, over the same loopback TCP connections, against plain
 * IORING_OP_RECV.
 *
 * A receive strategy (servers.c, zcnet_server.cpp) serves a set of
 * connected sockets in one of two modes: SINK (stream workload: consume and
 * verify every byte) or ECHO (RPC and ping-pong: send every byte back). The
 * load side (senders.c, load_client.c) runs on another CPU and verifies what
 * comes back. Every strategy counts its own syscalls and CQEs.
 */
#ifndef ZCNET_BENCH_H
#define ZCNET_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest single read/write, and the payload pattern (util.c): byte i of
 * every stream is pattern[i % PATTERN_PERIOD], and any window of up to
 * MAX_IO bytes is contiguous in memory, so senders send straight from it
 * and receivers verify with memcmp.
 */
#define MAX_IO 65536u
#define PATTERN_PERIOD (65536u + 4093u)

void pattern_init(void);
const uint8_t *pattern_at(uint64_t offset);
/* The pattern's backing memory (for registering it as a fixed buffer). */
const uint8_t *pattern_base(size_t *len);
/* pattern_check - true if @len bytes at stream offset @offset match. */
bool pattern_check(uint64_t offset, const uint8_t *data, size_t len);

/* Where each connection's stream starts in the pattern (differs per
 * connection, so a mix-up between connections is caught).
 */
static inline uint64_t conn_stream_base(int conn)
{
	return (uint64_t)conn * 7919u;
}

/* A one-shot gate: the load side starts its clock once the server is set up
 * (buffer rings registered, zcrx area mapped), so setup is never measured.
 */
struct ready_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
};
void gate_init(struct ready_gate *g);
void gate_open(struct ready_gate *g);
void gate_wait(struct ready_gate *g);
void gate_destroy(struct ready_gate *g);

enum serve_mode {
	SERVE_SINK,	/* receive and verify until EOF on every connection */
	SERVE_ECHO,	/* send every byte back until EOF on every connection */
};

/* Not reported by the kernel for this mechanism. */
#define RX_COPIED_UNKNOWN UINT64_MAX
/* server_run.syscalls of a strategy that cannot count them (Boost.Asio). */
#define SYSCALLS_UNKNOWN UINT64_MAX

struct server_run {
	/* in */
	enum serve_mode mode;
	const int *fds;
	int nr_fds;
	int first_conn;			/* connection number of fds[0] (--threads slices) */
	int cpu;			/* pin here; -1: do not pin */
	const char *zcrx_ifname;	/* NIC for zcrx; NULL: NODEV copy mode */
	unsigned int zcrx_queue;
	unsigned int zcrx_buf_len;	/* zcrx buffer length, 0: page size */
	unsigned int pbuf_bufs;		/* buffers of 16 KiB in the provided-buffer ring */
	struct ready_gate *ready;	/* opened by server_ready() */
	uint64_t cpu_ready_ns;		/* the serving thread's CPU time at server_ready() */
	/* out: counted by the strategy (the serving threads merge theirs) */
	uint64_t bytes;		/* payload received */
	uint64_t syscalls;	/* every syscall of the data path, io_uring_enter included */
	uint64_t cqes;
	uint64_t bad_bytes;	/* SINK: bytes that did not match */
	uint64_t cpu_ns;	/* CPU time of the serving thread(s) */
	uint64_t rx_copied;		/* zcrx: bytes the kernel copied; RX_COPIED_UNKNOWN */
	int64_t rx_out_of_buffers;	/* receives stopped for want of a buffer; -1: n/a */
	int error;			/* negative errno of the first failure */
	char detail[96];		/* mechanism actually used, e.g. "pbuf-ring inc+bundle" */
};

struct rx_strategy {
	const char *name;
	const char *description;
	/* NULL when usable here, else why not (written into @why). */
	const char *(*unavailable)(const struct server_run *cfg, char *why, size_t len);
	/* Serves run->fds in the calling thread until every peer closed. */
	int (*serve)(struct server_run *run);
	/* An A/B variant: in the plan only when --strategies names it. */
	bool only_when_named;
};

/* server_ready - set up, about to serve: starts the clocks. Every strategy
 * calls it once, from the thread that will serve.
 */
void server_ready(struct server_run *run);
/* server_done - serving ended: adds the thread's CPU time since server_ready(). */
void server_done(struct server_run *run);

extern const struct rx_strategy rx_strategies[];
extern const int nr_rx_strategies;
const struct rx_strategy *rx_strategy_find(const char *name);

/* What this kernel's io_uring has (uringx_probe_kernel(), probed once). */
struct uringx_probe;
const struct uringx_probe *kernel_probe(void);

/* The baseline every row is compared with. */
#define BASELINE_STRATEGY "uring-recv"

/* zcnet_server.cpp: the C++20 coroutine layer on its best mechanism. */
int zcnet_serve(struct server_run *run);
/* The same with RxPool's size classes off (one buffer size). */
int zcnet_serve_one_class(struct server_run *run);
const char *zcnet_unavailable(const struct server_run *cfg, char *why, size_t len);
/* asio_server.cpp: Boost.Asio's coroutines on its io_uring backend. */
int asio_serve(struct server_run *run);

/* Stream senders (senders.c): how the load side writes. */
enum send_kind {
	SEND_SYSCALL,		/* send(2) */
	SEND_URING,		/* IORING_OP_SEND */
	SEND_URING_ZC,		/* IORING_OP_SEND_ZC from ordinary memory */
	SEND_URING_ZC_FIXED,	/* IORING_OP_SEND_ZC from a registered buffer */
	SEND_URING_ZC_NIC,	/* IORING_OP_SEND_ZC from memory the NIC mapped once (--tx-nic) */
	SEND_KIND_COUNT,
};
const char *send_kind_name(enum send_kind kind);
const char *send_kind_unavailable(enum send_kind kind, char *why, size_t len);

struct send_run {
	enum send_kind kind;
	const int *fds;
	int nr_fds;
	uint64_t bytes_per_conn;
	int cpu;
	/* out */
	uint64_t bytes;
	uint64_t syscalls;
	uint64_t zc_copied;	/* SEND_ZC: bytes the kernel reported copying */
	uint64_t zc_bytes;	/* SEND_ZC: bytes covered by notifications */
	uint64_t cpu_ns;
	int error;
	char why[160];		/* what failed, when more than the errno says it */
};
/* send_stream - sends, then shuts every connection down for writing. */
int send_stream(struct send_run *run);

/* RPC / ping-pong load (load_client.c). */
struct load_run {
	const int *fds;
	int nr_fds;
	uint32_t msg_size;
	uint32_t depth;		/* requests in flight per connection */
	uint64_t warmup_ns, measure_ns;
	bool latency;		/* record per-request latency */
	int cpu;
	/* out */
	uint64_t requests;	/* completed in the measure_ns window */
	uint64_t bad_bytes;	/* echoed bytes that did not match */
	uint64_t *lat_ns;	/* latency samples (latency mode), malloc'd */
	uint64_t nr_lat;
	int error;
};
/* load_echo - drives the connections, then closes them. */
int load_echo(struct load_run *run);

/* Helpers (util.c). */
uint64_t now_ns(void);
uint64_t thread_cpu_ns(void);
uint64_t process_cpu_ns(void);
void pin_to_cpu(int cpu);
int nr_cpus(void);
/*
 * Where the connections run: loopback by default; with a link, the server
 * side listens on @server_addr and the client sockets are created in the
 * network namespace @client_netns (a NIC pair between namespaces, so that
 * zcrx receives from a real rx queue; the VM's netdevsim pair).
 */
struct bench_link {
	const char *server_addr;	/* IPv4; NULL: 127.0.0.1 */
	const char *client_netns;	/* /run/netns/NAME; NULL: this namespace */
	const char *tx_nic;		/* --tx-nic: the client's interface, NIC-registered sends */
	const char *tx_dma_dir;		/* --tx-dma-counters: a directory with tx_dma_maps */
};
extern struct bench_link bench_link;

/* connect_pairs - @n connected TCP pairs over bench_link; 0 or -errno. */
int connect_pairs(int n, int *client_fds, int *server_fds);
void close_fds(const int *fds, int n);

#ifdef __cplusplus
}
#endif
#endif
