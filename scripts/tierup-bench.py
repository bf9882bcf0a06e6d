#!/usr/bin/env python3
"""Tier-up against each tier alone, and against Wasmtime's two tiers.

    python3 scripts/tierup-bench.py --duet target/release/duet --runs 5
    python3 scripts/tierup-bench.py --runs 3 --only bz2 shootout-sieve   # table only

For every sightglass program, two figures per engine and tier:

    first   from the start of compilation to the first instruction of
            `_start` (compile, link, instantiate), measured inside a fresh
            process
    total   the wall time of a fresh process that runs the program (from
            the outside: start-up, compilation, the run, exit)

    duet      first: `duet bench --json --runs 1 --compiler T FILE`'s
              `first_ms` (its parallel compilation, then instantiation);
              total: `duet run --compiler T --dir . FILE`
              (T = winch, cranelift, tiered with its defaults)
    Wasmtime  `anchor-bench run winch|cranelift ./FILE` in the program's
              directory: its `compile_ms` as first (which leaves out its
              instantiation) and the process's wall time as total

Each round runs every program under the five configurations back to back,
duet first in odd rounds and Wasmtime first in even ones; all are pinned
to the same cores (`--cpus`, both cores of the machine by default: tier-up
compiles on a second thread, and both engines compile in parallel). A
figure is the median over the rounds; the tables give per program the
medians and the ratios `tiered / min(winch, cranelift)` (total) and
`tiered / winch` (first), and their geometric means.

Without `--only`, the tables replace the part of `docs/benchmarks.md`
between `<!-- tierup:begin -->` and `<!-- tierup:end -->`.
"""

import argparse
import importlib.util
import json
import math
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("sightglass_bench", HERE / "sightglass-bench.py")
sg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sg)

BEGIN = "<!-- tierup:begin -->"
END = "<!-- tierup:end -->"
DUET_TIERS = ("winch", "cranelift", "tiered")
ANCHOR_TIERS = ("winch", "cranelift")
ANCHOR_LINE = re.compile(r"compile_ms=([0-9.]+) run_ms=([0-9.]+) result=(.*)$", re.M)


def pinned(command, cpus):
    return (["taskset", "-c", cpus] if cpus else []) + command


def timed(command, directory):
    """Runs `command` in `directory`; (its wall time in ms, the result)."""
    began = time.monotonic()
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True)
    return (time.monotonic() - began) * 1e3, done


def run_duet(duet, directory, file, tier, cpus):
    command = [str(duet), "bench", "--json", "--runs", "1", "--compiler", tier, file]
    _, done = timed(pinned(command, cpus), directory)
    if done.returncode != 0:
        return (done.stderr.strip() or f"exit status {done.returncode}").splitlines()[0]
    first = json.loads(done.stdout.strip().splitlines()[-1])["first_ms"]
    command = [str(duet), "run", "--compiler", tier, "--dir", ".", file]
    total, done = timed(pinned(command, cpus), directory)
    if done.returncode != 0:
        return (done.stderr.strip() or f"exit status {done.returncode}").splitlines()[0]
    return {"first": first, "total": total}


