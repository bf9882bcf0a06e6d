#!/usr/bin/env python3
"""Sightglass programs under duet and under Wasmtime, side by side.

    python3 scripts/sightglass-bench.py                 # build, measure, write the docs
    python3 scripts/sightglass-bench.py --runs 3 --only bz2 shootout-fib2   # prints the tables only
    python3 scripts/sightglass-bench.py --render-only   # docs again from the saved results

Every sightglass program (`$SHARED/bench/sightglass/*/benchmark.wasm` and
`shootout/*.wasm`) runs under each tier of both engines, except what a
tier of duet cannot compile yet (`DUET_TIER_SKIPPED`, empty now; Wasmtime
would still run it there):

    duet      `duet bench --json --runs 1 --compiler TIER FILE`
    Wasmtime  `anchor-bench run TIER ./FILE` in the program's directory
              (`$SHARED/tools/anchor-bench`: Wasmtime with its default
              configuration, the same sightglass protocol), under
              `/usr/bin/time -f %M` for its peak RSS

Both are pinned to one core (`taskset -c CPU`) and alternate: in each of N
rounds, every program runs under each tier once in duet and once in
Wasmtime, duet first in odd rounds and Wasmtime first in even ones, so that
a burst of load elsewhere hits both and neither always runs on a warm
cache. Each figure is the median of the N rounds; the ratios (duet /
Wasmtime, lower is better for duet) are of the medians.

What is compared:

* run time: between the program's `bench.start` and `bench.end` calls, in
  both engines;
* compile time: duet's `compile_ms` (`Module::from_binary` on one thread,
  the first compilation in a fresh process) against anchor-bench's
  `compile_ms` (`Module::from_file` with Wasmtime's default, parallel,
  compilation, also the first in a fresh process; pinned to one core,
  Wasmtime's thread pool has one thread);
* peak RSS: `duet bench`'s `peak_rss_kb` (the measuring child process,
  both compilations and the run) against `/usr/bin/time`'s maximum
  resident set of the whole `anchor-bench` process.

Outputs (paths relative to the repository):

* `docs/sightglass-results.json`: every sample, with the machine and the
  versions (the input of `--render-only`);
* `docs/sightglass-ratios.svg`: the run-time ratios per program, both
  tiers, on a log scale around 1.0;
* `docs/benchmarks.md`: the part between `<!-- sightglass:begin -->` and
  `<!-- sightglass:end -->` is replaced by the tables (the rest of the
  file, including the discussion of the figures, is left alone).

Python 3 standard library only. Exits with 1 if any program failed in
either engine (the others are still measured and written).
"""

import argparse
import atexit
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
RESULTS = DOCS / "sightglass-results.json"
SVG = DOCS / "sightglass-ratios.svg"
BENCHMARKS_MD = DOCS / "benchmarks.md"
BEGIN = "<!-- sightglass:begin -->"
END = "<!-- sightglass:end -->"

TIERS = ("winch", "cranelift")
# Programs that need what duet does not support yet.
SKIPPED = {}
# Programs one tier of duet does not support yet (Wasmtime still runs them).
DUET_TIER_SKIPPED = {}
# Run times below this (either engine) give no meaningful ratio.
MIN_RUN_MS = 0.1
DEFAULT_ANCHOR = Path("/tmp/anchor-target/release/anchor-bench")


