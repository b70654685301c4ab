"""HW1 graded end to end with its Gradescope zip: full marks, zero, and wrong code caught where it is."""

from __future__ import annotations

import pytest
from conftest import REPO, feedback_for, scores_by_question, write_variant

from autograder.verify import load_catalogue, public_check

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
    assert relu["relu: forward and backward leave their inputs unchanged (and give the right values)"]["score"] == 0
    assert sum(t["score"] for t in relu.values()) == 2 - 0.25  # its values are right: only that point
    assert "relu_backward modified the input x of relu_forward" in feedback_for(document, "relu")


def _public_failures(hw1, notebook, tmp_path):
    """otter check on `notebook` in a copy of the student release: question -> failure text."""
    return public_check(hw1.otter_out / "student", notebook, tmp_path / "public")


def _entry_notebook(hw1_assignment, hw1, tmp_path, name):
    change = _catalogue_entry(hw1_assignment, name)
    return write_variant(hw1.solution, tmp_path / "nb" / "hw1_layers.ipynb", change.replace, change.insert)


def test_batched_finite_differences_get_no_backward_points(hw1_assignment, hw1, grade, tmp_path):
    """F1: finite differences a column of x and a row of W per forward, batched 8 per matrix product
    (the cheapest a student can write) are slower than the bound at the probe, by the grader's
    clock, and the message names every figure it measured; otter check says so too."""
    name = "linear: backward by finite differences, a column of x and a row of W per forward, 8 forwards per matrix product"
    notebook = _entry_notebook(hw1_assignment, hw1, tmp_path, name)
    document = grade(notebook)
    linear = {t["name"]: t["score"] for t in document["tests"] if t["tags"][0] == "linear"}
    backward = [n for n in linear if "backward" in n.split(": ", 1)[1] and "unchanged" not in n]
    assert len(backward) == 4 and all(linear[n] == 0 for n in backward), linear
    feedback = feedback_for(document, "linear")
    for words in ("chain-rule backward took", "cheapest finite-difference pass", "would take about", "must stay under"):
        assert words in feedback, feedback
    public = _public_failures(hw1, notebook, tmp_path)
    assert "linear_backward did not finish within" in public["linear"], public


def test_chain_rule_at_large_sizes_keeps_full_marks(hw1_assignment, hw1, grade, tmp_path):
    """F3: a size switch whose large branch is the chain rule (finite differences only at the
    smallest sizes) has a correct, fast backward wherever speed matters: full marks, by design."""
    name = "linear: chain rule above 20 elements, per-element finite differences at the smallest sizes (F3: the work was done)"
    assert grade(_entry_notebook(hw1_assignment, hw1, tmp_path, name))["score"] == 20


@pytest.mark.parametrize(
    "name, question, words",
    [
        ("relu: backward by vectorised centered differences of relu_forward", "relu", "dout / 2"),
        (
            "relu: backward by vectorised backward differences (0 at the kink, inexact elsewhere)",
            "relu",
            "close to the exact derivative",
        ),
        (
            "sigmoid: backward by vectorised centered differences of sigmoid_forward",
            "sigmoid",
            "close to the exact derivative",
        ),
    ],
)
def test_vectorised_finite_differences_lose_backward_points(
    hw1_assignment, hw1, grade, tmp_path, name, question, words
):
    """F2: finite differences of the forward, vectorised (as fast as the chain rule), are inexact:
    at ReLU's kink (dout / 2) or by about 1e-11 elsewhere; the grade and otter check say which."""
    notebook = _entry_notebook(hw1_assignment, hw1, tmp_path, name)
    document = grade(notebook)
    score, maximum = scores_by_question(document)[question]
    assert score <= maximum - 0.75, scores_by_question(document)
    assert words in feedback_for(document, question)
    assert words in _public_failures(hw1, notebook, tmp_path)[question]


