"""Shared fixtures: each assignment built once per test session into a temporary folder (the repo
is not touched)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder.build import Assignment, Prepared, discover, prepare
from autograder.gradescope import run_zip
from autograder.verify import apply_changes

REPO = Path(__file__).resolve().parent.parent


ASSIGNMENTS = discover(REPO)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory):
    """built(assignment) -> Prepared (otter assign output and zip), made once per session."""
    cache: dict[str, Prepared] = {}

    def get(assignment: Assignment) -> Prepared:
        if assignment.name not in cache:
            cache[assignment.name] = prepare(assignment, tmp_path_factory.mktemp(assignment.name), REPO)
        return cache[assignment.name]

    return get


@pytest.fixture(scope="session")
def hw1_assignment() -> Assignment:
    return next(a for a in ASSIGNMENTS if a.name == "hw1_layers")


@pytest.fixture(scope="session")
def hw1(hw1_assignment: Assignment, built) -> Prepared:
    return built(hw1_assignment)


@pytest.fixture(scope="session")
def hw2_assignment() -> Assignment:
    return next(a for a in ASSIGNMENTS if a.name == "hw2_autograd")


@pytest.fixture(scope="session")
def hw2(hw2_assignment: Assignment, built) -> Prepared:
    return built(hw2_assignment)


@pytest.fixture(scope="session")
def hw3_assignment() -> Assignment:
    return next(a for a in ASSIGNMENTS if a.name == "hw3_expressivity")


@pytest.fixture(scope="session")
def hw3(hw3_assignment: Assignment, built) -> Prepared:
    return built(hw3_assignment)


@pytest.fixture(params=["namespaces", "uid-only"])
def isolation(request, monkeypatch):
    """Run an attack with the sandbox in its own namespaces, and again as where a container refuses
    them (the grader then isolates by uid only). The grader reads NN_AUTOGRADER_NAMESPACES; a
    submission cannot set it."""
    if request.param == "uid-only":
        monkeypatch.setenv("NN_AUTOGRADER_NAMESPACES", "0")
    return request.param


@pytest.fixture
def grade(hw1: Prepared):
    """grade(notebook path) -> results.json as a dict, graded with the hw1 zip as Gradescope would."""

    def run(notebook: Path) -> dict:
        document, _ = run_zip(hw1.zip_path, notebook)
        assert_valid_results(document)
        return document

    return run


def sandbox_accounting(output: str) -> dict[str, int]:
    """The grader's line on waiting (NotebookRun.accounting) read from its output: starts, cell
    timeouts, call timeouts, hang seconds, refused. Tests count timeouts rather than time a
    grading, which a loaded machine makes slow without anything being wrong."""
    line = next(line for line in output.splitlines() if line.startswith("sandbox: "))
    numbers = [int(n) for n in re.findall(r"\d+", line)]
    return dict(zip(("starts", "cell timeouts", "call timeouts", "hang seconds", "refused"), numbers, strict=True))


def write_variant(source: Path, destination: Path, replacements=(), insert=()) -> Path:
    """The solution (or any notebook) with code replaced or cells inserted (see apply_changes)."""
    return apply_changes(source, destination, list(replacements), list(insert))


def scores_by_question(document: dict) -> dict[str, tuple[float, float]]:
    from autograder.results import question_totals

    return question_totals(document)


def feedback_for(document: dict, question: str) -> str:
    return "\n".join(t["output"] for t in document["tests"] if t["tags"][0] == question and t["score"] < t["max_score"])


def assert_valid_results(document: dict) -> None:
    """The Gradescope results.json contract (notes/gradescope.md), for a graded submission."""
    from autograder.results import grader_error

    assert isinstance(document, dict)
    assert not grader_error(document), f"the grader could not grade: {grader_error(document)}"
    assert isinstance(document.get("tests"), list)
    json.dumps(document, allow_nan=False)  # strict JSON: no NaN or inf anywhere
    assert len(json.dumps(document)) < 1_000_000
    visibilities = {"visible", "hidden", "after_due_date", "after_published"}
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in visibilities
        assert test["name"].split(":")[0] == test["tags"][0]
    assert abs(document["score"] - sum(t["score"] for t in document["tests"])) < 1e-9
