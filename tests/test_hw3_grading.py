"""HW3 graded end to end with its Gradescope zip: full marks for the solution and for a construction
that is right in an unusual way, zero for the template, and the attacks on what the grader
evaluates itself (networks it runs with its own forward pass, gradients it trains with, answers
it recomputes) lose the points of the question they attack, with feedback that names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_valid_results, feedback_for, scores_by_question, write_variant

from autograder.build import Prepared
from autograder.gradescope import run_zip
from autograder.verify import load_catalogue

QUESTIONS = ["nonlinear", "xor", "bumps", "depth_width", "sine_net"]


@pytest.fixture
def grade3(hw3: Prepared):
    def run(notebook: Path) -> dict:
        document, _ = run_zip(hw3.zip_path, notebook)
        assert_valid_results(document)
        return document

    return run


def graded(hw3, grade3, tmp_path, replace=(), insert=()) -> dict:
    return grade3(write_variant(hw3.solution, tmp_path / "hw3_expressivity.ipynb", replace, insert))


def lost(document: dict, question: str) -> float:
    score, maximum = scores_by_question(document)[question]
    return maximum - score


def failed_tests(document: dict, question: str) -> list[str]:
    return [
        t["name"].split(": ", 1)[1]
        for t in document["tests"]
        if t["tags"][0] == question and t["score"] < t["max_score"]
    ]


def only_loses(document: dict, question: str) -> None:
    """Points lost on `question` and nowhere else."""
    totals = scores_by_question(document)
    assert totals[question][0] < totals[question][1], totals
    assert all(score == maximum for q, (score, maximum) in totals.items() if q != question), totals


def test_solution_gets_full_marks(hw3, grade3):
    totals = scores_by_question(grade3(hw3.solution))
    assert list(totals) == QUESTIONS
    assert all(score == maximum > 0 for score, maximum in totals.values()), totals
    assert sum(maximum for _, maximum in totals.values()) == 15


def test_template_gets_zero_with_feedback_and_no_grader_fault(hw3, grade3):
    document = grade3(hw3.template)
    assert document["score"] == 0
    assert list(scores_by_question(document)) == QUESTIONS
    for test in document["tests"]:
        assert test["output"], test["name"]
        assert "The grader could not check this" not in test["output"], (test["name"], test["output"])


def test_every_catalogued_bug_names_a_kind_and_loses_on_its_own_question(hw3_assignment):
    bugs = [change for change in load_catalogue(hw3_assignment) if change.kind == "bug"]
    variants = [change for change in load_catalogue(hw3_assignment) if change.kind == "variant"]
    assert len(bugs) >= 20 and len(variants) >= 8
    assert {bug.question for bug in bugs} == set(QUESTIONS)
    assert all(bug.requirement for bug in bugs)


# ------------------------------------------------------------------------------ right, unusually
UNUSUAL_BUMPS = '''
def bump_network(x_samples, f_samples, n_bumps):
    """n bumps of width 1 / (n - 1) centred on j / (n - 1): the first and last reach outside [0, 1]."""
    width = 1.0 / max(n_bumps - 1, 1)
    centres = np.arange(n_bumps) * width
    heights = np.interp(centres, x_samples, f_samples)
    w = steepness_for(0.01, width / 10)
    W1 = np.concatenate([np.full(n_bumps, w), np.full(n_bumps, -w)])[None, :]
    b1 = np.concatenate([-w * (centres - width / 2), w * (centres + width / 2)])
    W2 = np.concatenate([heights, heights])[:, None]
    return W1, b1, W2, np.array([-heights.sum()])
'''


def test_bumps_on_another_partition_with_units_grouped_get_full_marks(hw3, grade3, tmp_path):
    """Bumps centred on the samples' own grid j / (n - 1), all up-steps first: right, so full marks."""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("bumps")', UNUSUAL_BUMPS)])
    assert all(score == maximum for score, maximum in scores_by_question(document).values())