def test_complex_step_sigmoid_backward_passes_a_known_limit(hw1, grade, tmp_path):
    """The exactness check cannot tell complex-step differentiation (exact to rounding) from the
    chain rule: documented in the suite as a known limit."""
    code = (
        "def sigmoid_backward(dout, cache):\n"
        "    x = np.log(cache) - np.log1p(-cache)\n"
        "    return dout * np.imag(1 / (1 + np.exp(-(x + 1e-30j)))) / 1e-30\n"
    )
    notebook = write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", [], [('grader.check("sigmoid")', code)])
    assert scores_by_question(grade(notebook))["sigmoid"] == (2, 2)


def test_invented_loss_history_is_told_the_first_epoch_that_differs(hw1_assignment, hw1, grade, tmp_path):
    """F4: a least-squares fit with an invented falling loss_history no longer passes: the grader's
    replay of the notebook's procedure disagrees at epoch 0, and no loop mistake is named."""
    name = "training: least squares for W2 and an invented falling loss_history"
    notebook = _entry_notebook(hw1_assignment, hw1, tmp_path, name)
    document = grade(notebook)
    tests = {t["name"]: t for t in document["tests"] if t["tags"][0] == "training"}
    trained = [t for n, t in tests.items() if "follows the notebook's procedure" in n]
    assert len(trained) == 2 and all(t["score"] == 0 for t in trained)
    feedback = feedback_for(document, "training")
    assert "loss_history[0] is 2, but the grader's replay" in feedback
    assert "matches the grader's replay of the procedure with this mistake" not in feedback
    assert "loss_history[0] is 2" in _public_failures(hw1, notebook, tmp_path)["training"]


def test_no_shuffle_is_named_only_by_its_replay(hw1_assignment, hw1, grade, tmp_path):
    """F5: no shuffling loses the training-run points, and the hint names it because the grader's
    replay of exactly that mistake matches a short run."""
    document = grade(
        _entry_notebook(hw1_assignment, hw1, tmp_path, "training: no shuffle (batches in the data's order every epoch)")
    )
    feedback = feedback_for(document, "training")
    assert (
        "matches the grader's replay of the procedure with this mistake: batches taken in the data's own order"
        in feedback
    )
    assert "minus, not plus" not in feedback and "really updated" not in feedback


def test_public_training_check_catches_a_per_batch_history(hw1_assignment, hw1, tmp_path):
    """F8: otter check trains with several batches per epoch, so a loss per batch fails it, named."""
    notebook = _entry_notebook(hw1_assignment, hw1, tmp_path, "training: loss_history per batch, not per epoch")
    failure = _public_failures(hw1, notebook, tmp_path)["training"]
    assert "loss_history has 9 entries; it must hold one number per epoch (3)" in failure
    assert "one loss_history entry per batch" in failure


def test_public_training_check_names_the_failing_layer_first(hw1_assignment, hw1, tmp_path):
    """F9: otter check says, as the grade does, that training fails because a layer does."""
    notebook = _entry_notebook(
        hw1_assignment, hw1, tmp_path, "training: relu_backward ignores dout, seen from training"
    )
    failure = _public_failures(hw1, notebook, tmp_path)["training"]
    assert "two_layer_net_loss uses your relu_backward, which fails its own checks" in failure
    assert "fix relu first" in failure


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


def test_finite_difference_gradients_are_not_blamed_on_the_loop(hw1_assignment, hw1, grade, tmp_path):
    """Gradients that pass the numerical check but drift from the replay (finite differences) are
    named as such, not 'look at the loop' (red-team finding, second round)."""
    name = "training: db2 by finite differences of the loss (close to the gradient, not equal to it)"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    feedback = feedback_for(document, "training")
    assert "not equal to backpropagation's" in feedback and "your layers' backward" in feedback
    assert "look at the loop" not in feedback


