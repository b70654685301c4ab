"""Hidden tests for hw1_layers (instructor only). Run by the trusted grader, never in the student's
process: `student` calls into the sandbox and returns plain data; expected values and numerical
gradients are computed here from `reference`.

Sizes are distinct and non-square with batch >= 3 (a transposed dW or a missing batch sum shows
up as a wrong shape or value), upstream gradients are random (a backward that ignores dout fails),
and inputs stay away from ReLU's kink and sigmoid's saturation.
"""

from __future__ import annotations

import numpy as np
import reference as ref

from autograder.checks import (
    LINEAR_SHAPE_HINTS,
    CheckFailed,
    accuracy,
    away_from_kinks,
    backward_seconds_bound,
    best_seconds,
    describe,
    directional_check,
    expect_array,
    expect_close,
    expect_fast_backward,
    expect_gradient,
    expect_int,
    expect_scalar,
    expect_stable_softmax,
    expect_tuple,
    expect_unchanged,
    finite_difference_seconds,
    mse_gradient_hints,
    numerical_gradient,
    relu_hints,
    sigmoid_hints,
    softmax_gradient_hints,
)
from autograder.sandbox import Program
from autograder.suite import question, student_call

N, D, M = 4, 5, 3  # batch, input and output sizes of the small checks
SMALL_BACKWARD_TIMEOUT_SECONDS = 10.0  # a backward at the small sizes takes microseconds


def forward_then_backward(student, forward, backward, inputs, upstream, outputs, names, timeout=None):
    """Call forward(*inputs) and backward(upstream, cache); check both return the right tuples.
    Returns (forward CallResult, backward CallResult, backward outputs as a tuple)."""
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    out, cache = expect_tuple(fwd.value, 2, forward, "out, cache")
    bwd = student_call(student.call, backward, upstream, cache, timeout=timeout or SMALL_BACKWARD_TIMEOUT_SECONDS)
    grads = (bwd.value,) if outputs == 1 else expect_tuple(bwd.value, outputs, backward, names)
    return fwd, bwd, grads


