// SPDX-License-Identifier: MIT
/* zcnet-bench output: the table, JSON, CSV and an SVG chart of the ratios. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "report.h"

const char *workload_name(enum workload w)
{
	static const char *const names[WL_COUNT] = {
		[WL_STREAM] = "stream",
		[WL_STREAM_TX] = "stream-tx",
		[WL_RPC] = "rpc",
		[WL_PINGPONG] = "pingpong",
	};
	return w < WL_COUNT ? names[w] : "?";
}

const char *workload_metric(enum workload w)
{
	switch (w) {
	case WL_STREAM:
	case WL_STREAM_TX:
		return "Gbit/s";
	case WL_RPC:
		return "req/s";
	default:
		return "p50 us";
	}
}

/* "1.03x", or "1.03x+-2%" when paired with the baseline over 2+ rounds. */
static void fmt_ratio(char *buf, size_t len, const struct row *r)
{
	if (r->ratio < 0)
		snprintf(buf, len, "-");
	else if (r->paired && r->ratio_ci95 >= 0)
		snprintf(buf, len, "%.2fx+-%.0f%%", r->ratio, r->ratio_ci95 * 100);
	else
		snprintf(buf, len, "%.2fx", r->ratio);
}

static void fmt_copied(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%lld", (long long)v);
}

static void fmt_cqes(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", v);
}

/* Syscalls per unit with @decimals, or '-' when the strategy cannot count
 * them (Boost.Asio's ring is private). */
static void fmt_syscalls(char *buf, size_t len, double v, int decimals)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", decimals, v);
}

static const char *strategy_reason(const char *name, const char *const *strategies,
				   const char *const *strategy_reasons, int nr_strategies)
{
	for (int i = 0; i < nr_strategies; i++)
		if (!strcmp(strategies[i], name) && strategy_reasons[i])
			return strategy_reasons[i];
	return "";
}

static void print_skip(FILE *out, const struct row *r)
{
	fprintf(out, "  %-12s %s: %s\n", r->strategy, r->ran ? "FAILED" : "skipped", r->reason);
}