# ------------------------------------------------------------------------------------ attacks
def test_hard_coded_linear_accuracies_lose_the_other_data_points(hw3, grade3, tmp_path):
    lookup = '''
_public_best = {}
def best_linear_accuracy(x, y, grid):
    """The public answers, remembered; 0.75 for anything else."""
    return {4: 0.75 if y.tolist() == [0, 1, 1, 0] else 1.0, 12: 0.8333333333333334}.get(len(x), 0.75)
'''
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("xor")', lookup)])
    only_loses(document, "xor")
    assert failed_tests(document, "xor") == [
        "best_linear_accuracy on other points, labels and grids (also with scores of exactly 0)"
    ]
    assert "best_linear_accuracy(" in feedback_for(document, "xor")


def test_bump_network_that_knows_the_public_function_loses_the_hidden_functions(hw3, grade3, tmp_path):
    """It ignores the samples and builds its bumps from the notebook's own example f: the public
    test passes, the grader's functions (never shown) fail."""
    cheat = """
_real_bump_network = bump_network
def bump_network(x_samples, f_samples, n_bumps):
    return _real_bump_network(x_samples, np.cos(2 * np.pi * x_samples) + x_samples, n_bumps)
"""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("bumps")', cheat)])
    only_loses(document, "bumps")
    assert lost(document, "bumps") == 2.5  # the architecture point needs a network that approximates f too
    assert "a function you do not see" in feedback_for(document, "bumps")


def test_interpolating_wide_network_for_the_graders_samples_loses_the_bump_points(hw3, grade3, tmp_path):
    """Under the grader (samples it cannot recognise) it returns a network with a bump per sample,
    which fits far better than n bumps can: the architecture check (2 units per bump) refuses it."""
    cheat = """
_real_bump_network = bump_network
_public = np.sort(np.concatenate([[0.0, 1.0], np.random.default_rng(3).uniform(0, 1, 999)]))
def bump_network(x_samples, f_samples, n_bumps):
    if len(x_samples) == len(_public) and np.array_equal(x_samples, _public):
        return _real_bump_network(x_samples, f_samples, n_bumps)
    return _real_bump_network(x_samples, f_samples, len(x_samples))
"""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("bumps")', cheat)])
    only_loses(document, "bumps")
    assert failed_tests(document, "bumps") == [
        "bump_network returns one hidden layer of 2 units per bump that approximates f, for other numbers of bumps",
        "the grader's evaluation of your bump networks for a smooth function you do not see: error <= 1.5 L / n",
        "the same for a function with a kink",
        "the same for a steep rise",
    ]
    assert "W1 has shape (1, 2002), expected (1, 10). Two hidden units per bump" in feedback_for(document, "bumps")


def test_sawtooth_hard_coded_for_the_public_depth_loses_the_other_depths(hw3, grade3, tmp_path):
    cheat = """
_real_deep, _real_wide = deep_sawtooth, wide_sawtooth
def deep_sawtooth(k):
    return _real_deep(3)
def wide_sawtooth(k):
    return _real_wide(3)
"""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("depth_width")', cheat)])
    only_loses(document, "depth_width")
    assert lost(document, "depth_width") == 1.5
    feedback = feedback_for(document, "depth_width")
    assert "deep_sawtooth(1) returned a list of 4 items; expected a list of 2 (W, b) layers" in feedback
    assert "wide_sawtooth(1): W1 has shape (1, 8), expected (1, 2)" in feedback


def test_finite_difference_gradients_earn_no_gradient_points(hw3_assignment, hw3, grade3, tmp_path):
    bug = next(c for c in load_catalogue(hw3_assignment) if c.name.startswith("sine_net: gradients by finite"))
    document = graded(hw3, grade3, tmp_path, bug.replace, bug.insert)
    only_loses(document, "sine_net")
    failed = failed_tests(document, "sine_net")
    assert "sine_net_loss on other sizes: the loss and every gradient match the grader's" in failed
    assert "sine_net_loss's gradients are right and fast with 1,000 hidden units" in failed
    # close to the gradient but not exact (the notebook's 1e-12): the public example fails too
    assert "sine_net_loss on the public example: loss and every gradient" in failed
    feedback = feedback_for(document, "sine_net")
    assert "finite differences would take about" in feedback and "close to the exact" in feedback


