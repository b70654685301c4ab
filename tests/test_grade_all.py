"""`nn-autograder grade-all`: a class graded in parallel, a gradebook, resume, and bad files recorded."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

from conftest import assert_valid_results, write_variant

from autograder.gradescope import run_zip


def grade_all_cli(zip_path, submissions, out, *extra):
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade-all", str(zip_path), str(submissions), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_class_folder(hw1, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copyfile(hw1.solution, folder / "alice.ipynb")
    shutil.copyfile(hw1.template, folder / "bob.ipynb")
    for student in ("carol", "erin"):  # the class's most common mistake
        write_variant(hw1.solution, folder / f"{student}.ipynb", [("dx = dout * (x > 0)", "dx = 1.0 * (x > 0)")])
    (folder / "dave.ipynb").write_text("this is not a notebook")
    out = tmp_path / "out"

    first = grade_all_cli(hw1.zip_path, folder, out)
    assert first.returncode == 0, first.stderr
    assert "5/5" in first.stderr  # the progress line
    for student in ("alice", "bob", "carol", "dave", "erin"):
        assert_valid_results(json.loads((out / "results" / f"{student}.json").read_text()))

    rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    assert list(rows["alice"])[:3] == ["student", "total", "linear"]
    for student in rows:  # the same totals as grading each file on its own
        alone, _ = run_zip(hw1.zip_path, folder / f"{student}.ipynb")
        assert float(rows[student]["total"]) == alone["score"]
    assert float(rows["alice"]["total"]) == 20 and float(rows["bob"]["total"]) == 0
    assert float(rows["carol"]["relu"]) < 2 and float(rows["dave"]["total"]) == 0
    assert "could not be graded" in json.loads((out / "results" / "dave.json").read_text())["output"]

    summary = (out / "summary.md").read_text()
    assert (
        "| relu |" in summary
        and "ignores the upstream gradient dout: multiply the local gradient by dout. (2x)" in summary
    )
    assert (out / "totals.png").stat().st_size > 1000 and (out / "questions.png").stat().st_size > 1000

    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    second = grade_all_cli(hw1.zip_path, folder, out)
    assert second.returncode == 0 and "(5 unchanged)" in second.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == before


def test_a_gradescope_export_zip(hw1, tmp_path):
    export = tmp_path / "export"
    for folder, notebook in (("submission_101", hw1.solution), ("submission_102", hw1.template)):
        (export / folder).mkdir(parents=True)
        shutil.copyfile(notebook, export / folder / "hw1_layers.ipynb")
    (export / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '1'\n"
        "submission_102:\n  :submitters:\n  - :name: Alan Turing\n    :sid: '2'\n"
    )
    archive = shutil.make_archive(str(tmp_path / "submissions"), "zip", export)
    completed = grade_all_cli(hw1.zip_path, archive, tmp_path / "out")
    assert completed.returncode == 0, completed.stderr
    rows = {row["student"]: float(row["total"]) for row in csv.DictReader(open(tmp_path / "out" / "grades.csv"))}
    assert rows == {"Ada_Lovelace": 20.0, "Alan_Turing": 0.0}


def test_grader_errors_are_recorded_as_such_never_as_zeros(hw1, tmp_path, monkeypatch):
    """A sandbox that never gets ready (here: no time to start) is the grader's fault: each
    submission is recorded as "grader error", not 0, the command exits non-zero, and a rerun on
    a fixed machine grades them."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copyfile(hw1.solution, folder / "alice.ipynb")
    shutil.copyfile(hw1.template, folder / "bob.ipynb")
    out = tmp_path / "out"
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps({"start_timeout": 0.001}))
    broken = grade_all_cli(hw1.zip_path, folder, out)
    assert broken.returncode == 3 and "GRADER ERROR for 2 submission(s)" in broken.stdout
    rows = {row["student"]: row["total"] for row in csv.DictReader(open(out / "grades.csv"))}
    assert rows == {"alice": "grader error", "bob": "grader error"}
    assert "2 not graded (grader error, not a zero" in (out / "summary.md").read_text()

    monkeypatch.delenv("NN_AUTOGRADER_LIMITS")
    fixed = grade_all_cli(hw1.zip_path, folder, out)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    rows = {row["student"]: row["total"] for row in csv.DictReader(open(out / "grades.csv"))}
    assert rows == {"alice": "20", "bob": "0"}
