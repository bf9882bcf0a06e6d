#!/usr/bin/env python3
"""What fuel metering and epoch interruption cost, in duet and in Wasmtime.

    python3 scripts/metering-bench.py --duet target/release/duet --runs 5
    python3 scripts/metering-bench.py --runs 3 --only bz2 shootout-sieve   # tables only

Every sightglass program runs under each tier of both engines in three
modes: plain, with fuel metering (fuel that never runs out) and with epoch
interruption (a deadline never reached), so the difference is the cost of
the checks alone:

    duet      `duet bench --json --runs 1 --compiler TIER [--fuel|--epochs] FILE`
    Wasmtime  `anchor-bench run TIER ./FILE` with `ANCHOR_FUEL=1` or
              `ANCHOR_EPOCH=1` (`$SHARED/tools/anchor-bench`: it sets the
              fuel to `u64::MAX` and the deadline to `u64::MAX / 2`, as
              `duet bench` does)

The run helpers are `sightglass-bench.py`'s. Both engines are pinned to
one core and alternate (duet first in odd rounds, Wasmtime first in even
ones), each program running its three modes back to back in each engine.
A figure is the median over the rounds of the run time (bench.start to
bench.end); the cost of a mode is its median over the plain median, per
program, engine and tier, and the tables give the geometric mean over the
programs. Programs under `MIN_RUN_MS` in any mode are left out of the
means (their ratios are noise).

Without `--only`, the tables replace the part of `docs/benchmarks.md`
between `<!-- metering:begin -->` and `<!-- metering:end -->`.
"""

import argparse
import importlib.util
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("sightglass_bench", HERE / "sightglass-bench.py")
sg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sg)

BEGIN = "<!-- metering:begin -->"
END = "<!-- metering:end -->"
MODES = ("plain", "fuel", "epochs")
DUET_OPTIONS = {"plain": (), "fuel": ("--fuel",), "epochs": ("--epochs",)}
ANCHOR_ENV = {"plain": {}, "fuel": {"ANCHOR_FUEL": "1"}, "epochs": {"ANCHOR_EPOCH": "1"}}


def measure(args, duet, anchor, cpu, chosen):
    samples = {}
    started = time.monotonic()
    for round_index in range(args.runs):
        duet_first = round_index % 2 == 0
        for name, directory, file in chosen:
            for tier in sg.TIERS:
                if (name, tier) in sg.DUET_TIER_SKIPPED:
                    continue
                elapsed = time.monotonic() - started
                sg.log(f"[round {round_index + 1}/{args.runs}, {elapsed:.0f} s] {name} {tier}")
                engines = ["duet", "wasmtime"] if duet_first else ["wasmtime", "duet"]
                for engine in engines:
                    for mode in MODES:
                        if engine == "duet":
                            sample = sg.run_duet(duet, directory, file, tier, cpu, DUET_OPTIONS[mode])
                        else:
                            sample = sg.run_anchor(anchor, directory, file, tier, cpu, ANCHOR_ENV[mode])
                        key = (name, tier, engine, mode)
                        if isinstance(sample, str):
                            sg.log(f"error: {name} ({engine} {tier} {mode}): {sample}")
                            samples[key] = None
                        elif samples.get(key, []) is not None:
                            samples.setdefault(key, []).append(sample["run_ms"])
    return samples


def tables(samples, chosen, runs):
    """The per-tier tables: each program's cost of fuel and of epochs in
    both engines, and the geometric means."""
    out = []
    for tier in sg.TIERS:
        out.append(f"\n**{tier}** (run time with the feature / plain run time; median of {runs} rounds)\n")
        out.append("| program | duet plain ms | duet fuel | Wasmtime fuel | duet epochs | Wasmtime epochs |")
        out.append("|---|---:|---:|---:|---:|---:|")
        means = {(e, m): [] for e in ("duet", "wasmtime") for m in ("fuel", "epochs")}
        for name, _, _ in chosen:
            medians = {}
            for engine in ("duet", "wasmtime"):
                for mode in MODES:
                    values = samples.get((name, tier, engine, mode))
                    medians[(engine, mode)] = sg.median(values) if values else None
            plain = medians[("duet", "plain")]
            if plain is None:
                continue
            cells = [name, f"{plain:.2f}"]
            usable = all(v is not None and v >= sg.MIN_RUN_MS for v in medians.values())
            for mode in ("fuel", "epochs"):
                for engine in ("duet", "wasmtime"):
                    base, with_mode = medians[(engine, "plain")], medians[(engine, mode)]
                    if base and with_mode:
                        ratio = with_mode / base
                        cells.append(f"{ratio:.3f}")
                        if usable:
                            means[(engine, mode)].append(ratio)
                    else:
                        cells.append("—")
            out.append("| " + " | ".join(cells) + " |")
        geo = [sg.geomean(means[(e, m)]) for m in ("fuel", "epochs") for e in ("duet", "wasmtime")]
        out.append(
            "| **geomean** | | "
            + " | ".join(f"**{g:.3f}**" if g else "—" for g in geo)
            + " |"
        )
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds; figures are medians (default 5)")
    parser.add_argument("--duet", help="the duet executable (default: build it, release)")
    parser.add_argument("--anchor", help=f"anchor-bench (default: {sg.DEFAULT_ANCHOR})")
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin to (default 0)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to a core")
    parser.add_argument("--only", nargs="+", metavar="PROGRAM", help="only these programs; print only")
    args = parser.parse_args()
    shared = sg.shared_dir()
    duet = Path(args.duet).resolve() if args.duet else sg.build_duet()
    anchor = Path(args.anchor).resolve() if args.anchor else sg.DEFAULT_ANCHOR
    if not anchor.exists():
        anchor = sg.build_anchor(shared)
    cpu = None if args.no_pin else args.cpu
    if cpu is not None and not shutil.which("taskset"):
        sys.exit("error: taskset not found; install util-linux or pass --no-pin")
    chosen = [p for p in sg.programs(shared) if p[0] not in sg.SKIPPED]
    if args.only:
        chosen = [p for p in chosen if p[0] in args.only]
    samples = measure(args, duet, anchor, cpu, chosen)
    text = tables(samples, chosen, args.runs)
    print(text)
    if args.only:
        return
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    m = sg.machine(args.duet)
    section = (
        f"{BEGIN}\n<!-- Generated by scripts/metering-bench.py on {date}; do not edit by hand. -->\n"
        f"Machine: {m['cpu']}; duet {m['duet_commit']}, Wasmtime {m['wasmtime']}; "
        f"pinned to core {cpu}.\n{text}{END}"
    )
    md = sg.BENCHMARKS_MD.read_text()
    if BEGIN in md and END in md:
        md = md[: md.index(BEGIN)] + section + md[md.index(END) + len(END):]
    else:
        md += "\n" + section + "\n"
    sg.BENCHMARKS_MD.write_text(md)
    sg.log(f"wrote {sg.BENCHMARKS_MD}")


if __name__ == "__main__":
    main()