def test_a_wrong_db_costs_only_the_db_and_large_layer_points(hw1_assignment, hw1, grade, tmp_path):
    """Red-team B5: the large-layer check of every backward test failed dx and dW for a wrong db.
    (It costs the inputs-unchanged point too: that point needs right values, red team A2.)"""
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, "linear: db is the mean over the batch")
    linear = {t["name"].split(": ", 1)[1].split(" (")[0]: t for t in document["tests"] if t["tags"][0] == "linear"}
    assert linear["backward: dx matches the numerical gradient"]["score"] == 0.5
    assert linear["backward: dW matches the numerical gradient"]["score"] == 0.5
    assert linear["backward: db matches the numerical gradient"]["score"] == 0


# ------------------------------------------------------------------- hw1 red team, third round
STUBS = {  # do-nothing stubs (red team A2: they earned 2.25 of 20 on the inputs-unchanged points)
    "linear": "def linear_forward(x, W, b):\n    return 0, 0\n\n\ndef linear_backward(dout, cache):\n    return 0, 0, 0\n",
    "relu": "def relu_forward(x):\n    return 0, 0\n\n\ndef relu_backward(dout, cache):\n    return 0\n",
    "sigmoid": "def sigmoid_forward(x):\n    return 0, 0\n\n\ndef sigmoid_backward(dout, cache):\n    return 0\n",
    "mse": "def mse_loss(pred, y):\n    return 0, 0\n",
    "softmax_ce": "def softmax_cross_entropy(scores, y):\n    return 0, 0\n",
    "param_count": "def mlp_param_count(sizes):\n    return 0\n\n\nanswer_one_hidden = 0\nanswer_two_hidden = 0\n",
    "training": "def two_layer_net_loss(params, x, y):\n"
    "    return 0.0, {key: np.zeros_like(value) for key, value in params.items()}\n\n\n"
    "def train_two_layer_net(x, y, hidden_size=64, learning_rate=0.5, epochs=100, batch_size=32, seed=0):\n"
    "    return {}, []\n",
}