void report_table(FILE *out, const struct header *h, const struct row *rows, int n,
		  const char *const *strategies, const char *const *strategy_reasons, int nr_strategies)
{
	char ratio[24], copied[32], zc[48], cqes[24], maps[24], sys[24];

	fprintf(out, "\nzcnet-bench: kernel %s, %s, %d CPUs (%s), liburing %s, %s build, %s%s\n",
		h->kernel, h->cpu_model, h->cpus, h->pinning, h->liburing, h->build, h->date,
		h->quick ? ", --quick" : "");
	for (int i = 0; i < nr_strategies; i++)
		if (strategy_reasons[i])
			fprintf(out, "not run here: %s: %s\n", strategies[i], strategy_reasons[i]);
	fprintf(out, "median of %d trial(s) [min-max]; ratio against %s in the same run "
		"(throughput: row/baseline, latency: baseline/row; >1 is better)\n",
		h->trials, BASELINE_STRATEGY " (plain IORING_OP_RECV)");
	fprintf(out, "the strategies of a configuration run interleaved, trial by trial (ABC CBA); "
		"ratio: median of the per-trial ratios, +- the 95%% interval of their mean\n");
	if (h->verdict)
		fprintf(out, "--verdict %.1f%%: trials added per configuration (up to 64) until every "
			"interval is within it; the verdicts below say how many ran\n", h->verdict);
	fprintf(out, "provided-buffer ring (pbuf strategies, zcnet): %u x 16 KiB per server thread\n",
		h->pbuf_bufs);
	fprintf(out, "server threads: %u (connections split, a ring each; CPU summed)\n", h->threads);
	for (int w = 0; w < WL_COUNT; w++) {
		bool any = false;

		for (int i = 0; i < n; i++)
			any |= rows[i].workload == (enum workload)w;
		if (!any)
			continue;
		switch (w) {
		case WL_STREAM:
			fprintf(out, "\nstream: receive strategies, load sends with IORING_OP_SEND; "
				"CPU in seconds per GB\n");
			fprintf(out, "  %-12s %5s %21s %10s %8s %8s %9s %8s %10s  %s\n", "strategy",
				"conns", "Gbit/s", "ratio", "rx cpu", "proc cpu", "sysc/MB",
				"CQEs/MB", "rx copied", "mechanism");
			break;
		case WL_STREAM_TX:
			fprintf(out, "\nstream-tx: send variants into the uring-recv receiver, 1 "
				"connection; CPU in seconds per GB\n");
			fprintf(out, "  %-14s %21s %10s %8s %8s %9s %8s  %s\n", "sender", "Gbit/s",
				"ratio", "tx cpu", "proc cpu", "sysc/MB", "maps/MB",
				"zero-copy / copied bytes");
			break;
		case WL_RPC:
			fprintf(out, "\nrpc echo: requests/s; CPU in microseconds per request\n");
			fprintf(out, "  %-12s %5s %5s %5s %23s %10s %8s %8s %9s %8s\n", "strategy",
				"conns", "size", "depth", "req/s", "ratio", "srv cpu", "proc cpu",
				"sysc/req", "CQEs/MB");
			break;
		default:
			fprintf(out, "\nping-pong latency: 1 connection, depth 1, microseconds\n");
			fprintf(out, "  %-12s %5s %22s %8s %8s %10s %9s\n", "strategy", "size",
				"p50 [min-max]", "p99", "p99.9", "ratio", "sysc/req");
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct row *r = &rows[i];

			if (r->workload != (enum workload)w)
				continue;
			if (!r->ran && !strcmp(r->reason, strategy_reason(r->strategy, strategies,
									  strategy_reasons,
									  nr_strategies)))
				continue;	/* listed once above */
			if (!r->ran || !r->verified) {
				print_skip(out, r);
				continue;
			}
			fmt_ratio(ratio, sizeof(ratio), r);
			fmt_cqes(cqes, sizeof(cqes), r->cqes_per_mb);
			switch (w) {
			case WL_STREAM:
				fmt_copied(copied, sizeof(copied), r->rx_copied);
				fmt_syscalls(sys, sizeof(sys), r->syscalls, 1);
				fprintf(out, "  %-12s %5d %7.2f [%5.2f-%5.2f] %*s %8.3f %8.3f %9s "
					"%8s %10s  %s\n", r->strategy, r->conns, r->value.median,
					r->value.min, r->value.max, 10, ratio, r->server_cpu,
					r->process_cpu, sys, cqes, copied, r->detail);
				break;
			case WL_STREAM_TX:
				if (r->tx_zc_bytes >= 0)
					snprintf(zc, sizeof(zc), "%lld / %lld",
						 (long long)(r->tx_zc_bytes - r->tx_zc_copied),
						 (long long)r->tx_zc_copied);
				else
					snprintf(zc, sizeof(zc), "n/a (copying send)");
				if (r->tx_dma_maps_per_mb >= 0)
					snprintf(maps, sizeof(maps), "%.1f", r->tx_dma_maps_per_mb);
				else
					snprintf(maps, sizeof(maps), "-");
				fprintf(out, "  %-14s %7.2f [%5.2f-%5.2f] %*s %8.3f %8.3f %9.1f %8s  %s\n",
					r->sender, r->value.median, r->value.min, r->value.max,
					10, ratio, r->sender_cpu, r->process_cpu, r->syscalls, maps, zc);
				break;
			case WL_RPC:
				fmt_syscalls(sys, sizeof(sys), r->syscalls, 2);
				fprintf(out, "  %-12s %5d %5u %5u %7.0fk [%5.0fk-%5.0fk] %*s %8.2f "
					"%8.2f %9s %8s\n", r->strategy, r->conns, r->msg_size,
					r->depth, r->value.median / 1e3, r->value.min / 1e3,
					r->value.max / 1e3, 10, ratio, r->server_cpu,
					r->process_cpu, sys, cqes);
				break;
			default:
				fmt_syscalls(sys, sizeof(sys), r->syscalls, 2);
				fprintf(out, "  %-12s %5u %7.1f [%5.1f-%6.1f] %8.1f %8.1f %*s %9s\n",
					r->strategy, r->msg_size, r->value.median, r->value.min,
					r->value.max, r->p99_us, r->p999_us, 10, ratio, sys);
				break;
			}
		}
	}
	fprintf(out, "\nrx copied: bytes the kernel reports copying on receive (zcrx only; "
		"every other mechanism copies all). CQEs/MB '-': no io_uring, or "
		"Boost.Asio's private ring (syscalls '-' too).\n");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int report_json(const char *path, const struct header *h, const struct row *rows, int n,
		const char *const *strategies, const char *const *strategy_reasons, int nr_strategies)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "{\n  \"header\": {\"kernel\": ");
	json_str(f, h->kernel);
	fprintf(f, ", \"cpu_model\": ");
	json_str(f, h->cpu_model);
	fprintf(f, ", \"cpus\": %d, \"pinning\": ", h->cpus);
	json_str(f, h->pinning);
	fprintf(f, ", \"liburing\": ");
	json_str(f, h->liburing);
	fprintf(f, ", \"build\": ");
	json_str(f, h->build);
	fprintf(f, ", \"date\": ");
	json_str(f, h->date);
	fprintf(f, ", \"quick\": %s, \"trials\": %d, \"pbuf_bufs\": %u, \"threads\": %u, "
		"\"pbuf_buf_size\": 16384, \"baseline\": \"" BASELINE_STRATEGY "\"},\n",
		h->quick ? "true" : "false", h->trials, h->pbuf_bufs, h->threads);
	fprintf(f, "  \"strategies\": [");
	for (int i = 0; i < nr_strategies; i++) {
		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		json_str(f, strategies[i]);
		fprintf(f, ", \"available\": %s, \"reason\": ", strategy_reasons[i] ? "false" : "true");
		json_str(f, strategy_reasons[i] ? strategy_reasons[i] : "");
		fprintf(f, ", \"when_named\": %s}",
			rx_strategy_find(strategies[i])->only_when_named ? "true" : "false");
	}
	fprintf(f, "\n  ],\n  \"rows\": [");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "%s\n    {\"workload\": \"%s\", \"strategy\": ", i ? "," : "",
			workload_name(r->workload));
		json_str(f, r->strategy);
		fprintf(f, ", \"sender\": ");
		json_str(f, r->sender ? r->sender : "");
		fprintf(f, ", \"conns\": %d, \"msg_size\": %u, \"depth\": %u, \"status\": \"%s\", "
			"\"verified\": %s, \"reason\": ", r->conns, r->msg_size, r->depth,
			!r->ran ? "skipped" : r->verified ? "ran" : "failed",
			r->verified ? "true" : "false");
		json_str(f, r->reason);
		fprintf(f, ", \"mechanism\": ");
		json_str(f, r->detail);
		fprintf(f, ", \"metric\": \"%s\", \"trials\": %d, \"median\": %.6g, \"min\": %.6g, "
			"\"max\": %.6g, \"ratio_vs_baseline\": %.6g, \"p99_us\": %.6g, "
			"\"p999_us\": %.6g, \"server_cpu\": %.6g, \"process_cpu\": %.6g, "
			"\"sender_cpu\": %.6g, \"cpu_unit\": \"%s\", \"syscalls\": %.6g, "
			"\"syscalls_unit\": \"%s\", \"cqes_per_mb\": %.6g, \"rx_copied_bytes\": %lld, "
			"\"tx_zc_bytes\": %lld, \"tx_zc_copied_bytes\": %lld, "
			"\"tx_dma_maps_per_mb\": %.6g, \"rx_out_of_buffers\": %lld, \"verified_bytes\": %llu, \"paired\": %s, "
			"\"ratio_min\": %.6g, \"ratio_max\": %.6g, \"ratio_mean\": %.6g, "
			"\"ratio_ci95\": %.6g, \"cpu_ratio_vs_baseline\": %.6g}",
			workload_metric(r->workload), r->trials, r->value.median, r->value.min,
			r->value.max, r->ratio, r->p99_us, r->p999_us, r->server_cpu,
			r->process_cpu, r->sender_cpu,
			r->workload <= WL_STREAM_TX ? "s/GB" : "us/request", r->syscalls,
			r->workload <= WL_STREAM_TX ? "per MB" : "per request", r->cqes_per_mb,
			(long long)r->rx_copied, (long long)r->tx_zc_bytes,
			(long long)r->tx_zc_copied, r->tx_dma_maps_per_mb, (long long)r->rx_out_of_buffers,
			(unsigned long long)r->bytes, r->paired ? "true" : "false",
			r->paired ? r->ratio_pairs.min : r->ratio, r->paired ? r->ratio_pairs.max : r->ratio,
			r->paired ? r->ratio_mean : r->ratio, r->ratio_ci95, r->cpu_ratio);
	}
	fprintf(f, "\n  ]\n}\n");
	return fclose(f) ? -errno : 0;
}

