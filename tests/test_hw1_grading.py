"""HW1 graded end to end with its Gradescope zip: full marks, zero, and wrong code caught where it is."""

from __future__ import annotations

import pytest
from conftest import feedback_for, scores_by_question, write_variant

from autograder.verify import load_catalogue

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


# One catalogue bug per layer (all of them run in `nn-autograder verify`): each must cost points on
# its own question only, with the catalogue's feedback words (function, output, hint).
LAYER_BUGS = [
    "linear: transposed dW",
    "linear: db is the mean over the batch",
    "relu: backward ignores dout",
    "sigmoid: backward missing (1 - s)",
    "mse: dpred without the 1/K of the mean",
    "softmax_ce: no max shift (NaN or inf for large scores)",
]


@pytest.mark.parametrize("name", LAYER_BUGS)
def test_wrong_layer_loses_points_on_its_own_question(name, hw1_assignment, hw1, grade, tmp_path):
    bug = next(change for change in load_catalogue(hw1_assignment) if change.name == name)
    document = grade(write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", bug.replace, bug.insert))
    totals = scores_by_question(document)
    score, maximum = totals[bug.question]
    assert score < maximum, f"{name} was not caught: {totals}"
    feedback = feedback_for(document, bug.question)
    assert len(bug.feedback) >= 2
    for word in bug.feedback:
        assert word in feedback, f"feedback for {name} lacks {word!r}:\n{feedback}"
    # the other layers and the parameter count are untouched (training builds on the layers)
    for other in set(QUESTIONS) - {bug.question, "training"}:
        assert totals[other][0] == totals[other][1], f"{name} cost points on {other}: {totals}"


def test_catalogue_is_complete(hw1_assignment):
    changes = load_catalogue(hw1_assignment)
    bugs = [c for c in changes if c.kind == "bug"]
    assert len(bugs) >= 30 and len([c for c in changes if c.kind == "variant"]) >= 10
    assert {b.question for b in bugs} == set(QUESTIONS)
    assert all(b.feedback and (b.replace or b.insert) for b in bugs)


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


def _catalogue_entry(hw1_assignment, name):
    return next(change for change in load_catalogue(hw1_assignment) if change.name == name)


def _grade_entry(hw1_assignment, hw1, grade, tmp_path, name):
    change = _catalogue_entry(hw1_assignment, name)
    return grade(write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", change.replace, change.insert))


def test_backward_writing_into_its_cache_loses_the_inputs_point(hw1_assignment, hw1, grade, tmp_path):
    """CS231n's relu_backward (x = cache; x[x < 0] = 0; ...) changes the caller's x after the backward."""
    name = "relu: backward writes into its cache (CS231n: x[x < 0] = 0; x[x > 0] = 1; dx = x * dout)"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    relu = {t["name"]: t for t in document["tests"] if t["tags"][0] == "relu"}
    assert relu["relu: forward and backward leave their inputs unchanged"]["score"] == 0
    assert sum(t["score"] for t in relu.values()) == 2 - 0.25  # its values are right: only that point
    assert "relu_backward modified the input x of relu_forward" in feedback_for(document, "relu")


def test_size_switch_finite_differences_get_no_backward_points(hw1_assignment, hw1, grade, tmp_path):
    name = "linear: finite-difference backward with a size switch (zeros when x.size > 5000)"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    linear = {t["name"]: t["score"] for t in document["tests"] if t["tags"][0] == "linear"}
    backward = [n for n in linear if "backward" in n.split(": ", 1)[1] and "unchanged" not in n]
    assert len(backward) == 4 and all(linear[n] == 0 for n in backward), linear
    assert "right at every size" in feedback_for(document, "linear")
    assert scores_by_question(document)["relu"] == (2, 2)


def test_triple_loop_backward_keeps_full_marks(hw1_assignment, hw1, grade, tmp_path):
    name = "linear: plain-Python triple-loop backward (slow but a real backward)"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    assert document["score"] == 20, feedback_for(document, "linear")


def test_training_feedback_names_the_broken_layer_not_the_update(hw1_assignment, hw1, grade, tmp_path):
    name = "training: relu_backward ignores dout, seen from training"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    score, maximum = scores_by_question(document)["training"]
    assert score < maximum
    feedback = feedback_for(document, "training")
    assert "two_layer_net_loss uses your relu_backward, which fails its own checks" in feedback
    assert "fix relu first" in feedback
    assert "minus, not plus" not in feedback and "really updated" not in feedback


def test_update_sign_hint_only_after_the_gradients_are_verified(hw1_assignment, hw1, grade, tmp_path):
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, "training: update sign flipped")
    feedback = feedback_for(document, "training")
    assert "gradients are right" in feedback and "minus, not plus" in feedback
    assert "really updated" not in feedback