def check_unchanged(student, forward, backward, inputs, upstream, names):
    """forward leaves its inputs alone, backward leaves dout alone, and the forward's inputs are
    still unchanged after the backward that follows (a backward that writes into its cache, which
    holds the forward's x by reference, changes the caller's x)."""
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    expect_tuple(fwd.value, 2, forward, "out, cache")
    expect_unchanged(dict(zip(names, inputs)), fwd.args_after, forward)
    bwd = student_call(student.call, backward, upstream.copy(), fwd.value[1], timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    expect_unchanged({"dout": upstream}, bwd.args_after, backward)
    program = Program(f"{forward} then {backward}")
    copies = [program.op("pos", value) for value in inputs]  # arrays that stay in the sandbox
    result = program.call(forward, *copies)
    program.call(backward, program.op("pos", upstream), program.item(result, 1))
    after = student_call(student.run, program, copies, timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    expect_unchanged(dict(zip(names, inputs)), after, forward, by=backward)
    require_real_backward(student, forward.removesuffix("_forward"), values=False)


def large_problem(layer, rng):
    """(inputs, upstream, [(input position, gradient name)], reference forward) at a size where a
    backward pass takes milliseconds and finite differences of the forward take minutes (linear:
    few rows and many weights, so a plain-Python loop backward still takes only seconds)."""
    if layer == "linear":
        x, W, b, dout = linear_inputs(rng, 16, 1200, 200)
        return (x, W, b), dout, [(0, "dx"), (1, "dW"), (2, "db")], ref.linear
    x = away_from_kinks(rng, (200, 500)) if layer == "relu" else rng.uniform(-3, 3, (200, 500))
    return (x,), rng.standard_normal(x.shape), [(0, "dx")], getattr(ref, layer)


def chain_rule_backward(layer, inputs, upstream):
    """A backward pass in numpy, only to time one on this machine (expected values never come
    from here: they are numerical gradients of `reference`)."""
    if layer == "linear":
        x, W, _ = inputs
        return upstream @ W.T, x.T @ upstream, upstream.sum(axis=0)
    if layer == "relu":
        return upstream * (inputs[0] > 0)
    s = ref.sigmoid(inputs[0])
    return upstream * s * (1 - s)


def sizes_text(layer, inputs):
    if layer == "linear":
        return f"x {inputs[0].shape}, W {inputs[1].shape}, b {inputs[2].shape}"
    return f"x of shape {inputs[0].shape}"


_backward_verdicts: dict[str, tuple[str, str]] = {}  # layer -> (why not fast, why not right); "" when it is


def require_real_backward(student, layer, values=True):
    """Backward points need a backward that is right and fast at a large size (the probe). Fast is
    judged against this machine now: the grader times a chain-rule backward and estimates a
    finite-difference pass (two reference forwards per input element); the bound is a tenth of the
    latter (`backward_seconds_bound`). Checked once per submission, by the grader's clock.
    values=False: only the speed (for the inputs-unchanged checks, which are not backward points)."""
    if layer not in _backward_verdicts:
        _backward_verdicts[layer] = _probe_backward(student, layer)
    slow, wrong = _backward_verdicts[layer]
    if slow or (values and wrong):
        raise CheckFailed(slow or wrong)


def _probe_backward(student, layer):
    """(why the backward is not fast, why it is not right) at the probe size; "" when it is."""
    inputs, upstream, wrt, reference_forward = large_problem(layer, np.random.default_rng(2024))
    backward, sizes = f"{layer}_backward", sizes_text(layer, inputs)
    finite_difference = finite_difference_seconds(reference_forward, inputs, upstream)
    chain_rule = best_seconds(lambda: chain_rule_backward(layer, inputs, upstream))
    bound = backward_seconds_bound(finite_difference)
    timeout = 1.5 * bound + 2.0
    context = (
        f"a chain-rule backward took {chain_rule:.2g} s and finite differences would take about "
        f"{finite_difference:.3g} s on this machine just now; a backward must stay under {bound:.3g} s "
        "(a tenth of the finite-difference time): compute the gradient with the chain rule; a backward "
        "made of finite differences of the forward earns no backward points."
    )
    slow = wrong = ""
    try:
        _, bwd, grads = forward_then_backward(
            student, f"{layer}_forward", backward, inputs, upstream, len(wrt), "", timeout=timeout
        )
        expect_fast_backward(backward, sizes, bwd.seconds, finite_difference, chain_rule)
    except CheckFailed as failure:
        text = str(failure).rstrip(".")
        if "did not finish in time" in text:  # timed out, nothing more known
            slow = f"{backward} did not finish within {timeout:.3g} s for {sizes}; {context}"
        elif "did not finish within" in text:  # the sandbox saw where it hung
            slow = f"{text}. For {sizes}, {context}"
        else:
            slow = str(failure)
        return slow, wrong
    try:
        for gradient, (position, name) in zip(grads, wrt):

            def forward_of(value, position=position):
                args = list(inputs)
                args[position] = value
                return reference_forward(*args)

            directional_check(gradient, forward_of, inputs[position], upstream, backward, name)
    except CheckFailed as failure:
        wrong = (
            f"{str(failure).rstrip('.')} (for {sizes}). Backward points need a backward that is right at every "
            "size, including this large one."
        )
    return slow, wrong


def check_large_backward(student, layer, rng):
    """At a large size: a real backward (see require_real_backward), right along random directions."""
    require_real_backward(student, layer)
    inputs, upstream, wrt, reference_forward = large_problem(layer, rng)
    timeout = 1.5 * backward_seconds_bound(finite_difference_seconds(reference_forward, inputs, upstream)) + 2.0
    _, _, grads = forward_then_backward(
        student, f"{layer}_forward", f"{layer}_backward", inputs, upstream, len(wrt), "", timeout=timeout
    )
    for gradient, (position, name) in zip(grads, wrt):

        def forward_of(value, position=position):
            args = list(inputs)
            args[position] = value
            return reference_forward(*args)

        directional_check(gradient, forward_of, inputs[position], upstream, f"{layer}_backward", name)


# ----------------------------------------------------------------------------------------- linear
def linear_inputs(rng, n=N, d=D, m=M):
    return rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m), rng.standard_normal((n, m))


@question("linear", points=0.5, visibility="visible")
def test_linear_public_example(student):
    """forward on the public example"""
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    W = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -1.0], [0.0, 2.0, 1.0, 0.0]])
    b = np.array([0.1, -0.2, 0.3, 0.0])
    out, _ = expect_tuple(student_call(student.call, "linear_forward", x, W, b, keep=(1,)).value, 2, "linear_forward")
    expect_close(out, ref.linear(x, W, b), "linear_forward", "out", hints={"Add the bias b.": x @ W})


@question("linear", points=1)
def test_linear_forward(student, rng):
    """forward matches x @ W + b"""
    x, W, b, _ = linear_inputs(rng)
    out, _ = expect_tuple(student_call(student.call, "linear_forward", x, W, b, keep=(1,)).value, 2, "linear_forward")
    expect_close(out, ref.linear(x, W, b), "linear_forward", "out", hints={"Add the bias b.": x @ W})