int report_csv(const char *path, const struct row *rows, int n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "workload,strategy,sender,conns,msg_size,depth,status,metric,median,min,max,"
		"ratio_vs_baseline,p99_us,p999_us,server_cpu,process_cpu,sender_cpu,syscalls,"
		"cqes_per_mb,rx_copied_bytes,tx_zc_bytes,tx_zc_copied_bytes,verified_bytes,reason\n");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "%s,%s,%s,%d,%u,%u,%s,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
			"%.6g,%.6g,%lld,%lld,%lld,%llu,\"%s\"\n", workload_name(r->workload),
			r->strategy, r->sender ? r->sender : "", r->conns, r->msg_size, r->depth,
			!r->ran ? "skipped" : r->verified ? "ran" : "failed",
			workload_metric(r->workload), r->value.median, r->value.min, r->value.max,
			r->ratio, r->p99_us, r->p999_us, r->server_cpu, r->process_cpu,
			r->sender_cpu, r->syscalls, r->cqes_per_mb, (long long)r->rx_copied,
			(long long)r->tx_zc_bytes, (long long)r->tx_zc_copied,
			(unsigned long long)r->bytes, r->reason);
	}
	return fclose(f) ? -errno : 0;
}

static void row_label(char *buf, size_t len, const struct row *r)
{
	switch (r->workload) {
	case WL_STREAM:
		snprintf(buf, len, "%s, %d conn", r->strategy, r->conns);
		break;
	case WL_STREAM_TX:
		snprintf(buf, len, "%s", r->sender);
		break;
	case WL_RPC:
		snprintf(buf, len, "%s, %dc %uB d%u", r->strategy, r->conns, r->msg_size, r->depth);
		break;
	default:
		snprintf(buf, len, "%s, %uB", r->strategy, r->msg_size);
		break;
	}
}