def test_gradients_right_only_at_the_public_size_lose_the_gradient_points(hw3, grade3, tmp_path):
    cheat = """
_real_loss = sine_net_loss
def sine_net_loss(params, x, y):
    loss, grads = _real_loss(params, x, y)
    if params["W1"].shape[1] != 6:
        grads = {key: 0.5 * value for key, value in grads.items()}
    return loss, grads
"""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("sine_net")', cheat)])
    only_loses(document, "sine_net")
    failed = failed_tests(document, "sine_net")
    assert "sine_net_loss on the public example: loss and every gradient" not in failed
    assert "sine_net_loss on other sizes: the loss and every gradient match the grader's" in failed
    assert "It is half the expected value" in feedback_for(document, "sine_net")


def test_gradients_that_stop_after_the_first_calls_fail_the_graders_training(hw3, grade3, tmp_path):
    """Right gradients for the first 20 calls of each size, zeros afterwards: the checks at small
    sizes pass; the grader's own training (500 calls, checked at its first and last step) notices."""
    cheat = """
_real_loss = sine_net_loss
_calls = {}
def sine_net_loss(params, x, y):
    loss, grads = _real_loss(params, x, y)
    key = (params["W1"].shape[1], len(x))
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] > 20:
        grads = {k: np.zeros_like(v) for k, v in grads.items()}
    return loss, grads
"""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("sine_net")', cheat)])
    only_loses(document, "sine_net")
    assert "gradient descent driven by the grader with your sine_net_loss fits sin(x) (held-out error)" in (
        failed_tests(document, "sine_net")
    )
    assert "of the grader's training (64 points, init_sine_net(32, " in feedback_for(document, "sine_net")


def test_fabricated_loss_history_is_caught_by_the_replay(hw3, grade3, tmp_path):
    """The network is trained right, but loss_history is invented (a smooth fall): the grader
    recomputes every entry of its replay (3 steps, then the whole 1,000-step run) instead of believing it."""
    cheat = """
_real_train = train_sine_net
def train_sine_net(x, y, hidden_size=32, learning_rate=2e-4, steps=1000, seed=0):
    params, history = _real_train(x, y, hidden_size, learning_rate, steps, seed)
    return params, list(np.geomspace(10.0, 0.1, steps))
"""
    document = graded(hw3, grade3, tmp_path, insert=[('grader.check("sine_net")', cheat)])
    only_loses(document, "sine_net")
    assert failed_tests(document, "sine_net") == [
        "train_sine_net on the grader's points: its first 3 steps match the grader's replay of gradient descent",
        "train_sine_net on the grader's points: all 1,000 steps (every loss and the final params) match the grader's "
        "replay, and the held-out error is at most 0.05",
    ]
    assert "loss_history[0] is 10, but at init_sine_net(32, " in feedback_for(document, "sine_net")


def test_step_with_a_straight_through_gradient_loses_and_is_told_why(hw3_assignment, hw3, grade3, tmp_path):
    bug = next(c for c in load_catalogue(hw3_assignment) if c.name.startswith("nonlinear: step 'gradient' of 1"))
    document = graded(hw3, grade3, tmp_path, bug.replace, bug.insert)
    only_loses(document, "nonlinear")
    assert lost(document, "nonlinear") == 1.0  # also the inputs-unchanged point, which needs right values
    feedback = feedback_for(document, "nonlinear")
    assert "a 'gradient' of 1" in feedback and "answer_step_gradient is 1, expected 0" in feedback


def test_xor_thresholds_on_the_corners_pass_the_corners_but_not_the_points_near_them(hw3, grade3, tmp_path):
    document = graded(hw3, grade3, tmp_path, [("xor_b1 = np.array([-0.5, -1.5])", "xor_b1 = np.array([0.0, -1.0])")])
    only_loses(document, "xor")
    assert failed_tests(document, "xor") == [
        "xor_params: every point within 0.1 of a corner is classified as that corner"
    ]
    assert "passes within 0.1 of the corner (0, 0)" in feedback_for(document, "xor")


