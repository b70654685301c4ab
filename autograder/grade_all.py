"""`nn-autograder grade-all ZIP SUBMISSIONS --out DIR`: grade a whole class locally, in parallel.

SUBMISSIONS is one of:
- a folder of notebooks, one per student, named by student (``alice.ipynb``);
- Gradescope's "Export Submissions" folder or zip: a folder per submission
  (``submission_123456/``) and ``submission_metadata.yml`` naming the students.

Each submission is graded with `autograder.gradescope.run_zip` (exactly what Gradescope would do)
and its results.json kept as ``DIR/results/<student>.json``, with ``<student>.key`` beside it: a
hash of the zip and of the submission's files. A rerun skips every submission whose key is
unchanged (``--force`` regrades all). A crash, timeout or unreadable file is recorded as that
submission's results and never stops or changes the others; a grader error (the grader could not
run: installation, isolation) is recorded as such, never as a zero, is graded again on the next
run, and makes the command exit non-zero. Then `autograder.gradebook` writes
grades.csv, summary.md and the plots.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder.gradescope import run_zip
from autograder.results import grader_error, grader_error_document, write_atomically


@dataclass(frozen=True)
class Submission:
    student: str  # a name safe for a file name, unique in the class
    path: Path  # a notebook, or a folder of the submission's files


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", text).strip("_") or "unnamed"


def _student_names(metadata: Path) -> dict[str, str]:
    """submission folder -> student name(s), from Gradescope's submission_metadata.yml."""
    import yaml

    data = yaml.safe_load(metadata.read_text()) or {}
    names = {}
    for folder, info in data.items():
        submitters = (info or {}).get(":submitters") or []
        label = " + ".join(str(s.get(":name") or s.get(":email") or s.get(":sid") or "") for s in submitters)
        names[str(folder)] = label or str(folder)
    return names


def collect(submissions: Path, workdir: Path) -> list[Submission]:
    """The class's submissions, unique student names in a stable order."""
    if submissions.is_file() and submissions.suffix == ".zip":
        unpacked = workdir / "export"
        with zipfile.ZipFile(submissions) as archive:
            archive.extractall(unpacked)
        inner = [p for p in unpacked.iterdir() if p.is_dir()]
        submissions = inner[0] if len(inner) == 1 and not (unpacked / "submission_metadata.yml").exists() else unpacked
    metadata = submissions / "submission_metadata.yml"
    found: list[tuple[str, Path]] = []
    if metadata.exists():
        names = _student_names(metadata)
        for folder in sorted(p for p in submissions.iterdir() if p.is_dir()):
            found.append((names.get(folder.name, folder.name), folder))
    else:
        found = [(p.stem, p) for p in sorted(submissions.glob("*.ipynb"))]
        found += [(p.name, p) for p in sorted(submissions.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    result, used = [], set()
    for name, path in found:
        student, suffix = _safe_name(name), 2
        while student in used:
            student, suffix = f"{_safe_name(name)}-{suffix}", suffix + 1
        used.add(student)
        result.append(Submission(student, path))
    return result


def submission_key(zip_path: Path, submission: Path) -> str:
    """Changes when the zip or any file of the submission changes."""
    digest = hashlib.sha256(zip_path.read_bytes())
    files = [submission] if submission.is_file() else sorted(p for p in submission.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(submission.parent if submission.is_file() else submission)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _grade_one(zip_path: Path, submission: Submission) -> dict:
    """results.json for one submission. A failure of the grading itself (a crash, a timeout of
    the whole run) is a grader error for that submission, never a zero."""
    try:
        document, _ = run_zip(zip_path, submission.path)
        return document
    except Exception as error:  # noqa: BLE001 - recorded as this submission's outcome
        return grader_error_document(f"grading did not complete: {type(error).__name__}: {error}")


class Progress:
    """One status line: done/total, rate and time left."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.skipped = total, 0, 0
        self.started = time.monotonic()
        self.stream = stream

    def update(self, skipped: bool = False) -> None:
        self.done += 1
        self.skipped += skipped
        graded = self.done - self.skipped
        elapsed = time.monotonic() - self.started
        rate = graded / elapsed * 60 if elapsed > 0 and graded else 0.0
        left = (self.total - self.done) / (rate / 60) if rate else 0.0
        width = 30
        filled = int(width * self.done / max(1, self.total))
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(
            f"\r[{bar}] {self.done}/{self.total}  {rate:5.1f}/min  {left:4.0f} s left"
            f"{f'  ({self.skipped} unchanged)' if self.skipped else ''}   "
        )
        self.stream.flush()
        if self.done == self.total:
            self.stream.write("\n")


def grade_all(
    zip_path: Path, submissions_path: Path, out: Path, jobs: int | None = None, force: bool = False
) -> dict[str, dict]:
    """Grade every submission (skipping unchanged ones); returns student -> results.json."""
    results_dir = out / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        submissions = collect(submissions_path, Path(temporary))
        keys = {s.student: submission_key(zip_path, s.path) for s in submissions}
        documents: dict[str, dict] = {}
        todo = []
        for submission in submissions:
            result, key_file = results_dir / f"{submission.student}.json", results_dir / f"{submission.student}.key"
            if not force and result.exists() and key_file.exists() and key_file.read_text() == keys[submission.student]:
                documents[submission.student] = json.loads(result.read_text())
            else:
                todo.append(submission)
        progress = Progress(len(submissions))
        for _ in range(len(submissions) - len(todo)):
            progress.update(skipped=True)
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            futures = {pool.submit(_grade_one, zip_path, s): s for s in todo}
            for future in as_completed(futures):
                submission = futures[future]
                documents[submission.student] = future.result()
                write_atomically(results_dir / f"{submission.student}.json", documents[submission.student])
                key_file = results_dir / f"{submission.student}.key"
                if grader_error(documents[submission.student]):
                    key_file.unlink(missing_ok=True)  # not a result: graded again on the next run
                else:
                    key_file.write_text(keys[submission.student])
                progress.update()
        if not submissions:
            print(f"no submissions found in {submissions_path}", file=sys.stderr)
    return {s.student: documents[s.student] for s in submissions}
