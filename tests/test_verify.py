"""`nn-autograder verify`'s own parts: the student's check (`otter check`) and the verdict on a
catalogue entry."""

from __future__ import annotations

import pytest
from conftest import ASSIGNMENTS

from autograder import verify
from autograder.verify import TIMED_OUT, Change, _judge, public_check


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


def test_an_otter_check_that_hangs_is_reported_and_verify_goes_on(built, tmp_path, monkeypatch):
    """A catalogue entry whose notebook makes `otter check` hang is that entry's row (not ok,
    public "timeout"), not a crash of the whole verify; otter and its kernel are killed."""
    import json
    import time

    prepared = built(ASSIGNMENTS[0])
    notebook = json.loads(prepared.solution.read_text())
    notebook["cells"].insert(
        0,
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "import time\ntime.sleep(3600)",
        },
    )
    hanging = tmp_path / prepared.solution.name
    hanging.write_text(json.dumps(notebook))
    monkeypatch.setattr(verify, "PUBLIC_CHECK_SECONDS", 20)
    started = time.monotonic()
    public = public_check(prepared.otter_out / "student", hanging, tmp_path / "hang")
    assert time.monotonic() - started < 60
    assert set(public) == {TIMED_OUT}
    bug = Change("bug", "b", question="q", feedback=[])
    row = _judge(bug, _document("q", "wrong"), public)
    assert not row.ok and row.public == "timeout" and "did not finish within 20 s" in row.why
    variant = _judge(Change("variant", "v"), {"tests": []}, public)
    assert not variant.ok and variant.public == "timeout"


def test_the_report_shows_what_each_entry_cost_and_names_the_slowest(capsys):
    """Verify's time is CI's: each row shows its grading plus otter check, and the summary names the
    slowest entries to look at first."""
    rows = [
        verify.Row("bug", "cheap bug", "q", 1.0, "feedback", True, public="fails", seconds=7.0),
        verify.Row("bug", "hanging bug", "q", 1.0, "feedback", True, public="fails", seconds=95.0),
        verify.Row("variant", "loop variant", "-", 0.0, "", True, public="passes", seconds=12.0),
    ]
    facts = {
        "seeds": 2,
        "solution_short": [],
        "solution_feedback": [],
        "template_score": 0.0,
        "template_tests": 3,
        "solution_public": {},
        "coverage": {"values": (2, 2)},
    }
    assert verify.print_report("hw", rows, facts)
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("bug     hanging bug"))
    assert " 95  feedback" in row
    assert "the slowest: hanging bug (95 s); loop variant (12 s); cheap bug (7 s)" in lines[-1]
    assert "114 s of grading and otter check in all" in lines[-1]