def shared_dir():
    env = os.environ.get("DUET_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def programs(shared):
    """(name, directory, file name) of every program, sorted by name."""
    root = shared / "bench" / "sightglass"
    found = []
    for wasm in sorted(root.glob("*/benchmark.wasm")):
        found.append((wasm.parent.name, wasm.parent, wasm.name))
    for wasm in sorted((root / "shootout").glob("*.wasm")):
        found.append((wasm.stem, wasm.parent, wasm.name))
    if not found:
        sys.exit(f"error: no sightglass programs under {root} (set DUET_SHARED)")
    return sorted(found)


def log(message):
    print(message, file=sys.stderr, flush=True)


def build_duet():
    """Builds `duet` (release) and copies it to a private directory, so a
    rebuild elsewhere during the measurement cannot swap it."""
    log("building duet: cargo build --release -p duet-cli")
    subprocess.run(["cargo", "build", "--release", "-p", "duet-cli"], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    private = Path(tempfile.mkdtemp(prefix="sightglass-bench-"))
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    shutil.copy2(target / "release" / "duet", private / "duet")
    return private / "duet"


def build_anchor(shared):
    manifest = shared / "tools" / "anchor-bench" / "Cargo.toml"
    log(f"building anchor-bench: cargo build --release --manifest-path {manifest}")
    env = dict(os.environ, CARGO_TARGET_DIR=str(DEFAULT_ANCHOR.parent.parent))
    subprocess.run(
        ["cargo", "build", "--release", "--manifest-path", str(manifest)], env=env, check=True
    )
    return DEFAULT_ANCHOR


def pinned(command, cpu):
    return (["taskset", "-c", str(cpu)] if cpu is not None else []) + command


def run_duet(duet, directory, file, tier, cpu, extra=()):
    """One `duet bench` run (with the `extra` options, `--fuel` say):
    {compile_ms, run_ms, peak_rss_kb} or an error string."""
    command = [str(duet), "bench", "--json", "--runs", "1", "--compiler", tier, *extra, file]
    done = subprocess.run(
        pinned(command, cpu),
        cwd=directory,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return (done.stderr.strip() or f"exit status {done.returncode}").splitlines()[0]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    if line.get("run_measured") != "bench.start..bench.end":
        return "the program called no bench.start/bench.end"
    return {k: line[k] for k in ("compile_ms", "run_ms", "peak_rss_kb")}


ANCHOR_LINE = re.compile(r"compile_ms=([0-9.]+) run_ms=([0-9.]+) result=(.*)$")


def run_anchor(anchor, directory, file, tier, cpu, env=None):
    """One `anchor-bench run` (under /usr/bin/time if there is one), with
    `env` added to the environment (`ANCHOR_FUEL=1`, say)."""
    timed = ["/usr/bin/time", "-f", "peak_rss_kb=%M"] if Path("/usr/bin/time").exists() else []
    done = subprocess.run(
        pinned(timed + [str(anchor), "run", tier, f"./{file}"], cpu),
        env=dict(os.environ, **(env or {})),
        cwd=directory,
        capture_output=True,
        text=True,
    )
    lines = done.stdout.strip().splitlines()
    match = ANCHOR_LINE.search(lines[-1]) if lines else None
    if done.returncode != 0 or not match:
        return (done.stderr.strip() or f"exit status {done.returncode}").splitlines()[-1]
    if match.group(3) != "None":
        return f"the program failed: {match.group(3)}"
    sample = {"compile_ms": float(match.group(1)), "run_ms": float(match.group(2))}
    rss = re.findall(r"^peak_rss_kb=(\d+)$", done.stderr, re.MULTILINE)
    sample["peak_rss_kb"] = int(rss[-1]) if rss else None
    return sample


def machine(duet_given):
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def output(command, cwd=REPO):
        try:
            return subprocess.run(command, cwd=cwd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "unknown"

    commit = output(["git", "rev-parse", "--short", "HEAD"])
    # Changes under docs/ (this script's own output) do not change duet.
    if output(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"]):
        commit += " (with uncommitted changes)"
    wasmtime = "unknown"
    lock = shared_dir() / "tools" / "anchor-bench" / "Cargo.lock"
    if lock.exists():
        found = re.search(r'name = "wasmtime"\nversion = "([^"]+)"', lock.read_text())
        wasmtime = found.group(1) if found else wasmtime
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "rustc": output(["rustc", "--version"]),
        "duet_commit": commit,
        # A --duet executable may not be built from this commit.
        "duet_binary": duet_given or "built by the script from the commit",
        "wasmtime": wasmtime,
        "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def measure(args):
    shared = shared_dir()
    # Resolved now: each program runs with its own directory as the working one.
    duet = Path(args.duet).resolve() if args.duet else build_duet()
    anchor = Path(args.anchor).resolve() if args.anchor else DEFAULT_ANCHOR
    if not anchor.exists():
        anchor = build_anchor(shared)
    cpu = None if args.no_pin else args.cpu
    if cpu is not None and not shutil.which("taskset"):
        sys.exit("error: taskset not found; install util-linux or pass --no-pin")
    chosen = [p for p in programs(shared) if p[0] not in SKIPPED]
    if args.only:
        chosen = [p for p in chosen if p[0] in args.only]
        missing = set(args.only) - {p[0] for p in chosen}
        if missing:
            sys.exit(f"error: no such program(s): {', '.join(sorted(missing))}")
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "runs": args.runs,
        "pinned_cpu": cpu,
        "machine": machine(args.duet),
        "skipped": SKIPPED,
        "duet_tier_skipped": {
            f"{name} {tier}": why for (name, tier), why in DUET_TIER_SKIPPED.items()
        },
        "programs": {
            name: {tier: {"duet": [], "wasmtime": [], "errors": []} for tier in TIERS}
            for name, _, _ in chosen
        },
    }
    started = time.monotonic()
    for round_index in range(args.runs):
        duet_first = round_index % 2 == 0
        for name, directory, file in chosen:
            for tier in TIERS:
                slot = results["programs"][name][tier]
                if slot["errors"]:
                    continue
                elapsed = time.monotonic() - started
                log(f"[round {round_index + 1}/{args.runs}, {elapsed:.0f} s] {name} {tier}")
                engines = [("duet", run_duet, duet), ("wasmtime", run_anchor, anchor)]
                if not duet_first:
                    engines.reverse()
                if (name, tier) in DUET_TIER_SKIPPED:
                    engines = [e for e in engines if e[0] != "duet"]
                for engine, run, exe in engines:
                    sample = run(exe, directory, file, tier, cpu)
                    if isinstance(sample, str):
                        log(f"error: {name} ({engine} {tier}): {sample}")
                        slot["errors"].append(f"{engine}: {sample}")
                    else:
                        slot[engine].append(sample)
    return results


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def geomean(ratios):
    ratios = [r for r in ratios if r]
    if not ratios:
        return None
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def summarize(results):
    """Per program and tier: the medians of both engines and the ratios."""
    rows = {}
    for name, tiers in results["programs"].items():
        rows[name] = {}
        for tier, slot in tiers.items():
            row = {"error": "; ".join(slot["errors"]) or None}
            for engine in ("duet", "wasmtime"):
                for figure in ("compile_ms", "run_ms", "peak_rss_kb"):
                    row[f"{engine}_{figure}"] = median(s[figure] for s in slot[engine])
            for figure in ("compile_ms", "run_ms", "peak_rss_kb"):
                ours, theirs = row[f"duet_{figure}"], row[f"wasmtime_{figure}"]
                usable = ours is not None and theirs and not row["error"]
                if figure == "run_ms" and usable:
                    usable = min(ours, theirs) >= MIN_RUN_MS
                row[f"{figure}_ratio"] = ours / theirs if usable else None
            rows[name][tier] = row
    return rows


def fmt_ms(value):
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value, bold=False):
    if value is None:
        return "–"
    text = f"{value:.2f}x"
    return f"**{text}**" if bold else text


def markdown(results, rows):
    m = results["machine"]
    pinned_to = (
        f"pinned to core {results['pinned_cpu']} with `taskset`"
        if results["pinned_cpu"] is not None
        else "not pinned"
    )
    names = sorted(rows)
    out = [
        "<!-- Generated by scripts/sightglass-bench.py from docs/sightglass-results.json;",
        "     do not edit. Re-measure: python3 scripts/sightglass-bench.py --runs N;",
        "     re-render only: python3 scripts/sightglass-bench.py --render-only. -->",
        "",
        f"Measured on {results['date']}: {m['cores']} cores, CPU \"{m['cpu']}\", {m['os']}, "
        f"{pinned_to}; duet {m['duet_commit']} built by {m['rustc']} (release), "
        f"Wasmtime {m['wasmtime']} (`anchor-bench`, its default configuration). "
        f"Medians of {results['runs']} alternating runs; ratio = duet / Wasmtime "
        f"(below 1.0: duet is faster or smaller). Load average when the run began: "
        f"{m['load_average_at_start']}.",
        "",
        "**Run time** (`bench.start` to `bench.end`, ms):",
        "",
        "| program | duet winch | Wasmtime Winch | ratio | duet cranelift | Wasmtime Cranelift | ratio |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name in names:
        cells = [name]
        for tier in TIERS:
            row = rows[name][tier]
            if row["error"]:
                cells += ["failed", "", ""]
                continue
            ratio = row["run_ms_ratio"]
            if row["duet_run_ms"] is None:
                ratio_cell = "–"
            else:
                ratio_cell = fmt_ratio(ratio) if ratio else "(too short)"
            cells += [
                fmt_ms(row["duet_run_ms"]),
                fmt_ms(row["wasmtime_run_ms"]),
                ratio_cell,
            ]
        out.append("| " + " | ".join(cells) + " |")
    targets = {"winch": 1.0, "cranelift": 1.05}
    cells = ["**geomean**"]
    for tier in TIERS:
        g = geomean(rows[n][tier]["run_ms_ratio"] for n in names)
        cells += ["", "", f"{fmt_ratio(g, bold=True)} (target ≤ {targets[tier]:.2f}x)"]
    out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        f"Programs whose run time is under {MIN_RUN_MS} ms in either engine are left out of "
        "the geomean (their ratio is noise).",
        "",
        "![Run-time ratio duet / Wasmtime per program, both tiers](sightglass-ratios.svg)",
        "",
        "**Compile time** (ms; duet on one thread, Wasmtime with its default parallel "
        "compilation on the one core it may use) **and peak memory** (RSS of the whole "
        "process, MiB):",
        "",
        "| program | duet winch | Wasmtime Winch | ratio | duet cranelift | Wasmtime Cranelift | ratio "
        "| peak RSS winch: duet / Wasmtime | peak RSS cranelift: duet / Wasmtime |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name in names:
        cells = [name]
        for tier in TIERS:
            row = rows[name][tier]
            cells += [
                fmt_ms(row["duet_compile_ms"]),
                fmt_ms(row["wasmtime_compile_ms"]),
                fmt_ratio(row["compile_ms_ratio"]),
            ]
        for tier in TIERS:
            row = rows[name][tier]
            ours, theirs = row["duet_peak_rss_kb"], row["wasmtime_peak_rss_kb"]
            if ours is None or theirs is None:
                cells.append("–")
            else:
                cells.append(
                    f"{ours / 1024:.1f} / {theirs / 1024:.1f} = "
                    f"{fmt_ratio(row['peak_rss_kb_ratio'])}"
                )
        out.append("| " + " | ".join(cells) + " |")
    cells = ["**geomean**"]
    for tier in TIERS:
        cells += ["", "", fmt_ratio(geomean(rows[n][tier]["compile_ms_ratio"] for n in names), True)]
    for tier in TIERS:
        cells.append(fmt_ratio(geomean(rows[n][tier]["peak_rss_kb_ratio"] for n in names), True))
    out.append("| " + " | ".join(cells) + " |")
    failures = [
        f"* {name} ({tier}): {rows[name][tier]['error']}"
        for name in names
        for tier in TIERS
        if rows[name][tier]["error"]
    ]
    if failures:
        out += ["", "Failed:", ""] + failures
    # A tier of duet left out: its program against Wasmtime's other tier.
    tier_skipped = results.get("duet_tier_skipped", {})
    for key, why in sorted(tier_skipped.items()):
        name, tier = key.rsplit(" ", 1)
        if name not in rows:
            continue
        line = f"Not measured: {name} under duet's {tier} tier ({why})."
        ours = rows[name]["winch"]["duet_run_ms"]
        for other in TIERS:
            theirs = rows[name][other]["wasmtime_run_ms"]
            if ours and theirs:
                line += (
                    f" duet winch / Wasmtime {other.capitalize()} on its run time: "
                    f"{fmt_ms(ours)} / {fmt_ms(theirs)} ms = {fmt_ratio(ours / theirs)}."
                )
        out += ["", line]
    skipped = ", ".join(f"{k} ({v})" for k, v in results["skipped"].items())
    if skipped:
        out += ["", f"Not measured: {skipped}."]
    return "\n".join(out) + "\n"


def svg(results, rows):
    """A horizontal bar chart of the run-time ratios on a log2 axis around
    1.0: a bar goes right of the 1.0 line when duet is slower, left when it
    is faster."""
    names = [n for n in sorted(rows) if any(rows[n][t]["run_ms_ratio"] for t in TIERS)]
    geo = {t: geomean(rows[n][t]["run_ms_ratio"] for n in names) for t in TIERS}
    entries = [(n, {t: rows[n][t]["run_ms_ratio"] for t in TIERS}) for n in names]
    entries.append(("geomean", geo))
    colors = {"winch": "#4e79a7", "cranelift": "#e15759"}
    label_width, plot_width, right_margin = 170, 560, 70
    bar, gap, top = 11, 10, 70
    row_height = 2 * bar + gap
    height = top + row_height * len(entries) + 50
    width = label_width + plot_width + right_margin
    ratios = [r for _, e in entries for r in e.values() if r]
    low = min(0.5, min(ratios, default=1) / 1.1)
    high = max(2.0, max(ratios, default=1) * 1.1)
    lo, hi = math.log2(low), math.log2(high)

    def x(ratio):
        return label_width + (math.log2(ratio) - lo) / (hi - lo) * plot_width

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<!-- Generated by scripts/sightglass-bench.py; do not edit. -->",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
        "Sightglass run time, duet / Wasmtime (log scale; left of 1.0: duet faster)</text>",
        f'<text x="{width / 2}" y="40" text-anchor="middle" fill="#555">'
        f"medians of {results['runs']} alternating runs, {results['date']}, "
        f"Wasmtime {results['machine']['wasmtime']}</text>",
    ]
    for i, tier in enumerate(TIERS):
        lx = label_width + i * 220
        parts.append(f'<rect x="{lx}" y="50" width="12" height="12" fill="{colors[tier]}"/>')
        parts.append(
            f'<text x="{lx + 17}" y="60">{tier} (duet) / {tier.capitalize()} (Wasmtime)</text>'
        )
    bottom = top + row_height * len(entries)
    tick = 2.0 ** math.floor(lo)
    while tick <= high:
        if tick >= low:
            tx = x(tick)
            stroke = "#000" if tick == 1 else "#ddd"
            parts.append(
                f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="{stroke}"/>'
            )
            parts.append(
                f'<text x="{tx:.1f}" y="{bottom + 16}" text-anchor="middle">{tick:g}x</text>'
            )
        tick *= 2
    for index, (name, ratios_by_tier) in enumerate(entries):
        y = top + index * row_height
        weight = ' font-weight="bold"' if name == "geomean" else ""
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar + 4}" text-anchor="end"{weight}>{name}</text>'
        )
        for j, tier in enumerate(TIERS):
            ratio = ratios_by_tier[tier]
            by = y + j * bar
            if not ratio:
                continue
            x0, x1 = sorted((x(1.0), x(ratio)))
            parts.append(
                f'<rect x="{x0:.1f}" y="{by}" width="{max(x1 - x0, 1):.1f}" height="{bar - 1}" '
                f'fill="{colors[tier]}"><title>{name} {tier}: {ratio:.3f}x</title></rect>'
            )
            parts.append(
                f'<text x="{x1 + 3 if ratio >= 1 else x0 - 3:.1f}" y="{by + bar - 2}" '
                f'font-size="10" text-anchor="{"start" if ratio >= 1 else "end"}">{ratio:.2f}</text>'
            )
    parts.append(
        f'<text x="{label_width + plot_width / 2}" y="{bottom + 36}" text-anchor="middle" '
        f'fill="#555">programs under {MIN_RUN_MS} ms in either engine are left out</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_docs(results):
    rows = summarize(results)
    SVG.write_text(svg(results, rows))
    table = markdown(results, rows)
    text = BENCHMARKS_MD.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        _, after = rest.split(END, 1)
        BENCHMARKS_MD.write_text(f"{before}{BEGIN}\n{table}{END}{after}")
        log(f"wrote {SVG.relative_to(REPO)} and the marked section of {BENCHMARKS_MD.relative_to(REPO)}")
    else:
        log(f"wrote {SVG.relative_to(REPO)}; {BENCHMARKS_MD.name} has no {BEGIN} marker, so:")
        print(table)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds; figures are medians (default 5)")
    parser.add_argument("--duet", help="the duet executable (default: build it, release)")
    parser.add_argument(
        "--anchor",
        help=f"the anchor-bench executable (default: {DEFAULT_ANCHOR}, built if missing)",
    )
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin to (default 0)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to a core")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PROGRAM",
        help="measure only these programs and print the tables (the saved results and the docs are left alone)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help=f"write the docs from {RESULTS.relative_to(REPO)} without measuring",
    )
    args = parser.parse_args()
    if args.render_only:
        results = json.loads(RESULTS.read_text())
    else:
        if args.runs < 1:
            parser.error("--runs must be at least 1")
        results = measure(args)
    if args.only:
        # A partial measurement leaves the saved results and the docs alone.
        rows = summarize(results)
        print(markdown(results, rows))
    else:
        if not args.render_only:
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        rows = write_docs(results)
    failed = [(n, t) for n in rows for t in TIERS if rows[n][t]["error"]]
    for tier in TIERS:
        g = geomean(rows[n][tier]["run_ms_ratio"] for n in rows)
        c = geomean(rows[n][tier]["compile_ms_ratio"] for n in rows)
        log(f"{tier}: run-time geomean {fmt_ratio(g)}, compile-time geomean {fmt_ratio(c)}")
    if failed:
        log(f"{len(failed)} program/tier pair(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