/* A horizontal bar per row that ran, its length the ratio to the baseline,
 * grouped by workload, with the 1.0 line marked.
 */
int report_svg(const char *path, const struct header *h, const struct row *rows, int n)
{
	const int label_w = 230, bar_w = 420, bar_h = 13, gap = 3, top = 50;
	double max_ratio = 1.5;
	int y = top, bars = 0, groups = 0;
	char label[128];
	FILE *f;

	for (int i = 0; i < n; i++) {
		if (rows[i].ran && rows[i].verified && rows[i].ratio >= 0) {
			bars++;
			if (rows[i].ratio > max_ratio)
				max_ratio = rows[i].ratio;
		}
	}
	for (int w = 0; w < WL_COUNT; w++)
		for (int i = 0; i < n; i++)
			if (rows[i].workload == (enum workload)w) {
				groups++;
				break;
			}
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"sans-serif\" font-size=\"11\">\n", label_w + bar_w + 60,
		top + bars * (bar_h + gap) + groups * 22 + 30);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">zcnet-bench: "
		"ratio to plain IORING_OP_RECV (uring-recv), same run; &gt;1 is better</text>\n");
	fprintf(f, "<text x=\"8\" y=\"34\">kernel %s, %s, %d CPUs, liburing %s, %s build, "
		"%s</text>\n", h->kernel, h->cpu_model, h->cpus, h->liburing, h->build, h->date);
	for (int w = 0; w < WL_COUNT; w++) {
		bool title = false;

		for (int i = 0; i < n; i++) {
			const struct row *r = &rows[i];
			double len;

			if (r->workload != (enum workload)w)
				continue;
			if (!title) {
				y += 16;
				fprintf(f, "<text x=\"8\" y=\"%d\" font-weight=\"bold\">%s (%s)</text>\n",
					y, workload_name(r->workload),
					r->workload == WL_PINGPONG ? "p50 latency" :
					workload_metric(r->workload));
				y += 6;
				title = true;
			}
			if (!r->ran || !r->verified || r->ratio < 0)
				continue;
			row_label(label, sizeof(label), r);
			len = r->ratio / max_ratio * bar_w;
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
				label_w - 6, y + bar_h - 3, label);
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
				label_w, y, len, bar_h,
				!strcmp(r->strategy, BASELINE_STRATEGY) && r->workload != WL_STREAM_TX ?
				"#888888" : r->ratio >= 1 ? "#2b7bb9" : "#d9822b");
			fprintf(f, "<text x=\"%.1f\" y=\"%d\">%.2f</text>\n", label_w + len + 4,
				y + bar_h - 3, r->ratio);
			y += bar_h + gap;
		}
	}
	fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\" "
		"stroke-dasharray=\"4,3\"/>\n", label_w + bar_w / max_ratio, top,
		label_w + bar_w / max_ratio, y);
	fprintf(f, "<text x=\"%.1f\" y=\"%d\">1.0 = baseline</text>\n", label_w + bar_w / max_ratio - 30,
		y + 14);
	fprintf(f, "</svg>\n");
	return fclose(f) ? -errno : 0;
}