def check_linear_gradient(which, actual, x, W, b, dout):
    """One of linear_backward's outputs ("dx", "dW" or "db") against the numerical gradient, with
    the hints for the known mistakes."""
    value, forward = {
        "dx": (x, lambda v: ref.linear(v, W, b)),
        "dW": (W, lambda v: ref.linear(x, v, b)),
        "db": (b, lambda v: ref.linear(x, W, v)),
    }[which]
    hints = {"It ignores the upstream gradient dout.": numerical_gradient(forward, value, np.ones_like(dout))}
    if which == "db":
        hints["db is a mean over the batch; it must be the sum."] = dout.mean(axis=0)
    expect_gradient(
        actual,
        numerical_gradient(forward, value, dout),
        "linear_backward",
        which,
        hints=hints,
        batch_size=len(x),
        shape_hint=LINEAR_SHAPE_HINTS[which],
    )


def _linear_gradient(student, rng, which):
    x, W, b, dout = linear_inputs(rng)
    _, _, grads = forward_then_backward(student, "linear_forward", "linear_backward", (x, W, b), dout, 3, "dx, dW, db")
    check_linear_gradient(which, grads[("dx", "dW", "db").index(which)], x, W, b, dout)
    require_real_backward(student, "linear")


@question("linear", points=0.5)
def test_linear_backward_dx(student, rng):
    """backward: dx matches the numerical gradient"""
    _linear_gradient(student, rng, "dx")


@question("linear", points=0.5)
def test_linear_backward_dW(student, rng):
    """backward: dW matches the numerical gradient"""
    _linear_gradient(student, rng, "dW")


@question("linear", points=0.5)
def test_linear_backward_db(student, rng):
    """backward: db matches the numerical gradient"""
    _linear_gradient(student, rng, "db")


@question("linear", points=0.5)
def test_linear_inputs_unchanged(student, rng):
    """forward and backward leave their inputs unchanged"""
    x, W, b, dout = linear_inputs(rng)
    check_unchanged(student, "linear_forward", "linear_backward", (x, W, b), dout, ("x", "W", "b"))


@question("linear", points=0.5)
def test_linear_backward_large(student, rng):
    """backward is right and fast on a large layer"""
    check_large_backward(student, "linear", rng)


# ------------------------------------------------------------------------- relu and sigmoid
def _elementwise_gradient(student, rng, layer, x, reference_forward, hints):
    dout = rng.standard_normal(x.shape)
    _, _, (dx,) = forward_then_backward(student, f"{layer}_forward", f"{layer}_backward", (x,), dout, 1, "dx")
    expected = numerical_gradient(reference_forward, x, dout)
    expect_gradient(dx, expected, f"{layer}_backward", "dx", hints=hints(dout), shape_hint="dx has the shape of x.")
    require_real_backward(student, layer)


