#!/usr/bin/env python3
"""Summarise one benchmark run (bench/run.sh): medians, latencies, ratios,
targets.  Usage: report.py RESULT_DIR [--docs DOCS_DIR]

Throughput is the median over repetitions of pgbench's tps (times events per
transaction).  A ratio is the median over repetitions of the ratio within a
repetition: the contenders of one repetition ran back to back, so their
ratio is less disturbed by slow phases of a busy machine than the ratio of
medians.  Latencies pool every transaction of every repetition (pgbench
--log): median and 99th percentile.  Standard library only."""

import glob
import os
import re
import statistics
import subprocess
import sys

# The targets are medians at 16 clients; the other client counts are
# shown beside them for information (at 1 client every contender mostly
# waits for its WAL flush, so ratios there say little about CPU cost).
TARGET_CLIENTS = 16


def read_tsv(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def load_workloads(out):
    """What bench/run.sh read from bench/workloads/*.sh: workload -> its
    title, events per transaction, contender, baselines, whether ratios are
    costs, why it was skipped; and the targets."""
    wls = {}
    for w in read_tsv(os.path.join(out, "workloads.tsv")):
        w["events"] = int(w["events"])
        w["cost"] = w["cost"] == "1"
        w["baselines"] = w["baselines"].split()
        wls[w["workload"]] = w
    targets = [(t["workload"], t["contender"], t["baseline"], float(t["minimum"]), t["text"])
               for t in read_tsv(os.path.join(out, "targets.tsv"))]
    return wls, targets


def load_runs(out, wls):
    runs = []
    with open(os.path.join(out, "runs.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(header, line.rstrip("\n").split("\t")))
            r["rep"] = int(r["rep"])
            r["clients"] = int(r["clients"])
            r["tps"] = float(r["tps"])
            r["txns"] = int(r["txns"])
            r["ok"] = int(r["ok"] or 0)
            # events per second: only successful transactions count (the
            # hot stream's conflicts do not; elsewhere every one succeeds)
            share = r["ok"] / r["txns"] if r["txns"] else 0
            r["rate"] = r["tps"] * wls[r["workload"]]["events"] * share
            runs.append(r)
    return runs


def latencies(out, tag):
    lat = []
    for path in glob.glob(os.path.join(out, "logs", tag + ".*")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]))
    return lat


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def fmt_rate(x):
    return f"{x:,.0f}"


def main():
    out = sys.argv[1]
    docs = sys.argv[sys.argv.index("--docs") + 1] if "--docs" in sys.argv else None
    machine = {}
    with open(os.path.join(out, "machine.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            machine[k] = v
    wls, targets = load_workloads(out)
    runs = load_runs(out, wls)
    by = {}
    for r in runs:
        by.setdefault((r["workload"], r["system"], r["clients"]), []).append(r)

    workloads = [w for w in wls if any(r["workload"] == w for r in runs)]
    clients = sorted({r["clients"] for r in runs})
    rows = []          # markdown table rows
    summary = {}       # (wl, sys, c) -> median rate
    ratios = {}        # (wl, sys, base, c) -> median ratio
    for wl in workloads:
        contender, bases = wls[wl]["contender"], wls[wl]["baselines"]
        systems = [contender] + bases
        for c in clients:
            for s in systems:
                rs = by.get((wl, s, c))
                if not rs:
                    continue
                lat = []
                for r in rs:
                    lat.extend(latencies(out, r["log"]))
                lat.sort()
                tps = statistics.median(r["tps"] for r in rs)
                rate = statistics.median(r["rate"] for r in rs)
                summary[(wl, s, c)] = rate
                extra = ""
                if wls[wl]["counted"] == "1":
                    conflicts = sum(r["txns"] - r["ok"] for r in rs)
                    total = sum(r["txns"] for r in rs)
                    extra = f" ({100 * conflicts / total:.0f}% conflicts)" if total else ""
                cmp = []
                if s == contender:
                    for b in bases:
                        per_rep = []
                        for r in rs:
                            br = [x for x in by.get((wl, b, c), []) if x["rep"] == r["rep"]]
                            if br and br[0]["rate"] > 0:
                                per_rep.append(r["rate"] / br[0]["rate"])
                        if per_rep:
                            ratios[(wl, s, b, c)] = statistics.median(per_rep)
                            cmp.append(f"{ratios[(wl, s, b, c)]:.2f} x {b}")
                rows.append([wl, str(c), s + extra, f"{tps:,.0f}", fmt_rate(rate),
                             f"{pct(lat, 50) / 1000:.2f}", f"{pct(lat, 99) / 1000:.2f}", ", ".join(cmp)])

    head = ["workload", "clients", "system", "calls/s", "events/s", "p50 ms", "p99 ms", "ratio (median of reps)"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]

    target_lines = []
    def shown(wl, r):
        return f"{1 / r:.2f} x cost" if wls[wl]["cost"] else f"{r:.2f} x"

    for wl, s, b, minimum, text in targets:
        if wl not in workloads:
            why = wls[wl]["skipped"] or "workload not run"
            target_lines.append(f"- SKIP  {text}: {why}")
            continue
        if b not in wls[wl]["baselines"]:
            target_lines.append(f"- SKIP  {text}: {b} was not in this run")
            continue
        r = ratios.get((wl, s, b, TARGET_CLIENTS))
        others = ", ".join(f"{c} client{'' if c == 1 else 's'} {shown(wl, ratios[(wl, s, b, c)])}" for c in clients
                           if c != TARGET_CLIENTS and (wl, s, b, c) in ratios)
        others = f" (for information: {others})" if others else ""
        if r is None:
            target_lines.append(f"- SKIP  {text}: not run at {TARGET_CLIENTS} clients{others}")
            continue
        verdict = "PASS" if (1 / r <= minimum if wls[wl]["cost"] else r >= minimum) else "MISS"
        target_lines.append(f"- {verdict}  {text}, {TARGET_CLIENTS} clients: {shown(wl, r)}{others}")

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)] if rows else []
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    print()
    print("Targets:")
    for t in target_lines:
        print(t)
    print()
    print("Workloads: " + "; ".join(f"{w}: {wls[w]['title']}" for w in workloads))

    desc = [
        f"- Machine: {machine.get('cpus')} CPUs ({machine.get('cpu')}), {machine.get('memory')} memory, "
        f"{machine.get('os')}, {machine.get('kernel')}",
        f"- PostgreSQL {machine.get('postgres')}; settings: {machine.get('settings')}",
        f"- Mode `{machine.get('mode')}`: {machine.get('reps')} repetitions x {machine.get('duration')} s per run, "
        f"clients {machine.get('clients')} (`-j 2`, `-M prepared`), append-growth's store "
        f"{int(machine.get('big_events', 0)):,} events in {int(machine.get('big_streams', 0)):,} streams; "
        f"the whole run took {int(machine.get('elapsed', 0)) // 60} min {int(machine.get('elapsed', 0)) % 60} s",
    ]
    if machine.get("load"):
        desc.append(f"- Load average (1, 5, 15 min): {machine['load']}")
    for w in wls.values():
        if w["skipped"]:
            desc.append(f"- `{w['workload']}` was skipped: {w['skipped']}.")
    section = "\n".join(desc + ["", *md, "", "Targets:", "", *target_lines, ""])
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(section)

    chart = os.path.join(out, "bench-throughput.png")
    plot(out, summary, clients, chart)
    if docs:
        update_docs(docs, section, chart)


def plot(out, summary, clients, chart):
    panels = [("append-single", ["es", "floor", "sql", "mdb-own", "mdb-shared"], "append-single: one event per call (events/s)"),
              ("append-batch", ["es", "insert", "sql"], "append-batch: 100 events per call (events/s)"),
              ("append-multi-stream", ["es", "sql"], "append-multi-stream: three streams per call (events/s)"),
              ("read-stream", ["es", "select"], "read-stream: 1,000-event stream (events/s)")]
    names = {"es": "eventstore", "floor": "plain INSERT (floor)", "sql": "PL/pgSQL baseline",
             "insert": "multi-row INSERT", "select": "plain SELECT",
             "mdb-own": "Message DB, a category per client", "mdb-shared": "Message DB, one category"}
    script = ["set terminal pngcairo size 1200,900 font 'sans,10'", f"set output '{chart}'",
              "set multiplot layout 2,2", "set logscale x 2", "set xtics (" +
              ", ".join(f"'{c}' {c}" for c in clients) + ")", "set xlabel 'clients'",
              "set format y '%.0f'", "set xrange [0.8:20]", "set key top left", "set grid", "set yrange [0:*]"]
    for wl, systems, title in panels:
        script.append(f"set title '{title}'")
        plots = []
        for s in systems:
            pts = [(c, summary[(wl, s, c)]) for c in clients if (wl, s, c) in summary]
            if not pts:
                continue
            data = os.path.join(out, f"plot-{wl}-{s}.dat")
            with open(data, "w") as f:
                for c, v in pts:
                    f.write(f"{c} {v}\n")
            plots.append(f"'{data}' using 1:2 with linespoints lw 2 title '{names[s]}'")
        # An empty panel (workload not run) keeps its place in the layout.
        script.append("plot " + ", ".join(plots) if plots
                      else "set label 1 'not run' at graph 0.5, 0.5 center\nplot [1:16] [0:1] -1 notitle\nunset label 1")
    script.append("unset multiplot")
    try:
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no chart: gnuplot failed ({e})", file=sys.stderr)


def update_docs(docs, section, chart):
    path = os.path.join(docs, "benchmarks.md")
    begin, end = "<!-- BEGIN RESULTS (bench/run.sh writes this part) -->", "<!-- END RESULTS -->"
    text = open(path).read() if os.path.exists(path) else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text += f"\n{begin}\n{end}\n"
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    text = pre + begin + "\n" + section + "\n![throughput vs clients](bench-throughput.png)\n\n" + end + post
    with open(path, "w") as f:
        f.write(text)
    if os.path.exists(chart):
        with open(chart, "rb") as src, open(os.path.join(docs, "bench-throughput.png"), "wb") as dst:
            dst.write(src.read())


if __name__ == "__main__":
    main()
