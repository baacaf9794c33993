// SPDX-License-Identifier: MIT
/*
 * uringx-probe - print what this kernel (and optionally a NIC rx queue)
 * supports for zero-copy networking over io_uring.
 */
#include <getopt.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uringx/uringx.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uringx-probe [--ifname IF [--queue N]] [--json]\n"
		"\n"
		"Probes the running kernel's io_uring features used by zcnet, and with\n"
		"--ifname whether io_uring zero-copy receive (zcrx) can bind rx queue N\n"
		"(default 0) of IF, with the reason when it cannot. The zcrx check does a\n"
		"real registration and needs CAP_NET_ADMIN. --ifname also checks whether a\n"
		"NIC-registered TX pool (IORING_REGISTER_NET_TX_BUF) can be mapped for IF,\n"
		"and reports IF's RSS (queues, indirection table, key) and ntuple rules.\n");
}

static const char *yes(bool v)
{
	return v ? "yes" : "no";
}

static const char *jbool(bool v)
{
	return v ? "true" : "false";
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct uringx_zcrx_verdict v;
	struct uringx_nictx_verdict tx;
	enum uringx_reason rss_why = URINGX_REASON_NONE;
	struct uringx_rss rss = { 0 };
	int rss_err = 0;
	struct uringx_probe p;
	const char *ifname = NULL;
	unsigned long queue = 0;
	bool json = false;
	char *end;
	int c, ret;

	while ((c = getopt_long(argc, argv, "i:q:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			queue = strtoul(optarg, &end, 10);
			if (*end || !*optarg || queue > 65535) {
				fprintf(stderr, "uringx-probe: --queue wants a queue index, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "uringx-probe: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	ret = uringx_probe_kernel(&p);
	if (ret) {
		fprintf(stderr, "uringx-probe: probe failed: %s\n", uringx_strerror(ret));
		return 1;
	}
	uringx_probe_nictx(ifname, &tx);
	if (ifname) {
		ret = uringx_probe_zcrx(ifname, (unsigned int)queue, &v);
		if (ret) {
			fprintf(stderr, "uringx-probe: zcrx probe failed: %s\n", uringx_strerror(ret));
			return 1;
		}
		rss_err = uringx_rss_read(ifname, &rss, &rss_why);
	}

	if (json) {
		printf("{\n  \"kernel\": ");
		print_json_string(p.kernel_release);
		printf(",\n  \"liburing\": \"%d.%d\",\n", io_uring_major_version(),
		       io_uring_minor_version());
		printf("  \"io_uring\": %s,\n", jbool(p.io_uring));
		printf("  \"opcodes\": {\"recv_zc\": %s, \"send_zc\": %s, \"sendmsg_zc\": %s, "
		       "\"recv_multishot\": %s, \"accept_multishot\": %s},\n",
		       jbool(p.op_recv_zc), jbool(p.op_send_zc), jbool(p.op_sendmsg_zc),
		       jbool(p.recv_multishot), jbool(p.accept_multishot));
		printf("  \"setup_flags\": {\"defer_taskrun\": %s, \"single_issuer\": %s, "
		       "\"cqe32\": %s, \"cqe_mixed\": %s},\n",
		       jbool(p.setup_defer_taskrun), jbool(p.setup_single_issuer),
		       jbool(p.setup_cqe32), jbool(p.setup_cqe_mixed));
		printf("  \"buffer_rings\": {\"bundles\": %s, \"incremental\": %s},\n",
		       jbool(p.recv_bundle), jbool(p.pbuf_ring_inc));
		printf("  \"registered_buffers\": {\"plain_send_recv\": %s},\n",
		       jbool(p.send_recv_fixed_buf));
		printf("  \"zcrx\": {\"query\": %s, \"nodev\": %s, \"events\": %s, "
		       "\"rx_page_size\": %s, \"share\": %s, \"nodev_reason\": \"%s\"",
		       jbool(p.zcrx_query), jbool(p.zcrx_nodev), jbool(p.zcrx_event),
		       jbool(p.zcrx_rx_page_size), jbool(p.zcrx_share),
		       p.zcrx_nodev ? "none" : uringx_reason_name(p.zcrx_nodev_reason));
		if (ifname) {
			printf(",\n    \"device\": {\"ifname\": ");
			print_json_string(ifname);
			printf(", \"queue\": %lu, \"usable\": %s, \"errno\": %d, \"reason\": \"%s\", "
			       "\"reason_text\": ",
			       queue, jbool(v.usable), -v.err, uringx_reason_name(v.reason));
			print_json_string(v.usable ? "" : uringx_reason_str(v.reason));
			printf(", \"ifindex\": %u, \"rx_queues\": %u, \"parent_device\": %s, "
			       "\"tcp_data_split\": \"%s\"",
			       v.ifindex, v.rx_queues, jbool(v.has_parent_device),
			       uringx_hds_state_name(v.hds));
			if (v.hds_thresh_known)
				printf(", \"hds_thresh\": %u", v.hds_thresh);
			if (v.usable)
				printf(", \"rx_buf_len\": %u", v.rx_buf_len);
			printf("}\n  ");
		}
		printf("},\n");
		if (ifname) {
			printf("  \"steering\": {\"rss\": %s, \"errno\": %d, \"reason\": \"%s\"",
			       jbool(!rss_err), -rss_err, uringx_reason_name(rss_why));
			if (!rss_err)
				printf(", \"rx_queues\": %u, \"indir_size\": %u, \"key_size\": %u, "
				       "\"toeplitz\": %s, \"ntuple\": %s",
				       rss.rx_queues, rss.indir_size, rss.key_size, jbool(rss.toeplitz),
				       jbool(rss.ntuple));
			printf("},\n");
		}
		printf("  \"nic_tx_pool\": {\"kernel\": %s, \"usable\": %s, \"errno\": %d, "
		       "\"reason\": \"%s\", \"reason_text\": ",
		       jbool(tx.kernel), jbool(tx.usable), -tx.err, uringx_reason_name(tx.reason));
		print_json_string(tx.usable ? "" : uringx_reason_str(tx.reason));
		printf("}\n}\n");
		uringx_rss_free(&rss);
		return 0;
	}

	printf("kernel                 %s (liburing %d.%d)\n", p.kernel_release,
	       io_uring_major_version(), io_uring_minor_version());
	printf("io_uring               %s\n", yes(p.io_uring));
	printf("IORING_OP_RECV_ZC      %s\n", yes(p.op_recv_zc));
	printf("IORING_OP_SEND_ZC      %s\n", yes(p.op_send_zc));
	printf("IORING_OP_SENDMSG_ZC   %s\n", yes(p.op_sendmsg_zc));
	printf("multishot recv         %s\n", yes(p.recv_multishot));
	printf("multishot accept       %s\n", yes(p.accept_multishot));
	printf("SETUP_DEFER_TASKRUN    %s\n", yes(p.setup_defer_taskrun));
	printf("SETUP_SINGLE_ISSUER    %s\n", yes(p.setup_single_issuer));
	printf("SETUP_CQE32            %s\n", yes(p.setup_cqe32));
	printf("SETUP_CQE_MIXED        %s\n", yes(p.setup_cqe_mixed));
	printf("recv bundles           %s\n", yes(p.recv_bundle));
	printf("incremental buf rings  %s\n", yes(p.pbuf_ring_inc));
	printf("SEND/RECV on fixed buf %s\n", yes(p.send_recv_fixed_buf));
	printf("zcrx query interface   %s\n", yes(p.zcrx_query));
	printf("zcrx NODEV copy mode   %s%s%s\n", yes(p.zcrx_nodev),
	       p.zcrx_nodev ? "" : ": ", p.zcrx_nodev ? "" : uringx_reason_str(p.zcrx_nodev_reason));
	printf("zcrx copy events       %s\n", yes(p.zcrx_event));
	printf("zcrx shared by rings   %s\n", yes(p.zcrx_share));
	if (ifname) {
		printf("zcrx on %s queue %lu: %s\n", ifname, queue,
		       v.usable ? "usable" : "not usable");
		if (!v.usable)
			printf("  reason               %s (%s)\n", uringx_reason_str(v.reason),
			       uringx_strerror(v.err));
		if (v.ifindex) {
			printf("  ifindex              %u\n", v.ifindex);
			printf("  rx queues            %u\n", v.rx_queues);
			printf("  parent device        %s\n", yes(v.has_parent_device));
			printf("  tcp-data-split       %s\n", uringx_hds_state_name(v.hds));
			if (v.hds_thresh_known)
				printf("  hds-thresh           %u\n", v.hds_thresh);
		}
		if (v.usable)
			printf("  rx buffer length     %u\n", v.rx_buf_len);
		if (rss_err)
			printf("RSS on %s: none: %s\n", ifname, uringx_reason_str(rss_why));
		else
			printf("RSS on %s: %u rx queues, %u-entry table, %u-byte key, %s; ntuple "
			       "rules %s\n", ifname, rss.rx_queues, rss.indir_size, rss.key_size,
			       rss.toeplitz ? "Toeplitz" : "not Toeplitz",
			       rss.ntuple ? "yes" : "no");
	}
	printf("NIC-registered TX pools %s%s%s\n", yes(tx.kernel), tx.kernel ? "" : ": ",
	       tx.kernel ? "" : uringx_reason_str(tx.reason));
	if (ifname && tx.kernel)
		printf("NIC TX pool on %s: %s%s%s\n", ifname, tx.usable ? "usable" : "not usable",
		       tx.usable ? "" : ": ", tx.usable ? "" : uringx_reason_str(tx.reason));
	return 0;
}
