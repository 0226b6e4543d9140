"""Benchmark: start-up of the `misflag` command vs a bare Python interpreter (target: under 0.3 s).

`misflag --version` and `misflag --help` each run in a fresh process, `--runs` times; the anchor is
`python -c pass`, the least any Python command line costs. Prints the median and the range of each, the
ratio of the medians to the bare interpreter, and which command modules `--help` imported (none expected).

    python benchmarks/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def _times(command: list[str], runs: int) -> list[float]:
    """Wall-clock seconds of `runs` fresh processes of `command`."""
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        spent.append(time.perf_counter() - start)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    script = shutil.which("misflag")
    misflag = [script] if script else [sys.executable, "-m", "misflag"]
    bare = statistics.median(_times([sys.executable, "-c", "pass"], runs))
    print(f"python -c pass       median {bare:.3f} s")
    for argument in ("--version", "--help"):
        spent = _times([*misflag, argument], runs)
        median = statistics.median(spent)
        print(
            f"misflag {argument:<12} median {median:.3f} s (min {min(spent):.3f}, max {max(spent):.3f}); "
            f"{median / bare:.1f}x bare python; target 0.3 s: {'met' if median < 0.3 else 'NOT met'}"
        )
    probe = (
        "import sys; from misflag.cli import main; main(['--help']); "
        "print('command modules imported:', sorted(m for m in sys.modules if m.startswith('misflag.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    print(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