def test_do_nothing_stubs_get_zero(hw1, grade, tmp_path):
    """A2: a stub changes none of its inputs, but the inputs-unchanged points (and training's
    returns-shaped-like-params point) need right values too: stubs everywhere score 0."""
    insert = [(f'grader.check("{question}")', code) for question, code in STUBS.items()]
    document = grade(write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", [], insert))
    assert document["score"] == 0, {t["name"]: t["score"] for t in document["tests"] if t["score"]}
    names = [t["name"] for t in document["tests"]]
    assert sum("(and give" in n or "(and gives" in n for n in names) == 5, names
    assert "training: two_layer_net_loss returns the right float loss and a grads dict shaped like params" in names


def test_global_shift_in_softmax_is_named_by_what_was_seen(hw1_assignment, hw1, grade, tmp_path):
    """A3: one maximum for the whole array keeps rows around +1000 right and rows around -1000 not;
    every call mixes both, and the hint names the shared shift after calling each group alone."""
    name = "softmax_ce: shifted by the maximum of the whole array, not each row's"
    notebook = _entry_notebook(hw1_assignment, hw1, tmp_path, name)
    document = grade(notebook)
    softmax = {t["name"].split(": ", 1)[1]: t for t in document["tests"] if t["tags"][0] == "softmax_ce"}
    stable = next(t for n, t in softmax.items() if n.startswith("stable for scores around +-1000"))
    assert stable["score"] == 0 and "scores.max()" in stable["output"] and "its own maximum" in stable["output"]
    assert sum(t["score"] for t in softmax.values()) == 3  # only the stability point
    assert "each in a call of its own" in _public_failures(hw1, notebook, tmp_path)["softmax_ce"]


def test_unstable_softmax_is_not_told_about_a_shared_shift(hw1_assignment, hw1, grade, tmp_path):
    document = _grade_entry(
        hw1_assignment, hw1, grade, tmp_path, "softmax_ce: no max shift (NaN or inf for large scores)"
    )
    assert "each in a call of its own" not in feedback_for(document, "softmax_ce")


def test_triple_loop_used_by_training_keeps_full_marks(hw1_assignment, hw1, grade, tmp_path):
    """B2: a correct plain-Python triple-loop linear_backward, used by every training run, keeps every
    point (the digits run is 3 epochs: about 18 s idle for such a loop, against 120 s)."""
    name = "linear: plain-Python triple-loop backward, used by training too (B2)"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    assert document["score"] == 20, feedback_for(document, "training") or feedback_for(document, "linear")


def test_notebook_states_the_time_limits():
    """B3: the limits a grade relies on are written where a student reads how the notebook is graded."""
    import json

    from autograder.sandbox.process import Limits

    notebook = json.loads((REPO / "assignments" / "hw1_layers" / "hw1_layers.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    limits = Limits()
    for seconds in (limits.cell_timeout, limits.notebook_timeout, limits.call_timeout):
        assert f"**{seconds:g} s**" in text, seconds
    assert "a training run **2 minutes**" in text and "Keep experiments short" in text


@pytest.mark.parametrize(
    "name, words",
    [
        ("training: init_two_layer_net called without the seed", "without the seed"),
        ("training: an unseeded rng (np.random.default_rng())", "called twice, gave two different runs"),
        ("training: the given init_two_layer_net made unseeded", "gives different params each time"),
        ("training: x shuffled, y not (y[start : start + batch_size])", "x shuffled, y not"),
        ("training: each batch's labels reversed (a pairing no replay knows)", "with the same indices"),
    ],
)
def test_loop_mistakes_that_start_elsewhere_are_not_called_a_wrong_update(
    hw1_assignment, hw1, grade, tmp_path, name, words
):
    """C1: a run that does not start where the replay does (init without the seed, unseeded
    generators, labels not shuffled with x) is named by its replay or by what was observed; the
    update is judged only once the start and the first loss were checked."""
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    assert scores_by_question(document)["training"] == (2.5, 4)
    feedback = feedback_for(document, "training")
    assert words in feedback
    assert "-learning_rate * grad" not in feedback and "look at the loop" not in feedback


def test_classes_from_the_labels_fail_softmax_not_the_loop(hw1_assignment, hw1, grade, tmp_path):
    """C2: C = y.max() + 1 fails softmax's gradient test (labels without the largest class), with
    the hint, and training says softmax fails its own checks; otter check says so too."""
    notebook = _entry_notebook(
        hw1_assignment, hw1, tmp_path, "softmax_ce: number of classes from the labels (y.max() + 1)"
    )
    document = grade(notebook)
    totals = scores_by_question(document)
    assert totals["softmax_ce"] == (3, 4)
    assert "not from the labels (y.max() + 1)" in feedback_for(document, "softmax_ce")
    training = feedback_for(document, "training")
    assert "two_layer_net_loss uses your softmax_cross_entropy, which fails its own checks" in training
    assert "look at the loop" not in training
    assert "not from the labels" in _public_failures(hw1, notebook, tmp_path)["softmax_ce"]


def test_mse_sum_is_told_the_number_of_elements(hw1_assignment, hw1, grade, tmp_path):
    """C4: on the 2x2 public example the sum is 4x the mean: 4 is the number of elements, not a batch size."""
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, "mse: loss is the sum, not the mean")
    public = next(t for t in document["tests"] if t["name"] == "mse: loss and gradient on the public example")
    assert "the mean over all K = 4 elements" in public["output"]
    assert "batch size" not in feedback_for(document, "mse")


def test_backward_from_globals_fails_in_a_networks_order(hw1_assignment, hw1, grade, tmp_path):
    """A4: a linear_backward that reads x and W from globals its forward set is right right after
    that forward, wrong after another layer's forward: the backward tests say so, and training
    names linear."""
    name = "training: linear_backward from globals, seen from training"
    notebook = _entry_notebook(hw1_assignment, hw1, tmp_path, name)
    document = grade(notebook)
    linear = {t["name"].split(": ", 1)[1]: t["score"] for t in document["tests"] if t["tags"][0] == "linear"}
    assert [n for n, score in linear.items() if score == 0] == [n for n in linear if n.startswith("backward: d")]
    assert "from its cache, not from anything the latest linear_forward" in feedback_for(document, "linear")
    assert "fix linear first" in feedback_for(document, "training")
    assert "called as in a network" in _public_failures(hw1, notebook, tmp_path)["linear"]


def test_complex_step_net_loss_loses_its_gradient_points_and_is_told_to_use_the_layers(
    hw1_assignment, hw1, grade, tmp_path
):
    """Red-team hw1 round 5, F1: a complex step of the loss is exact to rounding (the 1e-12 comparison
    passes); with noise added to what the layers return, its gradients do not carry it. otter check
    says so too."""
    name = (
        "training: two_layer_net_loss by a complex step of the loss for networks of at most 60 parameters "
        "(exact, no backward there)"
    )
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    training = {t["name"].split(": ", 1)[1].split(" (")[0]: t for t in document["tests"] if t["tags"][0] == "training"}
    lost = {name: t["max_score"] - t["score"] for name, t in training.items() if t["score"] < t["max_score"]}
    # the gradients, the grader's own SGD with them, and the two runs that use this two_layer_net_loss
    assert sum(lost.values()) == 3.5 and len(lost) == 4, lost
    feedback = feedback_for(document, "training")
    assert "do not come from your layers" in feedback and "were called, but" in feedback
    assert "Finite differences give" not in feedback and "minus, not plus" not in feedback
    failures = _public_failures(hw1, _entry_notebook(hw1_assignment, hw1, tmp_path, name), tmp_path)
    assert "do not come from your layers" in failures.get("training", ""), failures


def test_a_loop_that_backpropagates_inline_loses_the_training_runs(hw1_assignment, hw1, grade, tmp_path):
    """Red-team hw1 round 5, F3: a loop computing its own gradients matched the replay (4/4 with the layers
    stubbed); run again with noise added to two_layer_net_loss's grads, it does not follow the noisy replay."""
    name = "training: train_two_layer_net backpropagates inline instead of calling two_layer_net_loss"
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, name)
    training = [t for t in document["tests"] if t["tags"][0] == "training"]
    runs = [t for t in training if "train_two_layer_net on" in t["name"]]
    assert runs and all(t["score"] == 0 for t in runs), [(t["name"], t["score"]) for t in runs]
    assert all(t["score"] == t["max_score"] for t in training if t not in runs)
    feedback = feedback_for(document, "training")
    assert "noise added to the grads your two_layer_net_loss returns" in feedback
    assert "ran as if there were no noise" in feedback and "minus, not plus" not in feedback


def test_outputs_in_another_order_are_named_not_a_transposed_dW(hw1_assignment, hw1, grade, tmp_path):
    """Red-team round 5 (M2): (dx, db, dW) was told "A transposed dW?"."""
    document = _grade_entry(hw1_assignment, hw1, grade, tmp_path, "linear: backward returns dx, db, dW (another order)")
    feedback = feedback_for(document, "linear")
    assert "shaped like (dx, db, dW)" in feedback and "transposed dW" not in feedback


def test_a_broken_layer_gets_no_training_points_even_when_training_matches(hw1_assignment, hw1, grade, tmp_path):
    """Red-team round 5 (a03/a08): a broken relu_backward with a two_layer_net_loss that works around it
    scored 4/4 in training (the honest student 0.5): training's checks now credit nothing while a layer
    fails its own checks, as the notebook says."""
    changes = [
        ["dx = dout * (x > 0)", "dx = (x > 0).astype(float)"],  # relu_backward ignores dout
        ["dhidden_in = relu_backward(dhidden, cache_relu)", "dhidden_in = dhidden * (hidden_in > 0)"],  # worked around
    ]
    notebook = write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", changes)
    document = grade(notebook)
    training = [t for t in document["tests"] if t["tags"][0] == "training"]
    assert all(t["score"] == 0 for t in training), [(t["name"], t["score"]) for t in training]
    assert "fix relu first" in feedback_for(document, "training")