@question("relu", points=0.5, visibility="visible")
def test_relu_public_example(student):
    """forward and backward on the public example"""
    x = np.array([[-2.0, -0.5, 0.5], [1.5, -1.0, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    fwd, _, (dx,) = forward_then_backward(student, "relu_forward", "relu_backward", (x,), dout, 1, "dx")
    expect_close(fwd.value[0], ref.relu(x), "relu_forward", "out")
    expect_close(dx, dout * (x > 0), "relu_backward", "dx", hints=relu_hints(x, dout))
    require_real_backward(student, "relu")


@question("relu", points=0.5)
def test_relu_forward(student, rng):
    """forward matches max(0, x)"""
    x = away_from_kinks(rng, (N, D, 2))
    out, _ = expect_tuple(student_call(student.call, "relu_forward", x, keep=(1,)).value, 2, "relu_forward")
    expect_close(out, ref.relu(x), "relu_forward", "out")


@question("relu", points=0.5)
def test_relu_backward(student, rng):
    """backward matches the numerical gradient"""
    x = away_from_kinks(rng, (N, D))
    _elementwise_gradient(student, rng, "relu", x, ref.relu, lambda dout: relu_hints(x, dout))


@question("relu", points=0.25)
def test_relu_inputs_unchanged(student, rng):
    """forward and backward leave their inputs unchanged"""
    x = away_from_kinks(rng, (N, D))
    check_unchanged(student, "relu_forward", "relu_backward", (x,), rng.standard_normal(x.shape), ("x",))


@question("relu", points=0.25)
def test_relu_backward_large(student, rng):
    """backward is right and fast on a large input"""
    check_large_backward(student, "relu", rng)


@question("sigmoid", points=0.5, visibility="visible")
def test_sigmoid_public_example(student):
    """forward on the public example"""
    x = np.array([[0.0, 2.0, -1.0], [0.5, -3.0, 1.0]])
    out, _ = expect_tuple(student_call(student.call, "sigmoid_forward", x, keep=(1,)).value, 2, "sigmoid_forward")
    expect_close(out, ref.sigmoid(x), "sigmoid_forward", "out")


@question("sigmoid", points=0.5)
def test_sigmoid_forward(student, rng):
    """forward is right and finite, also for inputs as large as +-1000"""
    x = np.concatenate([rng.uniform(-4, 4, (N, D)), rng.uniform(-1000, 1000, (N, D))])
    out, _ = expect_tuple(student_call(student.call, "sigmoid_forward", x, keep=(1,)).value, 2, "sigmoid_forward")
    expect_close(out, ref.sigmoid(x), "sigmoid_forward", "out")


@question("sigmoid", points=0.5)
def test_sigmoid_backward(student, rng):
    """backward matches the numerical gradient"""
    x = rng.uniform(-3, 3, (N, D))
    _elementwise_gradient(student, rng, "sigmoid", x, ref.sigmoid, lambda dout: sigmoid_hints(x, dout, ref.sigmoid(x)))


@question("sigmoid", points=0.25)
def test_sigmoid_inputs_unchanged(student, rng):
    """forward and backward leave their inputs unchanged"""
    x = rng.uniform(-3, 3, (N, D))
    check_unchanged(student, "sigmoid_forward", "sigmoid_backward", (x,), rng.standard_normal(x.shape), ("x",))


@question("sigmoid", points=0.25)
def test_sigmoid_backward_large(student, rng):
    """backward is right and fast on a large input"""
    check_large_backward(student, "sigmoid", rng)


# -------------------------------------------------------------------------------------------- mse
def _mse_call(student, pred, y):
    loss, dpred = expect_tuple(student_call(student.mse_loss, pred, y), 2, "mse_loss", "loss, dpred")
    return expect_scalar(loss, "mse_loss", "loss"), dpred


@question("mse", points=0.5, visibility="visible")
def test_mse_public_example(student):
    """loss and gradient on the public example"""
    pred, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.5, 2.0], [2.0, 5.0]])
    loss, dpred = _mse_call(student, pred, y)
    expect_close(np.array(loss), np.array(ref.mse(pred, y)), "mse_loss", "loss", batch_size=pred.size)
    expect_close(dpred, 2 * (pred - y) / pred.size, "mse_loss", "dpred", hints=mse_gradient_hints(pred, y))


@question("mse", points=0.5)
def test_mse_loss(student, rng):
    """loss is the mean of the squared errors"""
    pred, y = rng.standard_normal((N + 1, M)), rng.standard_normal((N + 1, M))
    loss, _ = _mse_call(student, pred, y)
    expected = ref.mse(pred, y)
    hints = {
        "It is the sum; the loss is the mean over all elements.": np.array(expected * pred.size),
        "It has an extra 1/2: this homework's loss is the plain mean of squared errors.": np.array(expected / 2),
    }
    expect_close(np.array(loss), np.array(expected), "mse_loss", "loss", hints=hints, batch_size=pred.size)


@question("mse", points=0.75)
def test_mse_gradient(student, rng):
    """dpred matches the numerical gradient"""
    pred, y = rng.standard_normal((N + 1, M)), rng.standard_normal((N + 1, M))
    _, dpred = _mse_call(student, pred, y)
    expected = numerical_gradient(lambda p: ref.mse(p, y), pred)
    expect_gradient(
        dpred,
        expected,
        "mse_loss",
        "dpred",
        hints=mse_gradient_hints(pred, y),
        batch_size=pred.size,
        shape_hint="dpred has the shape of pred.",
    )


@question("mse", points=0.25)
def test_mse_inputs_unchanged(student, rng):
    """leaves pred and y unchanged"""
    pred, y = rng.standard_normal((N, M)), rng.standard_normal((N, M))
    result = student_call(student.call, "mse_loss", pred, y)
    expect_unchanged({"pred": pred, "y": y}, result.args_after, "mse_loss")


# ------------------------------------------------------------------------------------- softmax_ce
def _softmax_call(student, scores, y):
    loss, dscores = expect_tuple(
        student_call(student.softmax_cross_entropy, scores, y), 2, "softmax_cross_entropy", "loss, dscores"
    )
    return expect_scalar(loss, "softmax_cross_entropy", "loss"), dscores


@question("softmax_ce", points=0.5, visibility="visible")
def test_softmax_public_example(student):
    """loss on the public example"""
    scores, y = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]), np.array([2, 0])
    loss, _ = _softmax_call(student, scores, y)
    expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss", batch_size=2)


