// SPDX-License-Identifier: MIT
/* zcnet-bench: the payload pattern, clocks, CPU pinning, loopback pairs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static uint8_t pattern[PATTERN_PERIOD + MAX_IO];

void pattern_init(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < PATTERN_PERIOD; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		pattern[i] = (uint8_t)((x * 0x2545f4914f6cdd1dull) >> 56);
	}
	memcpy(pattern + PATTERN_PERIOD, pattern, MAX_IO);
}

const uint8_t *pattern_at(uint64_t offset)
{
	return pattern + offset % PATTERN_PERIOD;
}

const uint8_t *pattern_base(size_t *len)
{
	*len = sizeof(pattern);
	return pattern;
}

bool pattern_check(uint64_t offset, const uint8_t *data, size_t len)
{
	while (len) {
		size_t n = len < MAX_IO ? len : MAX_IO;

		if (memcmp(data, pattern_at(offset), n))
			return false;
		data += n;
		offset += n;
		len -= n;
	}
	return true;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int nr_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return CPU_COUNT(&set);
}

void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct bench_link bench_link;

/* A TCP socket in bench_link's client namespace (this thread returns to
 * its own), or -errno. */
static int client_socket(void)
{
	int self, peer, fd, err;

	if (!bench_link.client_netns)
		return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	peer = open(bench_link.client_netns, O_RDONLY | O_CLOEXEC);
	if (self < 0 || peer < 0 || setns(peer, CLONE_NEWNET)) {
		err = -errno;
		fd = -1;
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		err = fd < 0 ? -errno : 0;
		if (setns(self, CLONE_NEWNET))
			abort();	/* cannot go on in the wrong namespace */
	}
	if (self >= 0)
		close(self);
	if (peer >= 0)
		close(peer);
	if (err)
		errno = -err;
	return err ? -1 : fd;
}

int connect_pairs(int n, int *client_fds, int *server_fds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1, lfd, err = 0, i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bench_link.server_addr && inet_pton(AF_INET, bench_link.server_addr, &sa.sin_addr) != 1)
		return -EINVAL;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		err = -errno;
		close(lfd);
		return err;
	}
	for (i = 0; i < n; i++) {
		client_fds[i] = client_socket();
		if (client_fds[i] < 0 ||
		    connect(client_fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			err = -errno;
			break;
		}
		server_fds[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (server_fds[i] < 0) {
			err = -errno;
			close(client_fds[i]);
			break;
		}
		setsockopt(client_fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(server_fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(lfd);
	if (err) {
		close_fds(client_fds, i);
		close_fds(server_fds, i);
	}
	return err;
}

void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

void gate_init(struct ready_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = false;
}

void gate_open(struct ready_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void gate_wait(struct ready_gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

void gate_destroy(struct ready_gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

void server_ready(struct server_run *run)
{
	run->cpu_ready_ns = thread_cpu_ns();
	if (run->ready)
		gate_open(run->ready);
}

void server_done(struct server_run *run)
{
	if (run->cpu_ready_ns)
		run->cpu_ns += thread_cpu_ns() - run->cpu_ready_ns;
}
