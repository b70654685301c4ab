"""`nn-autograder grade`: a per-question table, a valid results.json, exit 0 whenever it was written."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import assert_valid_results


def grade_cli(zip_path, notebook, out):
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(zip_path), str(notebook), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_grade_prints_a_table_and_writes_results(hw1, tmp_path):
    completed = grade_cli(hw1.zip_path, hw1.solution, tmp_path / "results.json")
    assert completed.returncode == 0, completed.stderr
    assert "question" in completed.stdout and "softmax_ce" in completed.stdout
    assert any(line.split() == ["total", "20", "20"] for line in completed.stdout.splitlines())
    document = json.loads((tmp_path / "results.json").read_text())
    assert_valid_results(document)
    assert document["score"] == 20


def test_broken_notebook_is_reported_not_gradable(hw1, tmp_path):
    broken = tmp_path / "hw1_layers.ipynb"
    broken.write_text('{"cells": [')  # cut short
    completed = grade_cli(hw1.zip_path, broken, tmp_path / "results.json")
    assert completed.returncode == 0
    document = json.loads((tmp_path / "results.json").read_text())
    assert_valid_results(document)
    assert document["score"] == 0 and len(document["tests"]) > 20
    assert "could not be graded" in document["output"] and "not a valid notebook" in document["output"]
    assert "Traceback" not in json.dumps(document)
