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
from autograder.results import fallback_document, grader_error_document, results_document, write_atomically
from autograder.sandbox import (
    IsolationError,
    Limits,
    NotebookRun,
    SandboxDied,
    SandboxIdentity,
    SandboxUnavailable,
    become_subreaper,
)
from autograder.sandbox.isolation import SCRATCH_PREFIX, close_checkout_to_others
from autograder.suite import GradingPlugin

GRADER_ERROR_EXIT = 3  # run_autograder's exit code when the fault is the grader's, not the student's


class GraderError(Exception):
    """The grader could not grade on this machine (installation, isolation): never a score."""


def _prepare_scratch(notebook_bytes: bytes, notebook_name: str, files_dir: Path, identity) -> tuple[Path, Path]:
    """A root-owned folder (others may only pass through) holding `work/`: the notebook and the
    assignment's data, owned by the sandbox uid. Everything is written here as root into folders
    nobody else can write to, and ownership is handed over last, never through a link.
    Returns (the folder, work/)."""
    base = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))  # 0700, ours
    work = base / "work"
    os.mkdir(work, 0o700)
    _write_new(work / notebook_name, notebook_bytes)
    if files_dir.is_dir():
        for item in sorted(files_dir.iterdir()):
            if item.is_file() and not item.is_symlink():
                _write_new(work / item.name, item.read_bytes())
    if identity is not None:
        for path in sorted(work.iterdir()):
            os.chown(path, identity.uid, identity.gid, follow_symlinks=False)
        os.chown(work, identity.uid, identity.gid, follow_symlinks=False)
        os.chmod(base, 0o711)
    return base, work


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _close_to_others(*folders: Path) -> None:
    """Hidden tests, reference code and results: readable and writable by the grader only; so is
    the checkout's solutions/, dist/ and .git when grading from a checkout (`close_checkout_to_others`)."""
    if os.geteuid() != 0:
        return
    for folder in folders:
        if folder.exists():
            os.chmod(folder, 0o700)
    close_checkout_to_others()


def grade(
    source: Path, submission: Path, results_dir: Path, seed: int = 0, limits: Limits | None = None, extra_seeds: int = 0
) -> dict:
    """Grade `submission` with the assignment in `source`; write and return results.json.
    Raises GraderError (after writing a results.json that says so, with no score) when the
    fault is the grader's: the sandbox cannot be isolated or never gets ready.

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

    run, not_gradable, base, identity = None, "", None, None
    try:
        try:
            identity = SandboxIdentity.acquire()
            notebook = find_notebook(submission, notebook_name)
            cells = read_cells(notebook)
            base, work = _prepare_scratch(notebook.read_bytes(), notebook_name, assignment / "files", identity)
            log_dir = base / "log"
            os.mkdir(log_dir, 0o700)
            run = NotebookRun(cells, work, limits or Limits.from_environment(), log_dir / "sandbox.log", identity)
            run.ensure_running()
        except NotGradable as problem:
            not_gradable = str(problem)
        except SandboxDied:
            pass  # recorded per cell; the questions that depend on it lose their points
        except (SandboxUnavailable, IsolationError) as problem:  # the grader's fault: say so, and fail loudly
            write_atomically(results_path, grader_error_document(str(problem)))
            raise GraderError(str(problem)) from None

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
            print(run.accounting())  # the grader's output: instructors only
            run.close()
        if identity is not None:
            identity.release()  # every process of the uid killed, its temporary files removed
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
    write_atomically(results_path, document)
    return document


def run_hidden_suite(hidden: Path, run: NotebookRun | None, not_gradable: str, seed: int) -> GradingPlugin:
    """Run the pytest suite in `hidden` against the submission; the plugin holds the records.
    The suite's modules are imported afresh each time (no state carried between runs).

    pytest's configuration is fixed here, never discovered: an empty ini file of the grader's
    own (`-c`), rootdir and confcutdir at the hidden folder, no plugins but ours. So no
    pytest.ini, conftest.py or setup.cfg outside the hidden folder (say, in /tmp) is ever read."""
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(hidden)):
            del sys.modules[name]
    for variable in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(variable, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugin = GradingPlugin(run, not_gradable, seed)
    with tempfile.TemporaryDirectory(prefix="nn-pytest-") as config_dir:
        ini = Path(config_dir) / "pytest.ini"
        ini.write_text("[pytest]\n")
        pytest.main(
            [
                str(hidden),
                "-c",
                str(ini),
                "--rootdir",
                str(hidden),
                "--confcutdir",
                str(hidden),
                "-q",
                "-p",
                "no:cacheprovider",
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
    except GraderError as error:  # results.json says so, with no score
        print(f"grader error (not the student's): {error}", file=sys.stderr)
        return GRADER_ERROR_EXIT
    except Exception as error:  # a bug of the grader: the fallback results.json is in place
        print(f"grading failed: {type(error).__name__}: {error}", file=sys.stderr)
        write_atomically(args.results / "results.json", grader_error_document(f"{type(error).__name__}: {error}"))
        return GRADER_ERROR_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
