"""Benchmark: a class of generated submissions with `grade-all` versus sequential `otter run`.

Generates N notebooks (default 100) from hw1's solution, its template and its catalogued bugs,
grades them all with `nn-autograder grade-all` (one job per core), and grades a sample of them
with `otter run` on otter's own zip of the same master, one after another (otter has no parallel
local mode without Docker). Prints submissions per minute for both.

    python bench/grade_class.py [--count 100] [--otter-sample 10] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.build import discover, prepare  # noqa: E402
from autograder.grade_all import grade_all  # noqa: E402
from autograder.verify import apply_changes, load_catalogue  # noqa: E402


def make_class(prepared, assignment, folder: Path, count: int) -> list[Path]:
    bugs = [c for c in load_catalogue(assignment) if c.kind == "bug"]
    folder.mkdir(parents=True)
    notebooks = []
    for index in range(count):
        path = folder / f"student{index:03d}.ipynb"
        kind = index % 4
        if kind == 0:
            shutil.copyfile(prepared.solution, path)
        elif kind == 1:
            shutil.copyfile(prepared.template, path)
        else:
            bug = bugs[index % len(bugs)]
            apply_changes(prepared.solution, path, bug.replace, bug.insert)
        notebooks.append(path)
    return notebooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--otter-sample", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    assignment = next(a for a in discover(REPO) if a.name == "hw1_layers")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        prepared = prepare(assignment, work / "build")
        notebooks = make_class(prepared, assignment, work / "class", args.count)

        started = time.perf_counter()
        documents = grade_all(prepared.zip_path, work / "class", work / "out", jobs=args.jobs)
        ours = time.perf_counter() - started
        assert len(documents) == args.count

        otter_zip = next((prepared.otter_out / "autograder").glob("*.zip"))
        sample = notebooks[: args.otter_sample]
        started = time.perf_counter()
        for index, notebook in enumerate(sample):
            out = work / "otter" / str(index)
            out.mkdir(parents=True)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "otter",
                    "run",
                    "-a",
                    str(otter_zip),
                    "-o",
                    str(out),
                    "--no-logo",
                    str(notebook),
                ],
                capture_output=True,
                check=False,
            )
        theirs = time.perf_counter() - started
    print(
        f"class of {args.count} generated hw1 submissions (solution, template, catalogued bugs), {os.cpu_count()} cores"
    )
    print(
        f"nn-autograder grade-all --jobs {args.jobs}: {ours:7.1f} s for {args.count}  -> {60 * args.count / ours:6.1f} submissions/min"
    )
    print(
        f"otter run, sequential:          {theirs:7.1f} s for {len(sample)}  -> {60 * len(sample) / theirs:6.1f} submissions/min"
    )
    print(f"ratio (submissions per minute, ours / otter's): {(args.count / ours) / (len(sample) / theirs):.2f}")


if __name__ == "__main__":
    main()