void report_verdicts(FILE *out, const struct row *rows, int n, double pct)
{
	fprintf(out, "\nverdicts (+-%.1f %%): each row against %s, per-trial ratios paired in "
		"the same round\n", pct, BASELINE_STRATEGY);
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		double ci = r->ratio_ci95 * 100, d = (r->ratio_mean - 1) * 100;
		const char *v;
		char cpu[48] = "";

		if (!r->paired || !r->ran || !r->verified)
			continue;
		if (r->ratio_ci95 < 0 || ci > pct)
			v = "undecided";
		else if (d > ci)
			v = r->workload == WL_PINGPONG ? "lower latency" : "faster";
		else if (-d > ci)
			v = r->workload == WL_PINGPONG ? "higher latency" : "slower";
		else
			v = "a tie";
		if (r->cpu_ratio >= 0)
			snprintf(cpu, sizeof(cpu), "; server CPU %.3fx", r->cpu_ratio);
		fprintf(out, "  %-9s %4d conn %5u B d%-2u %-12s %.3fx mean %.3fx [%.3f-%.3f] "
			"+-%.1f %% over %d trials: %s%s\n", workload_name(r->workload), r->conns,
			r->msg_size, r->depth, r->strategy, r->ratio, r->ratio_mean,
			r->ratio_pairs.min, r->ratio_pairs.max, ci, r->trials, v, cpu);
	}
}
