"""The trusted grader: grade one submission folder into results.json.

``python -m autograder.grade --source DIR --submission DIR --results DIR`` is what a Gradescope
zip's ``run_autograder`` runs (with DIR = /autograder/source, /autograder/submission and
/autograder/results there). The source folder is laid out by `autograder.build`:

    source/assignment/assignment.json   {"name": ..., "notebook": "<hw>.ipynb", "files": [...]}
    source/assignment/files/            data the notebook reads (copied next to it)
    source/assignment/hidden/           the hidden pytest suite and its helpers

Order matters: the fallback results.json is written before any student code runs; the source and
results folders are closed to other users; the notebook runs in a sandbox in a scratch folder
holding only the submission and its data; the final results.json replaces the fallback at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.notebook import NotGradable, find_notebook, read_cells
from autograder.results import fallback_document, results_document, write_atomically
from autograder.sandbox import (
    Limits,
    NotebookRun,
    SandboxDied,
    SandboxUnavailable,
    become_subreaper,
    sandbox_user,
)
from autograder.suite import GradingPlugin


def _prepare_scratch(notebook: Path, notebook_name: str, files_dir: Path) -> Path:
    """A fresh folder holding only the notebook and the assignment's data, owned by the sandbox."""
    scratch = Path(tempfile.mkdtemp(prefix="nn-submission-"))
    shutil.copyfile(notebook, scratch / notebook_name)
    if files_dir.is_dir():
        for item in files_dir.iterdir():
            if item.is_file():
                shutil.copyfile(item, scratch / item.name)
    user = sandbox_user()
    if user is not None:
        for path in [scratch, *scratch.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
    return scratch


def _close_to_others(*folders: Path) -> None:
    """Hidden tests, reference code and results: readable and writable by the grader only."""
    if os.geteuid() != 0:
        return
    for folder in folders:
        if folder.exists():
            os.chmod(folder, 0o700)


def grade(
    source: Path, submission: Path, results_dir: Path, seed: int = 0, limits: Limits | None = None, extra_seeds: int = 0
) -> dict:
    """Grade `submission` with the assignment in `source`; write and return results.json.

    extra_seeds: for `nn-autograder verify` only: after the normal run, run the hidden suite again
    with seeds seed+1 .. seed+extra_seeds on the same notebook run, writing
    results-seed-<n>.json beside results.json.
    """
    started = time.monotonic()
    results_path = results_dir / "results.json"
    write_atomically(results_path, fallback_document())
    become_subreaper()
    _close_to_others(source, results_dir)
    assignment = source / "assignment"
    config = json.loads((assignment / "assignment.json").read_text())
    notebook_name = config["notebook"]

    run, not_gradable, scratch = None, "", None
    log_dir = tempfile.TemporaryDirectory(prefix="nn-sandbox-log-")
    try:
        notebook = find_notebook(submission, notebook_name)
        cells = read_cells(notebook)
        scratch = _prepare_scratch(notebook, notebook_name, assignment / "files")
        run = NotebookRun(
            cells, scratch, limits or Limits.from_environment(), log_path=Path(log_dir.name) / "sandbox.log"
        )
    except NotGradable as problem:
        not_gradable = str(problem)

    if run is not None:
        try:
            run.ensure_running()
        except SandboxUnavailable as problem:  # the grader's fault: say so, and fail loudly
            run.close()
            write_atomically(
                results_path, results_document([], f"The grader is misconfigured: {problem} Tell course staff.")
            )
            raise
        except SandboxDied:
            pass  # recorded per cell; the questions that depend on it lose their points

    try:
        plugin = run_hidden_suite(assignment / "hidden", run, not_gradable, seed)
        document = results_document(plugin.records, _summary(plugin, run, not_gradable), time.monotonic() - started)
        for extra in range(seed + 1, seed + 1 + extra_seeds):
            again = run_hidden_suite(assignment / "hidden", run, not_gradable, extra)
            write_atomically(
                results_dir / f"results-seed-{extra}.json",
                results_document(again.records, _summary(again, run, not_gradable)),
            )
    finally:
        if run is not None:
            run.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        log_dir.cleanup()
    write_atomically(results_path, document)
    return document


def run_hidden_suite(hidden: Path, run: NotebookRun | None, not_gradable: str, seed: int) -> GradingPlugin:
    """Run the pytest suite in `hidden` against the submission; the plugin holds the records.
    The suite's modules are imported afresh each time (no state carried between runs)."""
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(hidden)):
            del sys.modules[name]
    plugin = GradingPlugin(run, not_gradable, seed)
    pytest.main(
        [
            str(hidden),
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(hidden),
            "-o",
            "addopts=",
            "-o",
            "testpaths=",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
        ],
        plugins=[plugin],
    )
    return plugin


def _summary(plugin: GradingPlugin, run: NotebookRun | None, not_gradable: str) -> str:
    if not_gradable:
        return f"This submission could not be graded. {not_gradable}"
    score = sum(r.score for r in plugin.records)
    total = sum(r.max_score for r in plugin.records)
    lines = [f"Score on the checks shown so far: {score:g} / {total:g}."]
    problems = run.problems() if run else []
    if problems:
        lines.append("While running your notebook:")
        lines += [f"- {p}" for p in problems[:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade one submission (what run_autograder runs).")
    parser.add_argument("--source", type=Path, default=Path("/autograder/source"))
    parser.add_argument("--submission", type=Path, default=Path("/autograder/submission"))
    parser.add_argument("--results", type=Path, default=Path("/autograder/results"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("NN_AUTOGRADER_SEED", "0")))
    parser.add_argument(
        "--extra-seeds", type=int, default=int(os.environ.get("NN_AUTOGRADER_EXTRA_SEEDS", "0")), help=argparse.SUPPRESS
    )  # verify: rerun the suite with more seeds
    args = parser.parse_args(argv)
    try:
        grade(args.source, args.submission, args.results, args.seed, extra_seeds=args.extra_seeds)
    except Exception as error:  # the fallback results.json is already in place
        print(f"grading failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
