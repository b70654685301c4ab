"""What hidden test suites import, and the pytest plugin that grades with them.

A hidden suite is an ordinary pytest file under ``solutions/<hw>/``::

    from autograder.suite import question
    from autograder.checks import expect_close

    @question("relu", points=1)
    def test_relu_forward(student, rng):
        "forward matches max(0, x)"
        x = rng.standard_normal((4, 5))
        out, _ = student.relu_forward(x)
        expect_close(out, np.maximum(x, 0), "relu_forward", "out")

Fixtures: `student` (the submission's names at the question's ``grader.check`` cell, see
`autograder.sandbox.StudentNamespace`) and `rng` (a numpy Generator seeded from the grading
seed and the test's name, so every run with the same seed checks the same numbers).
The test's name on Gradescope is ``"<question>: <first line of its docstring>"``.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograder.checks import CheckFailed
from autograder.results import TestRecord
from autograder.sandbox import NotebookRun, StudentError, StudentNamespace

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def student_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a student function through the sandbox, turning its errors into feedback."""
    try:
        return function(*args, **kwargs)
    except StudentError as error:
        raise CheckFailed(_student_error_text(error)) from None


def _student_error_text(error: StudentError) -> str:
    if error.missing:
        return f"{error.message}. Define it with exactly this name and run its cell before the check cell."
    if error.timed_out:
        return f"{error.message}: it did not finish in time (an endless loop, or far too slow)."
    if "NameError" in error.message:
        return (
            f"{error.message}. Did you fill in the function (every name it uses must be assigned)? A question is "
            "checked with the names the notebook has defined up to its check: a name defined only further down "
            "(a later question's class or function) does not exist yet there."
        )
    if any(word in error.message for word in ("NotImplementedError", "Ellipsis", "ellipsis")):
        return f"{error.message}. Did you fill in the function (every name it returns must be assigned)?"
    return error.message


def question(name: str, points: float, visibility: str = "after_published") -> pytest.MarkDecorator:
    """Mark a hidden test: its question, its points, and when students see it on Gradescope
    (``visible`` for checks the public tests already show, else ``after_published``)."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}")
    return pytest.mark.question(name, points=float(points), visibility=visibility)


class GradingPlugin:
    """Gives hidden tests the submission and records each outcome as a `TestRecord`.

    run: the submission's notebook in its sandbox, or None when it could not be read, in which
    case every test fails with `not_gradable` (one sentence for the student).
    """

    def __init__(self, run: NotebookRun | None, not_gradable: str = "", seed: int = 0):
        self.run = run
        self.not_gradable = not_gradable
        self.seed = seed
        self.records: list[TestRecord] = []
        self._questions: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "question(name, points, visibility): hidden test metadata")

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> StudentNamespace:
        if self.run is None:
            raise CheckFailed(self.not_gradable)
        marker = request.node.get_closest_marker("question")
        return StudentNamespace(self.run, marker.args[0] if marker else None)

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.seed}:{request.node.nodeid}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and report.failed):
            self._record(item, call, report.passed)

    def _record(self, item: pytest.Item, call: pytest.CallInfo, passed: bool) -> None:
        marker = item.get_closest_marker("question")
        if marker is None:
            return
        name = marker.args[0]
        points = float(marker.kwargs.get("points", 1.0))
        if name not in self._questions:
            self._questions.append(name)
        doc = (getattr(item, "function", None).__doc__ or item.name).strip().splitlines()[0]
        number = f"{self._questions.index(name) + 1}.{sum(r.question == name for r in self.records) + 1}"
        self.records.append(
            TestRecord(
                question=name,
                name=f"{name}: {doc}",
                max_score=points,
                score=points if passed else 0.0,
                output="" if passed else feedback(call.excinfo),
                visibility=marker.kwargs.get("visibility", "after_published"),
                number=number,
            )
        )


def feedback(excinfo: pytest.ExceptionInfo | None) -> str:
    """The student-facing text for a failed test. Only messages written for students are shown:
    never the hidden test's source or traceback."""
    if excinfo is None:
        return "This check failed."
    error = excinfo.value
    if isinstance(error, CheckFailed):
        return str(error)
    if isinstance(error, StudentError):
        return error.message
    if isinstance(error, AssertionError):
        text = str(error).split("\nassert ")[0].strip()
        return text.splitlines()[0] if text and not text.startswith("assert ") else "This check failed."
    where = traceback.extract_tb(excinfo.tb)[-1]
    return (
        f"The grader could not check this ({type(error).__name__} in {where.name}); "
        "your code probably returned something unexpected. If the message is unclear, tell course staff."
    )
