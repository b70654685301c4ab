"""`nn-autograder verify`'s own parts: the student's check (`otter check`) and the verdict on a
catalogue entry."""

from __future__ import annotations

import pytest
from conftest import ASSIGNMENTS

from autograder.verify import Change, _judge, public_check


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_otter_check_passes_the_solution_and_fails_every_question_of_the_template(assignment, built, tmp_path):
    prepared = built(assignment)
    release = prepared.otter_out / "student"
    assert public_check(release, prepared.solution, tmp_path / "solution") == {}
    failures = public_check(release, prepared.template, tmp_path / "template")
    questions = {path.stem for path in (release / "tests").glob("*.py")}
    assert set(failures) == questions, "every question's public tests must fail on the untouched template"


def _document(question: str, feedback: str) -> dict:
    return {
        "tests": [
            {"name": f"{question}: x", "score": 0.0, "max_score": 1.0, "output": feedback, "tags": [question]},
            {"name": "other: y", "score": 1.0, "max_score": 1.0, "output": "", "tags": ["other"]},
        ]
    }


def test_a_bug_with_a_forbidden_hint_or_unseen_by_otter_check_is_not_ok():
    bug = Change("bug", "b", question="training", feedback=["relu_backward"], forbidden=["minus, not plus"])
    honest = _document("training", "two_layer_net_loss uses your relu_backward, which fails its own checks")
    misleading = _document("training", "relu_backward ... It went up: (minus, not plus)?")
    assert _judge(bug, honest, {"training": "failed"}).ok
    assert "misleading" in _judge(bug, misleading, {"training": "failed"}).why
    assert "otter check passes it" in _judge(bug, honest, {}).why
    bug.hidden_only = "only on unseen data"
    row = _judge(bug, honest, {})
    assert row.ok and row.public == "hidden"


def test_a_variant_that_otter_check_fails_is_a_false_failure():
    variant = Change("variant", "v")
    full = {"tests": [{"name": "q: x", "score": 1.0, "max_score": 1.0, "output": "", "tags": ["q"]}]}
    assert _judge(variant, full, {}).ok
    assert "otter check fails a correct variant" in _judge(variant, full, {"q": "AssertionError"}).why
