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

EVENTS = {"w1": 1, "w2": 1, "w3": 100, "w4": 3, "w5": 1000, "w6": 1000, "w7": 1, "w8": 1}
TITLES = {
    "w1": "1. one event, own streams, exact expected version",
    "w2": "2. one event, one hot stream (successful appends)",
    "w3": "3. batch of 100 events to one stream",
    "w4": "4. three streams, one event each, one call",
    "w5": "5. load a 1,000-event stream",
    "w6": "6. feed page of 1,000 events",
    "w7": "7. workload 1 in an empty store vs a large store",
    "w8": "8. workload 1 in a partitioned store vs a plain one",
}
# workload -> (contender, [baselines])
PAIRS = {
    "w1": ("es", ["floor", "sql"]),
    "w2": ("es", ["sql"]),
    "w3": ("es", ["insert", "sql"]),
    "w4": ("es", ["sql"]),
    "w5": ("es", ["select"]),
    "w6": ("es", ["select"]),
    "w7": ("es-big", ["es-empty"]),
    "w8": ("es-part", ["es-plain"]),
}
# (workload, contender, baseline, minimum ratio, text).  The targets
# are medians at 16 clients; the other client counts are shown beside them
# for information (at 1 client every contender mostly waits for its WAL
# flush, so ratios there say little about CPU cost).
TARGET_CLIENTS = 16
TARGETS = [
    ("w1", "es", "floor", 0.90, "es_append >= 0.90 x floor"),
    ("w1", "es", "sql", 1.30, "es_append >= 1.3 x SQL baseline"),
    ("w3", "es", "insert", 0.85, "batch es_append >= 0.85 x multi-row INSERT"),
    ("w4", "es", "sql", 1.30, "multi-stream es_append >= 1.3 x SQL baseline"),
    ("w5", "es", "select", 0.90, "es_load stream >= 0.90 x plain SELECT"),
    ("w6", "es", "select", 0.90, "es_load feed page >= 0.90 x plain SELECT"),
    ("w7", "es-big", "es-empty", 1 / 1.2, "append cost in the large store within 1.2 x the empty store"),
    ("w8", "es-part", "es-plain", 0.90, "appends to a partitioned store >= 0.90 x a plain store"),
]


def load_runs(out):
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
            # events per second: for the hot stream only successful appends count
            share = r["ok"] / r["txns"] if r["txns"] else 0
            r["rate"] = r["tps"] * EVENTS[r["workload"]] * (share if r["workload"] == "w2" else 1)
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
    runs = load_runs(out)
    by = {}
    for r in runs:
        by.setdefault((r["workload"], r["system"], r["clients"]), []).append(r)

    workloads = sorted({r["workload"] for r in runs})
    clients = sorted({r["clients"] for r in runs})
    rows = []          # markdown table rows
    summary = {}       # (wl, sys, c) -> median rate
    ratios = {}        # (wl, sys, base, c) -> median ratio
    for wl in workloads:
        contender, bases = PAIRS[wl]
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
                if wl == "w2":
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
                rows.append([TITLES[wl].split(".")[0], str(c), s + extra, f"{tps:,.0f}", fmt_rate(rate),
                             f"{pct(lat, 50) / 1000:.2f}", f"{pct(lat, 99) / 1000:.2f}", ", ".join(cmp)])

    head = ["workload", "clients", "system", "calls/s", "events/s", "p50 ms", "p99 ms", "ratio (median of reps)"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]

    target_lines = []
    def shown(wl, r):
        return f"{1 / r:.2f} x cost" if wl == "w7" else f"{r:.2f} x"

    for wl, s, b, minimum, text in TARGETS:
        if wl not in workloads:
            why = ("this build has no es_load(after_position => ...)"
                   if wl == "w6" and machine.get("feed") == "0" else "workload not run")
            target_lines.append(f"- SKIP  {text}: {why}")
            continue
        r = ratios.get((wl, s, b, TARGET_CLIENTS))
        others = ", ".join(f"{c} client{'' if c == 1 else 's'} {shown(wl, ratios[(wl, s, b, c)])}" for c in clients
                           if c != TARGET_CLIENTS and (wl, s, b, c) in ratios)
        others = f" (for information: {others})" if others else ""
        if r is None:
            target_lines.append(f"- SKIP  {text}: not run at {TARGET_CLIENTS} clients{others}")
            continue
        verdict = "PASS" if r >= minimum else "MISS"
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
    print("Workloads: " + "; ".join(TITLES[w] for w in workloads))

    desc = [
        f"- Machine: {machine.get('cpus')} CPUs ({machine.get('cpu')}), {machine.get('memory')} memory, "
        f"{machine.get('os')}, {machine.get('kernel')}",
        f"- PostgreSQL {machine.get('postgres')}; settings: {machine.get('settings')}",
        f"- Mode `{machine.get('mode')}`: {machine.get('reps')} repetitions x {machine.get('duration')} s per run, "
        f"clients {machine.get('clients')} (`-j 2`, `-M prepared`), growth store "
        f"{int(machine.get('big_events', 0)):,} events in {int(machine.get('big_streams', 0)):,} streams; "
        f"the whole run took {int(machine.get('elapsed', 0)) // 60} min {int(machine.get('elapsed', 0)) % 60} s",
    ]
    if machine.get("feed") == "0":
        desc.append("- Workload 6 was skipped: this build has no `es_load(after_position => ...)`.")
    section = "\n".join(desc + ["", *md, "", "Targets:", "", *target_lines, ""])
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(section)

    chart = os.path.join(out, "bench-throughput.png")
    plot(out, summary, clients, chart)
    if docs:
        update_docs(docs, section, chart)


def plot(out, summary, clients, chart):
    panels = [("w1", ["es", "floor", "sql"], "1: one event per call (events/s)"),
              ("w3", ["es", "insert", "sql"], "3: batch of 100 (events/s)"),
              ("w4", ["es", "sql"], "4: three streams per call (events/s)"),
              ("w5", ["es", "select"], "5: load 1,000-event stream (events/s)")]
    names = {"es": "eventstore", "floor": "plain INSERT (floor)", "sql": "PL/pgSQL baseline",
             "insert": "multi-row INSERT", "select": "plain SELECT"}
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
