"""Benchmark: wall time of ``grokphase --help`` against ``python -c pass`` in the same run.

Target: ``grokphase --help`` < 0.5 s.  The baseline is the bare interpreter start-up, measured in the
same run so that the ratio (and the difference, the CLI's own cost) does not depend on the machine's
load.  Each command is run as a fresh subprocess several times; the median is reported.

Run:  python benchmarks/bench_cli_startup.py [--repeats 9] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _grokphase_command() -> list[str]:
    """The installed console script beside this interpreter (else ``python -m grokphase.cli``)."""
    script = Path(sys.executable).with_name("grokphase")
    if script.exists():
        return [str(script)]
    found = shutil.which("grokphase")
    return [found] if found else [sys.executable, "-m", "grokphase.cli"]


def wall_times(cmd: list[str], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` fresh runs of ``cmd`` (output discarded; must exit 0)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="runs per command (median reported)")
    ap.add_argument("--json", help="write the measured numbers here")
    args = ap.parse_args(argv)

    help_cmd = [*_grokphase_command(), "--help"]
    wall_times(help_cmd, 1)                                      # warm the OS file cache / .pyc files
    base = wall_times([sys.executable, "-c", "pass"], args.repeats)
    ours = wall_times(help_cmd, args.repeats)
    out = dict(command=" ".join(help_cmd), repeats=args.repeats, target_seconds=0.5,
               help_median_seconds=statistics.median(ours), python_pass_median_seconds=statistics.median(base),
               ratio=statistics.median(ours) / statistics.median(base),
               cli_overhead_seconds=statistics.median(ours) - statistics.median(base),
               help_runs=ours, python_pass_runs=base,
               meets_target=statistics.median(ours) < 0.5)
    print(json.dumps(out, indent=2))
    if args.json:
        from grokphase._io import atomic_write_json

        atomic_write_json(args.json, out, indent=2)
    return out


if __name__ == "__main__":
    main()
