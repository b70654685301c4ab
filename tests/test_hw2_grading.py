"""HW2 graded end to end with its Gradescope zip: full marks, and the issue-10 weaknesses closed
(free points in value, misleading training hints)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_valid_results, feedback_for, scores_by_question, write_variant

from autograder.build import Prepared
from autograder.gradescope import run_zip
from autograder.verify import load_catalogue

QUESTIONS = ["graph_by_hand", "value", "neuron_mlp", "training"]


@pytest.fixture
def grade2(hw2: Prepared):
    def run(notebook: Path) -> dict:
        document, _ = run_zip(hw2.zip_path, notebook)
        assert_valid_results(document)
        return document

    return run


def grade_bug(name: str, hw2_assignment, hw2, grade2, tmp_path) -> dict:
    bug = next(change for change in load_catalogue(hw2_assignment) if change.name == name)
    return grade2(write_variant(hw2.solution, tmp_path / "hw2_autograd.ipynb", bug.replace, bug.insert))


def test_solution_gets_full_marks(hw2, grade2):
    totals = scores_by_question(grade2(hw2.solution))
    assert list(totals) == QUESTIONS
    assert all(score == maximum > 0 for score, maximum in totals.values()), totals


def test_grad_by_finite_differences_on_read_loses_value_points(hw2_assignment, hw2, grade2, tmp_path):
    name = "value: grad computed by finite differences when read, backward() does no backpropagation"
    document = grade_bug(name, hw2_assignment, hw2, grade2, tmp_path)
    score, maximum = scores_by_question(document)["value"]
    assert score <= maximum / 2, (score, maximum)
    feedback = feedback_for(document, "value")
    assert "not computed when it is read" in feedback
    assert "grad must be a plain attribute" in feedback


def test_recursive_topological_sort_with_raised_limit_loses_the_deep_graph_point(hw2_assignment, hw2, grade2, tmp_path):
    name = "value: recursive topological sort, recursion limit raised in the cell (micrograd)"
    document = grade_bug(name, hw2_assignment, hw2, grade2, tmp_path)
    failed = [t for t in document["tests"] if t["tags"][0] == "value" and t["score"] < t["max_score"]]
    assert [t["name"].split(": ", 1)[1].split(" (")[0] for t in failed] == [
        "backward on a chain of 20,000 operations, without recursion"
    ]
    assert "RecursionError" in failed[0]["output"] and "not recursion" in failed[0]["output"]


def test_never_zeroed_grads_get_the_zeroing_hint_not_the_sign_hint(hw2_assignment, hw2, grade2, tmp_path):
    document = grade_bug("training: grads never set to 0", hw2_assignment, hw2, grade2, tmp_path)
    totals = scores_by_question(document)
    assert totals["training"][0] == 0, totals
    assert all(totals[q][0] == totals[q][1] for q in ("graph_by_hand", "value", "neuron_mlp")), totals
    feedback = feedback_for(document, "training")
    assert "set every parameter's grad to 0 before each backward()" in feedback
    assert "minus, not plus" not in feedback and "fix value first" not in feedback


def test_finite_difference_backward_loses_value_and_training(hw2_assignment, hw2, grade2, tmp_path):
    name = "value: backward() computes every gradient by finite differences, re-evaluating the graph"
    document = grade_bug(name, hw2_assignment, hw2, grade2, tmp_path)
    totals = scores_by_question(document)
    assert totals["value"][0] <= totals["value"][1] / 4, totals
    assert totals["training"][0] == 0, totals
    feedback = feedback_for(document, "value")
    assert "backpropagation (the chain rule, exactly)" in feedback
    assert "train uses your Value" in feedback_for(document, "training")


def test_numerical_derivative_by_hand_loses_graph_by_hand_points(hw2_assignment, hw2, grade2, tmp_path):
    document = grade_bug("graph_by_hand: cubic's dg_dw1 by finite differences", hw2_assignment, hw2, grade2, tmp_path)
    totals = scores_by_question(document)
    assert totals["graph_by_hand"][0] < totals["graph_by_hand"][1], totals
    assert "the chain rule gives" in feedback_for(document, "graph_by_hand")


def test_training_without_the_engine_gets_no_training_points(hw2_assignment, hw2, grade2, tmp_path):
    name = "training: train in plain floats by finite differences, Value broken (does not use the engine)"
    document = grade_bug(name, hw2_assignment, hw2, grade2, tmp_path)
    totals = scores_by_question(document)
    assert totals["training"][0] == 0, totals
    assert "fix value first" in feedback_for(document, "training")


def test_weights_then_biases_order_is_named(hw2_assignment, hw2, grade2, tmp_path):
    name = "neuron_mlp: Layer.parameters() lists all weights, then all biases"
    feedback = feedback_for(grade_bug(name, hw2_assignment, hw2, grade2, tmp_path), "neuron_mlp")
    assert "all its neurons' weights, then all their biases" in feedback
    assert "every bias starts at 0" not in feedback


def test_sum_loss_is_named_n_times_too_big(hw2_assignment, hw2, grade2, tmp_path):
    name = "training: the loss is the sum of squared errors, not their mean"
    feedback = feedback_for(grade_bug(name, hw2_assignment, hw2, grade2, tmp_path), "training")
    assert "not their sum" in feedback and "before its update" not in feedback


def test_exact_gradients_scale_covers_rounding_of_correct_forms():
    """The reference's exact gradients agree with an engine written with other formulas."""
    import importlib.util
    import random

    path = Path(__file__).resolve().parents[1] / "solutions" / "hw2_autograd" / "reference.py"
    spec = importlib.util.spec_from_file_location("hw2_reference_for_tests", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    generator = random.Random(3)
    for _ in range(50):
        graph = ref.random_graph(generator)
        exact, scales = ref.exact_gradients(graph)
        numeric = ref.numeric_gradients(graph)
        for e, n, s in zip(exact, numeric, scales):
            assert abs(e - n) <= 1e-5 * max(1.0, abs(e)) and s >= abs(e) - 1e-12