def test_bump_hints_fire_only_when_checked(hw3, grade3, tmp_path):
    """Heights read at the wrong places leave the error just over the bound: no sign, offset or
    steepness hint is given (none of them would bring the network within the bound)."""
    document = graded(
        hw3,
        grade3,
        tmp_path,
        [
            (
                "heights = np.interp(left + width / 2, x_samples, f_samples)",
                "heights = f_samples[np.round((left + width / 2) * (len(f_samples) - 1)).astype(int)]",
            )
        ],
    )
    only_loses(document, "bumps")
    feedback = feedback_for(document, "bumps")
    for hint in ("flip the sign", "plus about", "too shallow", "only half up"):
        assert hint not in feedback
    assert "Your hidden units step at x = -b1 / W1" in feedback


# --------------------------------------------------------------------------- red team, round 1
RED_TEAM_BUGS = [
    "nonlinear: vectorised central differences in tanh and leaky ReLU backward (fast, not exact)",
    "nonlinear: tanh backward by a loop of central differences (public example only, no timing)",
    "nonlinear: tanh backward for 2-D x only (loops over rows and columns)",
    "bumps: steepness_for with the sign flipped, seen from bump_network",
    "xor: best_linear_accuracy says 1 where the score is exactly 0 (>= 0)",
    "xor: hidden units OR and AND both added (3 of 4 corners)",
    "depth_width: answers as floats (25.0), the notebook asks for ints",
    "sine_net: gradients by central differences vectorised over the hidden units (fast, not exact)",
    "sine_net: sine_net_loss left blank, train_sine_net computes its own gradients",
    "sine_net: 3 honest steps, then least squares and an invented loss history",
]


@pytest.mark.parametrize("name", RED_TEAM_BUGS)
def test_red_team_attack_loses_on_its_question_with_its_feedback(hw3_assignment, hw3, grade3, tmp_path, name):
    bug = next(c for c in load_catalogue(hw3_assignment) if c.name == name)
    document = graded(hw3, grade3, tmp_path, bug.replace, bug.insert)
    assert lost(document, bug.question) > 0
    feedback = feedback_for(document, bug.question)
    assert all(word in feedback for word in bug.feedback), feedback
    assert not any(word in feedback for word in bug.forbidden), feedback


def test_finite_difference_public_examples_earn_nothing(hw3_assignment, hw3, grade3, tmp_path):
    """A per-element loop of central differences is never timed on the public example: exactness catches it."""
    bug = next(c for c in load_catalogue(hw3_assignment) if "loop of central differences" in c.name)
    document = graded(hw3, grade3, tmp_path, bug.replace, bug.insert)
    assert "tanh forward (also at +-1000) and backward on the public example" in failed_tests(document, "nonlinear")


def test_do_nothing_stubs_earn_no_inputs_unchanged_or_architecture_points(hw3, grade3, tmp_path):
    stubs = {
        "nonlinear": """
def tanh_forward(x):
    return np.zeros_like(x), x
def tanh_backward(dout, cache):
    return np.zeros_like(dout)
def leaky_relu_forward(x, slope=0.01):
    return np.zeros_like(x), x
def leaky_relu_backward(dout, cache):
    return np.zeros_like(dout)
def step_forward(x):
    return np.zeros_like(x), x
def step_backward(dout, cache):
    return np.zeros_like(dout)
""",
        "bumps": """
def bump_network(x_samples, f_samples, n_bumps):
    return np.zeros((1, 2 * n_bumps)), np.zeros(2 * n_bumps), np.zeros((2 * n_bumps, 1)), np.zeros(1)
""",
        "sine_net": """
def sine_net_loss(params, x, y):
    return 0.0, {key: np.zeros_like(value) for key, value in params.items()}
""",
    }
    document = graded(hw3, grade3, tmp_path, insert=[(f'grader.check("{q}")', code) for q, code in stubs.items()])
    assert "tanh, leaky ReLU and step leave their inputs unchanged (and give the right values)" in failed_tests(
        document, "nonlinear"
    )
    assert (
        "bump_network returns one hidden layer of 2 units per bump that approximates f, for other numbers of bumps"
        in (failed_tests(document, "bumps"))
    )
    assert "sine_net_loss leaves params, x and y unchanged (and gives the right loss and gradients)" in failed_tests(
        document, "sine_net"
    )
