"""HW1 graded end to end with its Gradescope zip: full marks, zero, and wrong code caught where it is."""

from __future__ import annotations

import pytest
from conftest import feedback_for, scores_by_question, write_variant

QUESTIONS = ["linear", "relu", "sigmoid", "mse", "softmax_ce", "param_count", "training"]


def test_solution_gets_full_marks(hw1, grade):
    document = grade(hw1.solution)
    totals = scores_by_question(document)
    assert list(totals) == QUESTIONS
    assert all(score == maximum > 0 for score, maximum in totals.values()), totals
    assert document["score"] == 20


def test_template_gets_zero_without_crashing(hw1, grade):
    document = grade(hw1.template)
    totals = scores_by_question(document)
    assert list(totals) == QUESTIONS
    assert document["score"] == 0
    assert "Traceback" not in str(document)
    # a stuck student is told what to do, not shown a grader error
    assert "Did you fill in the function" in feedback_for(document, "relu")
    assert "not filled in yet" in feedback_for(document, "param_count")


def test_public_checks_visible_and_hidden_after_published(hw1, grade):
    tests = grade(hw1.solution)["tests"]
    visible = [t for t in tests if t["visibility"] == "visible"]
    assert {t["tags"][0] for t in visible} == set(QUESTIONS)
    assert all(t["visibility"] in ("visible", "after_published") for t in tests)
    assert sum(t["visibility"] == "after_published" for t in tests) > len(visible)


# (question, code in the solution, wrong code, words the feedback must contain)
LAYER_BUGS = {
    "linear: transposed dW": ("linear", "dW = x.T @ dout", "dW = dout.T @ x", ["linear_backward", "dW", "shape"]),
    "linear: db is a mean": (
        "linear",
        "db = dout.sum(axis=0)",
        "db = dout.mean(axis=0)",
        ["linear_backward", "db", "sum"],
    ),
    "relu: ignores dout": ("relu", "dx = dout * (x > 0)", "dx = 1.0 * (x > 0)", ["relu_backward", "dx", "upstream"]),
    "sigmoid: missing (1 - s)": (
        "sigmoid",
        "dx = dout * s * (1 - s)",
        "dx = dout * s",
        ["sigmoid_backward", "dx", "(1 - s)"],
    ),
    "mse: dpred without the mean": (
        "mse",
        "dpred = 2 * diff / diff.size",
        "dpred = 2 * diff",
        ["mse_loss", "dpred", "1/K"],
    ),
    "softmax_ce: no max shift": (
        "softmax_ce",
        "shifted = scores - scores.max(axis=1, keepdims=True)",
        "shifted = scores",
        ["softmax_cross_entropy", "subtract each row's maximum"],
    ),
}


@pytest.mark.parametrize("bug", list(LAYER_BUGS))
def test_wrong_layer_loses_points_on_its_own_question(bug, hw1, grade, tmp_path):
    question, correct, wrong, words = LAYER_BUGS[bug]
    document = grade(write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", [(correct, wrong)]))
    totals = scores_by_question(document)
    score, maximum = totals[question]
    assert score < maximum, f"{bug} was not caught: {totals}"
    feedback = feedback_for(document, question)
    for word in words:
        assert word in feedback, f"feedback for {bug} lacks {word!r}:\n{feedback}"
    # the other layers and the parameter count are untouched (training builds on the layers)
    for other in set(QUESTIONS) - {question, "training"}:
        assert totals[other][0] == totals[other][1], f"{bug} cost points on {other}: {totals}"


def test_input_modified_in_place_is_caught(hw1, grade, tmp_path):
    notebook = write_variant(
        hw1.solution, tmp_path / "hw1_layers.ipynb", [("out = np.maximum(x, 0)", "out = x\n    out[out < 0] = 0")]
    )
    document = grade(notebook)
    assert scores_by_question(document)["relu"][0] < 2
    assert "relu_forward modified its input x" in feedback_for(document, "relu")


def test_question_graded_at_its_check_cell(hw1, grade, tmp_path):
    """A later experiment that breaks relu_forward does not change the relu grade."""
    notebook = write_variant(
        hw1.solution,
        tmp_path / "hw1_layers.ipynb",
        [],
        insert=[(None, "def relu_forward(x):\n    return None, None\n")],
    )
    totals = scores_by_question(grade(notebook))
    assert totals["relu"] == (2, 2)