@question("softmax_ce", points=1)
def test_softmax_loss(student, rng):
    """loss is the mean negative log-probability of the correct classes"""
    scores, y = rng.standard_normal((N + 2, M + 1)), rng.integers(0, M + 1, N + 2)
    loss, _ = _softmax_call(student, scores, y)
    expected = ref.softmax_ce(scores, y)
    hints = {"It is the sum over the batch; the loss is the mean.": np.array(expected * len(y))}
    expect_close(np.array(loss), np.array(expected), "softmax_cross_entropy", "loss", hints=hints, batch_size=len(y))


@question("softmax_ce", points=1)
def test_softmax_gradient(student, rng):
    """dscores matches the numerical gradient"""
    scores, y = rng.standard_normal((N + 2, M + 1)), rng.integers(0, M + 1, N + 2)
    _, dscores = _softmax_call(student, scores, y)
    expected = numerical_gradient(lambda s: ref.softmax_ce(s, y), scores)
    expect_gradient(
        dscores,
        expected,
        "softmax_cross_entropy",
        "dscores",
        hints=softmax_gradient_hints(scores, ref.softmax(scores), y),
        batch_size=len(y),
        shape_hint="dscores has the shape of scores, (N, C).",
    )


def large_scores(rng, n, c):
    """Rows around +1000 or -1000 (1000 + 30 * noise, the sign per row): exp overflows or underflows
    unless each row is shifted, yet every class's probability stays far above underflow (the
    largest gap in a row is a few hundred, e^-300 is about 1e-130), so a right answer does not
    depend on computing log-probabilities one way or another."""
    scores = 1000.0 + 30.0 * rng.standard_normal((n, c))
    return scores * rng.choice([-1.0, 1.0], size=(n, 1))


@question("softmax_ce", points=1)
def test_softmax_large_scores(student, rng):
    """stable for scores around +-1000: loss and dscores finite and right"""
    scores, y = large_scores(rng, N + 2, M + 1), rng.integers(0, M + 1, N + 2)
    expected = (ref.softmax(scores) - np.eye(M + 1)[y]) / len(y)
    expect_stable_softmax(
        lambda s, labels: _softmax_call(student, s, labels), scores, y, ref.softmax_ce(scores, y), expected
    )


@question("softmax_ce", points=0.5)
def test_softmax_inputs_unchanged(student, rng):
    """leaves scores and y unchanged"""
    scores, y = rng.standard_normal((N, M)), rng.integers(0, M, N)
    result = student_call(student.call, "softmax_cross_entropy", scores, y)
    expect_unchanged({"scores": scores, "y": y}, result.args_after, "softmax_cross_entropy")


# ------------------------------------------------------------------------------------ param_count
@question("param_count", points=0.5, visibility="visible")
def test_param_count_public_example(student):
    """mlp_param_count([2, 3, 1]) on the public example"""
    expect_int(student_call(student.mlp_param_count, [2, 3, 1]), "mlp_param_count", 13, "mlp_param_count([2, 3, 1])")


@question("param_count", points=0.5)
def test_param_count_random(student, rng):
    """mlp_param_count on random layer sizes"""
    for depth in (2, 3, 4, 5):
        sizes = [int(s) for s in rng.integers(1, 300, depth)]
        counted = student_call(student.mlp_param_count, sizes)
        weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        try:
            expect_int(counted, "mlp_param_count", ref.param_count(sizes), f"mlp_param_count({sizes})")
        except CheckFailed as failure:
            hint = " It counts the weights but not the biases." if counted == weights_only else ""
            raise CheckFailed(f"{failure}{hint}") from None


@question("param_count", points=0.5)
def test_answer_one_hidden(student):
    """answer_one_hidden: D = 784, H = 100, one output"""
    answer = student_call(student.value, "answer_one_hidden")
    expect_int(answer, "answer_one_hidden", ref.param_count([784, 100, 1]), "your answer")


@question("param_count", points=0.5)
def test_answer_two_hidden(student):
    """answer_two_hidden: D = 64, two hidden layers of 32, C = 10"""
    answer = student_call(student.value, "answer_two_hidden")
    expect_int(answer, "answer_two_hidden", ref.param_count([64, 32, 32, 10]), "your answer")


# --------------------------------------------------------------------------------------- training
SPIRAL_ACCURACY = 0.85
DIGITS_ACCURACY = 0.90


def _check_params(params, shapes, function, label="params"):
    """A dict with exactly the keys of `shapes`, each a float64 array of that shape."""
    if not isinstance(params, dict) or set(params) != set(shapes):
        got = sorted(params) if isinstance(params, dict) else describe(params)
        raise CheckFailed(f"{function}: {label} must be a dict with keys {sorted(shapes)}, got {got}.")
    return {key: expect_array(params[key], shape, function, f"{label}[{key!r}]") for key, shape in shapes.items()}


