"""What a student sees: `otter check` and `grader.check` with the public tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

RELEASE = REPO / "assignments" / "hw1_layers"


def otter_check(folder: Path) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "otter", "check", "hw1_layers.ipynb"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return completed.stdout + completed.stderr


def test_otter_check_fails_on_the_template_with_useful_messages(tmp_path):
    shutil.copytree(RELEASE, tmp_path / "student")  # otter check writes a log file beside the notebook
    output = otter_check(tmp_path / "student")
    assert "All tests passed!" not in output
    for question in ("linear", "relu", "sigmoid", "mse", "softmax_ce", "param_count", "training"):
        assert f"{question} results" in output
    assert "NameError" in output  # the stub's return names are not assigned yet


def test_otter_check_passes_on_the_solution(hw1, tmp_path):
    shutil.copytree(RELEASE, tmp_path / "student")
    shutil.copyfile(hw1.solution, tmp_path / "student" / "hw1_layers.ipynb")
    assert "All tests passed!" in otter_check(tmp_path / "student")


@pytest.mark.slow
def test_grader_check_in_the_notebook(hw1, tmp_path):
    """Run the solution notebook in a real kernel, as a student would: each grader.check passes."""
    import nbformat
    from nbclient import NotebookClient

    folder = tmp_path / "student"
    shutil.copytree(RELEASE, folder)
    notebook = nbformat.read(hw1.solution, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    outputs = "\n".join(
        str(output.get("data", {}).get("text/plain", "")) + str(output.get("text", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "relu results: All test cases passed!" in outputs
    assert "training results: All test cases passed!" in outputs
