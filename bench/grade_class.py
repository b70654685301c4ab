"""Benchmark: a class of generated submissions with `grade-all` versus sequential `otter run`.

Generates N notebooks (default 100) from hw1's solution, its template and its catalogued bugs,
grades them all with `nn-autograder grade-all` (one job per core), and grades a sample of them
with `otter run` on otter's own zip of the same master, one after another (otter has no parallel
local mode without Docker). Prints submissions per minute for both.

    python bench/grade_class.py [--count 100] [--otter-sample 10] [--jobs N] [--check]

--check also makes one submission unreadable, writes the gradebook, checks that every submission
has a results file and a grades.csv row whose total matches grading that file alone, and times a
second run (every submission unchanged, so all skipped).
"""

from __future__ import annotations

import argparse
import csv
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
from autograder.gradebook import write_gradebook  # noqa: E402
from autograder.gradescope import run_zip  # noqa: E402
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


def check(prepared, work: Path, notebooks: list[Path], documents: dict, jobs: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write_gradebook(documents, work / "out")
    results = sorted((work / "out" / "results").glob("*.json"))
    rows = list(csv.DictReader(open(work / "out" / "grades.csv")))
    broken = documents[notebooks[-1].stem]
    print(
        f"check: {len(results)} results files, {len(rows)} rows in grades.csv; the broken submission: "
        f"score {broken['score']:g}, '{broken['output'][:80]}...'"
    )
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        alone = dict(
            zip([n.stem for n in notebooks], pool.map(lambda n: run_zip(prepared.zip_path, n)[0]["score"], notebooks))
        )
    mismatches = [r["student"] for r in rows if float(r["total"]) != alone[r["student"]]]
    print(
        f"check: totals equal to grading each file alone: {len(rows) - len(mismatches)}/{len(rows)} {mismatches or ''}"
    )
    started = time.perf_counter()
    grade_all(prepared.zip_path, work / "class", work / "out", jobs=jobs)
    print(f"check: second run, all unchanged: {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--otter-sample", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    assignment = next(a for a in discover(REPO) if a.name == "hw1_layers")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        prepared = prepare(assignment, work / "build")
        notebooks = make_class(prepared, assignment, work / "class", args.count)
        if args.check:
            notebooks[-1].write_text('{"cells": [')  # a deliberately broken submission

        started = time.perf_counter()
        documents = grade_all(prepared.zip_path, work / "class", work / "out", jobs=args.jobs)
        ours = time.perf_counter() - started
        assert len(documents) == args.count
        if args.check:
            check(prepared, work, notebooks, documents, args.jobs)

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
    if sample:
        print(
            f"otter run, sequential:          {theirs:7.1f} s for {len(sample)}  -> {60 * len(sample) / theirs:6.1f} submissions/min"
        )
        print(f"ratio (submissions per minute, ours / otter's): {(args.count / ours) / (len(sample) / theirs):.2f}")


if __name__ == "__main__":
    main()