def run_anchor(anchor, directory, file, tier, cpus):
    command = [str(anchor), "run", tier, f"./{file}"]
    total, done = timed(pinned(command, cpus), directory)
    found = ANCHOR_LINE.search(done.stdout)
    if not found or found.group(3) != "None":
        return (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()[-1]
    return {"first": float(found.group(1)), "total": total}


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duet", help="the duet binary (default: build it)")
    parser.add_argument("--anchor", help="the anchor-bench binary (default: build it)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpus", default="0,1", help="taskset's CPU list ('' for none)")
    parser.add_argument("--only", nargs="*", help="these programs; print the tables only")
    args = parser.parse_args()

    shared = sg.shared_dir()
    duet = Path(args.duet).resolve() if args.duet else sg.build_duet()
    anchor = Path(args.anchor).resolve() if args.anchor else sg.DEFAULT_ANCHOR
    if not anchor.exists():
        anchor = sg.build_anchor(shared)
    chosen = [p for p in sg.programs(shared) if not args.only or p[0] in args.only]

    samples = {}
    started = time.monotonic()
    for round_index in range(args.runs):
        duet_first = round_index % 2 == 0
        for name, directory, file in chosen:
            sg.log(f"[round {round_index + 1}/{args.runs}, {time.monotonic() - started:.0f} s] {name}")
            engines = [
                [("duet", t, lambda t=t: run_duet(duet, directory, file, t, args.cpus)) for t in DUET_TIERS],
                [("wasmtime", t, lambda t=t: run_anchor(anchor, directory, file, t, args.cpus)) for t in ANCHOR_TIERS],
            ]
            if not duet_first:
                engines.reverse()
            for group in engines:
                for engine, tier, run in group:
                    result = run()
                    if isinstance(result, str):
                        sg.log(f"error: {name} ({engine} {tier}): {result}")
                        continue
                    samples.setdefault((name, engine, tier), []).append(result)

    medians = {
        key: {k: statistics.median(s[k] for s in runs) for k in ("first", "total")}
        for key, runs in samples.items()
    }
    table = render(chosen, medians, args, sg.machine(args.duet))
    print(table)
    if not args.only:
        text = sg.BENCHMARKS_MD.read_text()
        begin, end = text.index(BEGIN), text.index(END)
        sg.BENCHMARKS_MD.write_text(text[: begin + len(BEGIN)] + "\n" + table + "\n" + text[end:])
        sg.log(f"wrote {sg.BENCHMARKS_MD}")


def render(chosen, medians, args, machine):
    def get(name, engine, tier, figure):
        found = medians.get((name, engine, tier))
        return found[figure] if found else None

    lines = [
        f"<!-- Generated by scripts/tierup-bench.py on {datetime.now(timezone.utc):%Y-%m-%d}; do not edit by hand. -->",
        f"Machine: {machine['cpu']}; duet {machine['duet_commit']}, Wasmtime {machine['wasmtime']}; "
        f"taskset -c {args.cpus or '(none)'}; median of {args.runs} rounds.",
        "",
        "| program | duet winch first / total ms | duet cranelift first / total | duet tiered first / total "
        "| Wasmtime Winch first / total | Wasmtime Cranelift first / total "
        "| tiered first / winch first | tiered total / best duet total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first_ratios, total_ratios, over = [], [], []
    for name, _, _ in chosen:
        cells = []
        for engine, tier in [("duet", t) for t in DUET_TIERS] + [("wasmtime", t) for t in ANCHOR_TIERS]:
            f, t = get(name, engine, tier, "first"), get(name, engine, tier, "total")
            cells.append("—" if f is None else f"{f:.1f} / {t:.1f}")
        tf, tt = get(name, "duet", "tiered", "first"), get(name, "duet", "tiered", "total")
        wf = get(name, "duet", "winch", "first")
        best = [get(name, "duet", t, "total") for t in ("winch", "cranelift")]
        best = min((b for b in best if b is not None), default=None)
        fr = tf / wf if tf and wf else None
        tr = tt / best if tt and best else None
        if fr:
            first_ratios.append(fr)
        if tr:
            total_ratios.append(tr)
            if tr > 1.05:
                over.append(name)
        cells.append("—" if fr is None else f"{fr:.2f}")
        cells.append("—" if tr is None else f"{tr:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    gf, gt = geomean(first_ratios), geomean(total_ratios)
    totals = {
        (engine, tier): geomean([get(n, engine, tier, "total") for n, _, _ in chosen])
        for engine, tier in [("duet", t) for t in DUET_TIERS] + [("wasmtime", t) for t in ANCHOR_TIERS]
    }
    lines.append(
        "| **geomean** | "
        + " | ".join(
            f"**{totals[(e, t)]:.1f}** total" if totals[(e, t)] else "—"
            for e, t in [("duet", t) for t in DUET_TIERS] + [("wasmtime", t) for t in ANCHOR_TIERS]
        )
        + f" | **{gf:.2f}** | **{gt:.2f}** |"
        if gf and gt
        else "| **geomean** | | | | | | | |"
    )
    lines.append("")
    lines.append(
        "Programs whose tiered total is over 1.05x the better tier's: "
        + (", ".join(over) if over else "none")
        + "."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
