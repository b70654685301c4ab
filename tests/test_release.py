"""The student release in assignments/ is in sync with its master and holds nothing secret."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ASSIGNMENTS, REPO

RELEASE = REPO / "assignments"


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


BY_NAME = pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)


@BY_NAME
def test_release_is_in_sync_with_master(assignment, built):
    """Rebuilding from the master gives exactly the committed release (run `nn-autograder build`)."""
    rebuilt = files_under(built(assignment).otter_out / "student")
    committed = files_under(RELEASE / assignment.name)
    assert sorted(rebuilt) == sorted(committed), "file lists differ: run `nn-autograder build` and commit assignments/"
    for name in rebuilt:
        assert rebuilt[name] == committed[name], (
            f"{name} is out of date: run `nn-autograder build` and commit assignments/"
        )


def code_lines(notebook: Path) -> tuple[set[str], set[str]]:
    """(lines inside `# BEGIN SOLUTION` blocks or ending in `# SOLUTION`, all other code lines), stripped."""
    solution, other = set(), set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        inside = False
        for line in "".join(cell["source"]).splitlines():
            if "# BEGIN SOLUTION" in line:
                inside = True
            elif "# END SOLUTION" in line:
                inside = False
            elif inside or line.rstrip().endswith("# SOLUTION"):
                solution.add(line.split("# SOLUTION")[0].strip())
            else:
                other.add(line.strip())
    return solution, other


@BY_NAME
def test_release_holds_no_solution_and_no_hidden_tests(assignment):
    release_text = "\n".join(
        p.read_text(errors="replace") for p in (RELEASE / assignment.name).rglob("*") if p.suffix in (".py", ".ipynb")
    )
    assert "BEGIN SOLUTION" not in release_text and "END SOLUTION" not in release_text
    assert not re.search(r"hidden\s*=\s*True|hidden:\s*true", release_text)
    solution, given = code_lines(assignment.master)
    _, released = code_lines(RELEASE / assignment.name / assignment.master.name)
    leaked = sorted(line for line in (solution - given) & released if len(line) > 8)
    assert not leaked, f"solution code in the student release: {leaked}"
    assert not list(RELEASE.rglob("test_*.py")), "hidden suites belong under solutions/, never assignments/"
    assert not list(RELEASE.rglob("reference.py"))


def test_zip_holds_hidden_suite_and_lean_setup(hw1):
    import zipfile

    names = zipfile.ZipFile(hw1.zip_path).namelist()
    assert {"setup.sh", "run_autograder", "requirements.txt", "assignment/assignment.json"} <= set(names)
    assert "assignment/hidden/test_hw1_layers.py" in names and "assignment/files/digits.npz" in names
    setup = zipfile.ZipFile(hw1.zip_path).read("setup.sh").decode()
    for heavy in ("conda", "mamba", "playwright", "chromium", "texlive", "otter"):
        assert heavy not in setup.lower()
    requirements = zipfile.ZipFile(hw1.zip_path).read("requirements.txt").decode().split()
    assert requirements and all("==" in line for line in requirements), "every shipped requirement is pinned"


@BY_NAME
def test_solution_full_marks_template_zero(assignment, built):
    """Every assignment: the filled-in notebook gets full marks, the untouched release zero."""
    from conftest import assert_valid_results

    from autograder.gradescope import run_zip
    from autograder.results import question_totals

    prepared = built(assignment)
    solution, _ = run_zip(prepared.zip_path, prepared.solution)
    template, _ = run_zip(prepared.zip_path, prepared.template)
    for document in (solution, template):
        assert_valid_results(document)
    assert all(score == maximum > 0 for score, maximum in question_totals(solution).values())
    assert template["score"] == 0 and question_totals(template).keys() == question_totals(solution).keys()


@BY_NAME
def test_release_ships_the_check_library_the_grade_uses(assignment):
    """The public tests import nn_checks.py from next to the notebook: a copy of autograder/checks.py
    that imports with numpy alone (no autograder package on the student's machine)."""
    import subprocess
    import sys

    shipped = RELEASE / assignment.name / "nn_checks.py"
    source = (REPO / "autograder" / "checks.py").read_text()
    assert shipped.read_text().endswith(source.removeprefix('"""')), "run `nn-autograder build`"
    probe = (
        "import sys; sys.modules['autograder'] = None; before = set(sys.modules); import nn_checks; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-B", "-c", f"import sys; sys.path.insert(0, {str(shipped.parent)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
    )
    third_party = {name.split(".")[0] for name in eval(completed.stdout)}
    assert third_party <= {"numpy", "nn_checks"}, third_party