def _shapes(d, h, c):
    return {"W1": (d, h), "b1": (h,), "W2": (h, c), "b2": (c,)}


# Training depends on the layers (two_layer_net_loss uses them), on two_layer_net_loss's gradients
# and on the update in the loop. When a training check fails, the grader checks each of these
# itself, in that order, and the feedback names the first that fails: a hint about the loop is
# given only when the layers and the gradients were verified right.
_training_verdicts: dict[str, str] = {}  # "layers", "gradients" -> "" when right, else why not


def _layer_checks(student, layer):
    """The layer's own checks at small sizes, as the relu, linear and softmax_ce questions run them."""
    rng = np.random.default_rng(7)
    if layer == "linear":
        x, W, b, dout = linear_inputs(rng)
        fwd, _, grads = forward_then_backward(
            student, "linear_forward", "linear_backward", (x, W, b), dout, 3, "dx, dW, db"
        )
        expect_close(fwd.value[0], ref.linear(x, W, b), "linear_forward", "out", hints={"Add the bias b.": x @ W})
        for name, actual in zip(("dx", "dW", "db"), grads):
            check_linear_gradient(name, actual, x, W, b, dout)
    elif layer == "relu":
        x, dout = away_from_kinks(rng, (N, D)), rng.standard_normal((N, D))
        fwd, _, (dx,) = forward_then_backward(student, "relu_forward", "relu_backward", (x,), dout, 1, "dx")
        expect_close(fwd.value[0], ref.relu(x), "relu_forward", "out")
        expect_gradient(dx, numerical_gradient(ref.relu, x, dout), "relu_backward", "dx", hints=relu_hints(x, dout))
    else:
        scores, y = rng.standard_normal((N + 2, M + 1)), rng.integers(0, M + 1, N + 2)
        loss, dscores = _softmax_call(student, scores, y)
        expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss")
        expect_gradient(
            dscores,
            numerical_gradient(lambda s: ref.softmax_ce(s, y), scores),
            "softmax_cross_entropy",
            "dscores",
            hints=softmax_gradient_hints(scores, ref.softmax(scores), y),
            batch_size=len(y),
        )


def layers_verdict(student):
    """ "" when the layers two_layer_net_loss uses pass their own checks, else which one fails and how."""
    if "layers" not in _training_verdicts:
        verdict = ""
        for layer, question_name in (("linear", "linear"), ("relu", "relu"), ("softmax", "softmax_ce")):
            try:
                _layer_checks(student, layer)
            except CheckFailed as failure:
                text = str(failure)
                function = text.split(":")[0].split()[0]
                verdict = (
                    f"two_layer_net_loss uses your {function}, which fails its own checks ({text.rstrip('.')}): "
                    f"fix {question_name} first."
                )
                break
        _training_verdicts["layers"] = verdict
    return _training_verdicts["layers"]


def _net_gradient_checks(student, rng):
    d, h, c, n = 4, 6, 3, 7
    params, x, y = ref.init_two_layer(d, h, c, rng), rng.standard_normal((n, d)), rng.integers(0, c, n)
    params["b1"] = rng.uniform(0.1, 0.5, h)  # keep hidden units away from ReLU's kink
    loss, grads = expect_tuple(
        student_call(student.two_layer_net_loss, params, x, y), 2, "two_layer_net_loss", "loss, grads"
    )
    expect_close(
        np.array(expect_scalar(loss, "two_layer_net_loss", "loss")),
        np.array(ref.two_layer_loss(params, x, y)),
        "two_layer_net_loss",
        "loss",
    )
    grads = _check_params(grads, _shapes(d, h, c), "two_layer_net_loss", "grads")
    for key in ("W2", "b2", "W1", "b1"):

        def loss_of(value, key=key):
            return ref.two_layer_loss({**params, key: value}, x, y)

        expect_gradient(
            grads[key],
            numerical_gradient(loss_of, params[key].copy()),
            "two_layer_net_loss",
            f"grads[{key!r}]",
            batch_size=n,
        )


def gradients_verdict(student):
    """ "" when two_layer_net_loss's loss and gradients match the grader's, else how they do not."""
    if "gradients" not in _training_verdicts:
        try:
            _net_gradient_checks(student, np.random.default_rng(11))
            _training_verdicts["gradients"] = ""
        except CheckFailed as failure:
            _training_verdicts["gradients"] = str(failure)
    return _training_verdicts["gradients"]


def with_dependencies(student, check):
    """Run check(); if it fails and a layer two_layer_net_loss uses fails its own checks, say so first."""
    try:
        check()
    except CheckFailed as failure:
        dependency = layers_verdict(student)
        raise CheckFailed(f"{dependency} {failure}" if dependency else str(failure)) from None


