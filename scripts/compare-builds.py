#!/usr/bin/env python3
"""Two builds of duet side by side, for changes that must not regress:

    python3 scripts/compare-builds.py OLD_DUET NEW_DUET ROUNDS [compile|run|all]

SpiderMonkey's compile time under each tier (`duet compile --threads 1`,
wall time) and every sightglass program's run time under each tier
(`duet bench --json --runs 1`, a fresh process per run), pinned to core 0,
the two builds alternating in each round (old first in odd rounds). Prints
medians, each program's ratio new/old and the geomean of the ratios over
programs that run for at least 0.1 ms. The shared test material is read
from $DUET_SHARED (default ../shared); the raw samples go to
compare-builds.json in the current directory. A program one of the builds
cannot run under a tier (a build from before the tier supported it) is
left out of that tier's comparison, and said so."""
import json, os, statistics, subprocess, sys, time, glob
old, new, rounds = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
what = sys.argv[4] if len(sys.argv) > 4 else "all"
shared = os.environ.get("DUET_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
sm = os.path.join(shared, "bench/compile/spidermonkey.wasm")
progs = sorted(glob.glob(os.path.join(shared, "bench/sightglass/**/*.wasm"), recursive=True))
# (program, tier) pairs a build failed to run: left out of the comparison.
failed = set()
def tier_progs(tier):
    return [p for p in progs if (p, tier) not in failed]
def compile_time(binary, tier):
    t = time.perf_counter()
    subprocess.run(["taskset", "-c", "0", binary, "compile", "--compiler", tier, "--threads", "1", sm], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
def run_time(binary, tier, prog):
    run = subprocess.run(["taskset", "-c", "0", binary, "bench", "--json", "--runs", "1", "--compiler", tier, prog], capture_output=True, text=True, cwd=os.path.dirname(prog))
    if run.returncode != 0:
        print(f"left out: {prog} under {tier}: {binary} failed: {run.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        failed.add((prog, tier))
        return None
    return json.loads(run.stdout.strip().splitlines()[-1])["run_ms"]
res = {}
for r in range(rounds):
    order = [("old", old), ("new", new)] if r % 2 == 0 else [("new", new), ("old", old)]
    for tier in ["winch", "cranelift"]:
        if what in ("all", "compile"):
            for name, b in order:
                res.setdefault(("compile", tier, name), []).append(compile_time(b, tier))
        if what in ("all", "run"):
            for p in tier_progs(tier):
                for name, b in order:
                    t = run_time(b, tier, p)
                    if t is None:
                        break
                    res.setdefault((os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p), tier, name), []).append(t)
    print(f"round {r+1} done", file=sys.stderr)
json.dump({"|".join(k): v for k, v in res.items()}, open("compare-builds.json", "w"))
def med(k): return statistics.median(res[k])
if what in ("all", "compile"):
    for tier in ["winch", "cranelift"]:
        o, n = med(("compile", tier, "old")), med(("compile", tier, "new"))
        print(f"spidermonkey compile {tier}: old {o:.3f} s, new {n:.3f} s, new/old {n/o:.3f}")
if what in ("all", "run"):
    for tier in ["winch", "cranelift"]:
        ratios = []
        for p in tier_progs(tier):
            k = os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p)
            o, n = med((k, tier, "old")), med((k, tier, "new"))
            if min(o, n) >= 0.1:
                ratios.append(n / o)
            print(f"  {tier} {k}: old {o:.2f} ms new {n:.2f} ms ({n/o if o else float('nan'):.3f})")
        g = statistics.geometric_mean(ratios)
        print(f"sightglass run time {tier}: geomean new/old {g:.3f} over {len(ratios)} programs")
