"""`nn-autograder build`: every assignment from its master notebook to a verified Gradescope zip.

An assignment is a folder ``solutions/<hw>/`` holding the otter-assign master ``<hw>.ipynb``, the
hidden pytest suite (``test_*.py``) and its helpers (other ``*.py``). For each one, build:

1. runs ``otter assign`` on the master (authoring stays otter's job);
2. writes the student release to ``assignments/<hw>/`` (committed; cell ids made deterministic so
   a rebuild of an unchanged master changes nothing) and a copy to ``dist/<hw>/student/``;
3. writes the filled-in notebook to ``dist/<hw>/solution/<hw>.ipynb``;
4. writes ``dist/<hw>/<hw>-gradescope.zip`` (see `autograder.gradescope`);
5. grades the solution (must be full marks) and the untouched template (must be zero) with that
   zip, prints a table, and fails loudly if either is off.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.gradescope import make_zip, run_zip
from autograder.results import format_table, grader_error, question_totals

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Assignment:
    name: str
    folder: Path  # solutions/<name>

    @property
    def master(self) -> Path:
        return self.folder / f"{self.name}.ipynb"

    def hidden_code(self) -> list[Path]:
        """The hidden suite and its helpers: the folder's top-level Python files."""
        return sorted(self.folder.glob("*.py"))


def discover(repo: Path = REPO) -> list[Assignment]:
    """Every ``solutions/<hw>/<hw>.ipynb``."""
    return [
        Assignment(path.stem, path.parent)
        for path in sorted((repo / "solutions").glob("*/*.ipynb"))
        if path.stem == path.parent.name
    ]


def normalise_notebook(path: Path) -> None:
    """Give every cell a deterministic id (otter assign makes new random ones on each run)."""
    document = json.loads(path.read_text())
    for index, cell in enumerate(document.get("cells", [])):
        if "id" in cell:
            cell["id"] = f"cell-{index:03d}"
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


def otter_assign(assignment: Assignment, out: Path) -> Path:
    """Run otter assign (without its own test run: our grader checks the solution next)."""
    if out.exists():
        shutil.rmtree(out)
    completed = subprocess.run(
        [sys.executable, "-m", "otter", "assign", "--no-run-tests", assignment.master.name, str(out)],
        cwd=assignment.folder,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"otter assign failed for {assignment.name}:\n{completed.stdout}\n{completed.stderr}")
    for notebook in out.rglob("*.ipynb"):
        normalise_notebook(notebook)
    return out


def write_release(otter_student: Path, release: Path) -> None:
    """Replace the committed student release with otter's student folder."""
    if release.exists():
        shutil.rmtree(release)
    shutil.copytree(otter_student, release)


def data_files(otter_student: Path, notebook_name: str) -> list[Path]:
    """Files the notebook reads (otter's `files:`): everything in the release but notebook and tests."""
    return sorted(p for p in otter_student.iterdir() if p.is_file() and p.name != notebook_name)


@dataclass
class BuildResult:
    assignment: str
    zip_path: Path
    solution: dict
    template: dict

    def problems(self) -> list[str]:
        problems = []
        for label, document in (("solution", self.solution), ("template", self.template)):
            if grader_error(document):
                problems.append(
                    f"{self.assignment} {label}: GRADER ERROR, the grader could not run on this machine "
                    f"(nothing is wrong with the notebook): {grader_error(document)} "
                    "Run `nn-autograder doctor` for what to fix."
                )
        if problems:
            return problems
        for label, document, wanted in (("solution", self.solution, "full"), ("template", self.template, "zero")):
            for q, (score, maximum) in question_totals(document).items():
                if wanted == "full" and score != maximum:
                    problems.append(
                        f"{self.assignment} {label}: {q} scored {score:g} of {maximum:g}, expected full marks"
                    )
                if wanted == "zero" and score != 0:
                    problems.append(f"{self.assignment} {label}: {q} scored {score:g}, expected 0")
            if not document.get("tests"):
                problems.append(f"{self.assignment} {label}: no tests ran ({document.get('output', '')[:200]})")
        return problems


@dataclass
class Prepared:
    """What one assignment's build makes, in a working folder."""

    otter_out: Path  # otter assign's output: student/ and autograder/
    zip_path: Path
    solution: Path  # the filled-in notebook
    template: Path  # the untouched student notebook


def prepare(assignment: Assignment, workdir: Path, repo: Path = REPO) -> Prepared:
    """otter assign and the Gradescope zip, in `workdir` (nothing in the repo is touched)."""
    notebook_name = assignment.master.name
    otter_out = otter_assign(assignment, workdir / "otter")
    data = data_files(otter_out / "student", notebook_name)
    zip_path = make_zip(
        workdir / f"{assignment.name}-gradescope.zip",
        assignment.name,
        notebook_name,
        hidden_files=assignment.hidden_code() + data,
        data_files=data,
        repo=repo,
    )
    return Prepared(
        otter_out, zip_path, otter_out / "autograder" / notebook_name, otter_out / "student" / notebook_name
    )


def build_assignment(assignment: Assignment, repo: Path = REPO, dist: Path | None = None) -> BuildResult:
    """Prepare, write the release and dist/, then grade the solution and the template."""
    dist = (dist or repo / "dist") / assignment.name
    notebook_name = assignment.master.name
    with tempfile.TemporaryDirectory() as temporary:
        prepared = prepare(assignment, Path(temporary), repo)
        write_release(prepared.otter_out / "student", repo / "assignments" / assignment.name)
        shutil.rmtree(dist, ignore_errors=True)
        shutil.copytree(prepared.otter_out / "student", dist / "student")
        (dist / "solution").mkdir(parents=True)
        shutil.copyfile(prepared.solution, dist / "solution" / notebook_name)
        zip_path = Path(shutil.copyfile(prepared.zip_path, dist / prepared.zip_path.name))
    solution, _ = run_zip(zip_path, dist / "solution" / notebook_name)
    template, _ = run_zip(zip_path, repo / "assignments" / assignment.name / notebook_name)
    return BuildResult(assignment.name, zip_path, solution, template)


def build(names: list[str] | None = None, repo: Path = REPO) -> int:
    """Build the named assignments (all by default); print a table; 0 if all verified."""
    assignments = [a for a in discover(repo) if not names or a.name in names]
    if not assignments:
        print(f"no assignments found under {repo / 'solutions'} matching {names}", file=sys.stderr)
        return 2
    problems: list[str] = []
    rows = []
    for assignment in assignments:
        print(f"building {assignment.name} ...", flush=True)
        result = build_assignment(assignment, repo)
        problems += result.problems()
        for label, document in (("solution", result.solution), ("template", result.template)):
            maximum = sum(m for _, m in question_totals(document).values())
            rows.append((assignment.name, label, document.get("score", 0), maximum))
        print(format_table(result.solution))
        print(f"zip: {result.zip_path.relative_to(repo) if result.zip_path.is_relative_to(repo) else result.zip_path}")
    print(f"\n{'assignment':<16}{'notebook':<10}{'score':>8}{'max':>8}")
    for name, label, score, maximum in rows:
        print(f"{name:<16}{label:<10}{score:>8g}{maximum:>8g}")
    if problems:
        print("\nBUILD FAILED:", *problems, sep="\n- ", file=sys.stderr)
        return 1
    print("\nok: every solution has full marks and every template zero")
    return 0
