"""Benchmark: what a hanging function and isolation cost a grading, with the default limits.

Grades, with the hw1 zip, in one run: the untouched template, the solution, the solution whose
`relu_backward` never returns (reached by notebook cells, hidden tests and training), and the
solution with a cell that never ends. Prints seconds and scores for each, in both isolation
modes (namespaces, and uid-only as in Gradescope's container).

    python bench/hang_cost.py [--repeat 3]     # as root, for both modes

The issue's bound: a function that hangs costs its own questions and at most about 90 s of
grading in total (before the watchdog and stand-ins: 284 s on this machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.build import discover, prepare  # noqa: E402
from autograder.gradescope import run_zip  # noqa: E402
from autograder.verify import apply_changes  # noqa: E402

HANGING_BACKWARD = ("dx = dout * (x > 0)", "while True:\n        pass\n    dx = dout * (x > 0)")
HANGING_CELL = ('grader.check("relu")', "while True:\n    pass")


def seconds_and_score(zip_path: Path, notebook: Path, mode: str) -> tuple[float, float]:
    env = {"NN_AUTOGRADER_NAMESPACES": "0"} if mode == "uid-only" else {}
    started = time.perf_counter()
    document, _ = run_zip(zip_path, notebook, env=env)
    return time.perf_counter() - started, float(document.get("score", -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of the quick cases (template, solution)")
    args = parser.parse_args()
    assignment = next(a for a in discover(REPO) if a.name == "hw1_layers")
    modes = ["namespaces", "uid-only"] if os.geteuid() == 0 else ["same-user"]
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        prepared = prepare(assignment, work / "build", REPO)
        cases = {
            "template": prepared.template,
            "solution": prepared.solution,
            "relu_backward hangs": apply_changes(
                prepared.solution, work / "a" / "hw1_layers.ipynb", [HANGING_BACKWARD], []
            ),
            "a cell hangs": apply_changes(prepared.solution, work / "b" / "hw1_layers.ipynb", [], [HANGING_CELL]),
        }
        print(f"{'case':<22}{'mode':<12}{'seconds':>9}{'score':>7}")
        for name, notebook in cases.items():
            for mode in modes:
                runs = [
                    seconds_and_score(prepared.zip_path, notebook, mode)
                    for _ in range(args.repeat if name in ("template", "solution") else 1)
                ]
                seconds = statistics.median(s for s, _ in runs)
                print(f"{name:<22}{mode:<12}{seconds:>9.1f}{runs[-1][1]:>7g}", flush=True)


if __name__ == "__main__":
    main()