def _norm_error(actual, expected):
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(actual) + np.linalg.norm(expected), 1e-12))


def update_verdict(student, x, y, hidden, learning_rate, seed):
    """What one full-batch epoch of train_two_layer_net does to the parameters init_two_layer_net
    gives, against param - learning_rate * grad with the grader's numerical gradient."""
    n, d, c = len(x), x.shape[1], int(y.max()) + 1
    shapes = _shapes(d, hidden, c)
    try:
        start = _check_params(
            student_call(student.init_two_layer_net, d, hidden, c, seed=seed), shapes, "init_two_layer_net"
        )
        result = student_call(
            student.call,
            "train_two_layer_net",
            x,
            y,
            hidden_size=hidden,
            learning_rate=learning_rate,
            epochs=1,
            batch_size=n,
            seed=seed,
            timeout=60,
        )
        after, _ = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
        after = _check_params(after, shapes, "train_two_layer_net")
    except CheckFailed as failure:
        return f"One full-batch epoch of train_two_layer_net could not be checked: {failure}"
    step = f"one epoch of train_two_layer_net with batch_size = N = {n} (a single SGD step)"
    if all(np.array_equal(after[key], start[key]) for key in shapes):
        return (
            f"Your layers and two_layer_net_loss's gradients are right, but after {step} the parameters are "
            "exactly those init_two_layer_net gives: are the parameters really updated in every step?"
        )
    moved = {key: after[key] - start[key] for key in shapes}
    expected = {}
    for key in shapes:

        def loss_of(value, key=key):
            return ref.two_layer_loss({**start, key: value}, x, y)

        expected[key] = -learning_rate * numerical_gradient(loss_of, start[key].copy())
    if (
        max(_norm_error(moved[key], expected[key]) for key in shapes) <= 1e-2
    ):  # loose: kinks of ReLU in the numerical gradient
        return (
            f"Your layers, two_layer_net_loss's gradients and {step} are right (the step moves every "
            "parameter by -learning_rate * grad), so look at the loop over epochs and batches: shuffle with "
            "np.random.default_rng(seed) each epoch, visit every batch, keep the updated params."
        )
    if (
        max(_norm_error(moved[key], -expected[key]) for key in shapes) <= 1e-2
    ):  # loose: kinks of ReLU in the numerical gradient
        return (
            f"Your layers and two_layer_net_loss's gradients are right, but {step} moved every parameter by "
            "+learning_rate * grad, uphill: the update is param -= learning_rate * grad (minus, not plus)."
        )
    key = max(shapes, key=lambda k: _norm_error(moved[k], expected[k]))
    return (
        f"Your layers and two_layer_net_loss's gradients are right, but {step} did not move {key} by "
        f"-learning_rate * grad: relative error {_norm_error(moved[key], expected[key]):.1e} "
        f"(it moved by a step of size {np.linalg.norm(moved[key]):.3g}, expected {np.linalg.norm(expected[key]):.3g})."
    )


def training_diagnosis(student, task_data):
    """(is a dependency, text): the first of the layers, the gradients and one update that is wrong."""
    layers = layers_verdict(student)
    if layers:
        return True, layers
    gradients = gradients_verdict(student)
    if gradients:
        return True, f"two_layer_net_loss gives wrong gradients, so training cannot work: {gradients}"
    return False, update_verdict(student, *task_data)


@question("training", points=0.5, visibility="visible")
def test_net_loss_returns(student, rng):
    """two_layer_net_loss returns a float loss and a grads dict shaped like params"""
    params, x, y = ref.init_two_layer(4, 5, 3, rng), rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    def check():
        loss, grads = expect_tuple(
            student_call(student.two_layer_net_loss, params, x, y), 2, "two_layer_net_loss", "loss, grads"
        )
        expect_scalar(loss, "two_layer_net_loss", "loss")
        _check_params(grads, _shapes(4, 5, 3), "two_layer_net_loss", "grads")

    with_dependencies(student, check)


@question("training", points=1)
def test_net_loss_gradients(student, rng):
    """two_layer_net_loss: the loss and every gradient match the grader's"""
    with_dependencies(student, lambda: _net_gradient_checks(student, rng))


def _spiral_task(rng):
    x_train, y_train = ref.spirals(100, rng)
    x_test, y_test = ref.spirals(200, rng)
    return x_train, y_train, x_test, y_test


