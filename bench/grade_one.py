"""Benchmark: grade one notebook with our Gradescope zip versus `otter run` on otter's zip.

Both zips come from the same master (solutions/hw1_layers); both grade the same solution
notebook, alternating, in one run. Prints each time (median of --repeat runs) and the ratio.

    python bench/grade_one.py [--repeat 3]

What each side does differs, and the figures should be read with that in mind: ours runs the
notebook in an unprivileged sandbox and then 35 hidden checks (numerical gradients, three training
runs); otter's zip holds only the master's public tests and runs them in the student's kernel.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.build import discover, prepare  # noqa: E402
from autograder.gradescope import run_zip  # noqa: E402


def time_ours(zip_path: Path, notebook: Path) -> tuple[float, float]:
    start = time.perf_counter()
    document, _ = run_zip(zip_path, notebook)
    return time.perf_counter() - start, document["score"]


def time_otter(zip_path: Path, notebook: Path, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(out), "--no-logo", str(notebook)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    assignment = next(a for a in discover(REPO) if a.name == "hw1_layers")
    with tempfile.TemporaryDirectory() as temporary:
        prepared = prepare(assignment, Path(temporary))
        otter_zip = next((prepared.otter_out / "autograder").glob("*.zip"))
        ours, theirs, score = [], [], None
        for index in range(args.repeat):
            seconds, score = time_ours(prepared.zip_path, prepared.solution)
            ours.append(seconds)
            theirs.append(time_otter(otter_zip, prepared.solution, Path(temporary) / f"otter{index}"))
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"notebook: hw1_layers solution ({args.repeat} runs each, alternating; our score {score:g}/20)")
    print(
        f"nn-autograder grade (zip, sandbox, hidden suite): {ours_median:6.2f} s  (runs: {', '.join(f'{s:.2f}' for s in ours)})"
    )
    print(
        f"otter run (otter zip, public tests, in-kernel):   {theirs_median:6.2f} s  (runs: {', '.join(f'{s:.2f}' for s in theirs)})"
    )
    print(f"ratio nn-autograder / otter run: {ours_median / theirs_median:.2f}")


if __name__ == "__main__":
    main()