@question("training", points=1)
def test_grader_trains_with_your_gradients(student, rng):
    """SGD driven by the grader with your two_layer_net_loss learns the spirals (held-out accuracy)"""
    x_train, y_train, x_test, y_test = _spiral_task(rng)
    params = ref.init_two_layer(2, 64, 3, rng)

    def check():
        nonlocal params
        for _ in range(60):
            order = rng.permutation(len(x_train))
            for start in range(0, len(order), 30):
                batch = order[start : start + 30]
                loss, grads = expect_tuple(
                    student_call(student.two_layer_net_loss, params, x_train[batch], y_train[batch]),
                    2,
                    "two_layer_net_loss",
                    "loss, grads",
                )
                grads = _check_params(grads, _shapes(2, 64, 3), "two_layer_net_loss", "grads")
                params = {key: params[key] - 1.0 * grads[key] for key in params}
        held_out = accuracy(ref.two_layer_scores(params, x_test), y_test)
        if not held_out >= SPIRAL_ACCURACY:
            gradients = "" if layers_verdict(student) else gradients_verdict(student)
            raise CheckFailed(
                f"two_layer_net_loss: after 600 SGD steps with your gradients the network classifies "
                f"{held_out:.0%} of held-out spiral points correctly (needs {SPIRAL_ACCURACY:.0%})."
                + (f" Your gradients are wrong: {gradients}" if gradients else "")
            )

    with_dependencies(student, check)


def _check_training_run(student, result, epochs, shapes, test_data, needed, task, task_data):
    """The returned values' form first, then the loss going down and the accuracy the grader
    computes on its own held-out data; when those fail, the diagnosis (see training_diagnosis)."""
    params, history = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
    if not isinstance(history, (list, tuple, np.ndarray)) or len(history) != epochs:
        got = len(history) if hasattr(history, "__len__") else describe(history)
        raise CheckFailed(f"train_two_layer_net: loss_history must hold one number per epoch ({epochs}), got {got}.")
    if not all(isinstance(v, (int, float, np.floating, np.integer)) for v in history):
        raise CheckFailed("train_two_layer_net: every loss_history entry must be a number (a float).")
    losses = np.array(history, dtype=np.float64)
    try:
        params = _check_params(params, shapes, "train_two_layer_net")
    except CheckFailed as failure:  # for instance nan after diverging: diagnose as well
        observed = f"train_two_layer_net on {task}: the loss went from {losses[0]:.3g} to {losses[-1]:.3g}. {failure}"
        dependency, diagnosis = training_diagnosis(student, task_data)
        raise CheckFailed(f"{diagnosis} Observed: {observed}" if dependency else f"{observed} {diagnosis}") from None
    held_out = accuracy(ref.two_layer_scores(params, test_data[0]), test_data[1])
    observed = (
        f"train_two_layer_net on {task}: the loss went from {losses[0]:.3g} to {losses[-1]:.3g} and the trained "
        f"network classifies {held_out:.0%} of held-out points correctly (needs {needed:.0%}"
    )
    if not np.isfinite(losses[-1]) or losses[-1] > losses[0]:
        observed += ", and a falling loss)."
    elif abs(losses[-1] - losses[0]) < 1e-3 * abs(losses[0]):
        observed += ", and a loss that falls)."
    elif held_out >= needed:
        return
    else:
        observed += ")."
    dependency, diagnosis = training_diagnosis(student, task_data)
    raise CheckFailed(f"{diagnosis} Observed: {observed}" if dependency else f"{observed} {diagnosis}")


def _train(student, x, y, hidden, learning_rate, epochs, seed):
    return student_call(
        student.call,
        "train_two_layer_net",
        x,
        y,
        hidden_size=hidden,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=32,
        seed=seed,
        timeout=120,
    )


@question("training", points=1)
def test_train_spirals(student, rng):
    """train_two_layer_net learns the spirals (held-out accuracy, loss going down)"""
    x_train, y_train, x_test, y_test = _spiral_task(rng)
    seed = int(rng.integers(0, 1000))
    result = _train(student, x_train, y_train, 64, 1.0, 200, seed)
    _check_training_run(
        student,
        result,
        200,
        _shapes(2, 64, 3),
        (x_test, y_test),
        SPIRAL_ACCURACY,
        "spirals",
        (x_train, y_train, 64, 1.0, seed),
    )


@question("training", points=0.5)
def test_train_digits(student, rng):
    """train_two_layer_net learns the 8x8 digits (held-out accuracy)"""
    x_train, y_train, x_test, y_test = ref.digits_split(rng)
    seed = int(rng.integers(0, 1000))
    result = _train(student, x_train, y_train, 64, 0.5, 20, seed)
    _check_training_run(
        student,
        result,
        20,
        _shapes(64, 64, 10),
        (x_test, y_test),
        DIGITS_ACCURACY,
        "digits",
        (x_train[:300], y_train[:300], 64, 0.5, seed),
    )
