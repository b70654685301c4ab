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
    CheckFailed,
    accuracy,
    away_from_kinks,
    describe,
    directional_check,
    expect_array,
    expect_close,
    expect_gradient,
    expect_int,
    expect_scalar,
    expect_tuple,
    expect_unchanged,
    numerical_gradient,
)
from autograder.suite import question, student_call

N, D, M = 4, 5, 3  # batch, input and output sizes of the small checks
BACKWARD_BUDGET_SECONDS = 1.0  # a real backward at the large sizes below takes milliseconds
BACKWARD_TIMEOUT_SECONDS = 10.0  # finite differences there take from tens of seconds to minutes


def forward_then_backward(student, forward, backward, inputs, upstream, outputs, names):
    """Call forward(*inputs) and backward(upstream, cache); check both return the right tuples.
    Returns (forward CallResult, backward CallResult, backward outputs as a tuple)."""
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    out, cache = expect_tuple(fwd.value, 2, forward, "out, cache")
    bwd = student_call(student.call, backward, upstream, cache, timeout=BACKWARD_TIMEOUT_SECONDS)
    grads = (bwd.value,) if outputs == 1 else expect_tuple(bwd.value, outputs, backward, names)
    return fwd, bwd, grads


def check_unchanged(student, forward, backward, inputs, upstream, names):
    require_real_backward(student, forward.removesuffix("_forward"))
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    expect_tuple(fwd.value, 2, forward, "out, cache")
    expect_unchanged(dict(zip(names, inputs)), fwd.args_after, forward)
    bwd = student_call(student.call, backward, upstream.copy(), fwd.value[1])
    expect_unchanged({"dout": upstream}, bwd.args_after, backward)


def large_problem(layer, rng):
    """(inputs, upstream, [(input position, gradient name)], reference forward) at a size where a
    backward pass takes milliseconds and finite differences of the forward take far longer."""
    if layer == "linear":
        x, W, b, dout = linear_inputs(rng, 64, 300, 200)
        return (x, W, b), dout, [(0, "dx"), (1, "dW"), (2, "db")], ref.linear
    x = away_from_kinks(rng, (200, 500)) if layer == "relu" else rng.uniform(-3, 3, (200, 500))
    return (x,), rng.standard_normal(x.shape), [(0, "dx")], getattr(ref, layer)


_backward_verdicts: dict[str, str] = {}  # layer -> "" when its backward is a real one, else why not


def require_real_backward(student, layer):
    """Backward points need a real backward pass, not finite differences of the forward (right
    values, no backpropagation). Timed once per submission, by the grader's clock, at a large size."""
    if layer not in _backward_verdicts:
        inputs, upstream, wrt, _ = large_problem(layer, np.random.default_rng(2024))
        backward = f"{layer}_backward"
        slow = (
            f"{backward} needs more than {BACKWARD_BUDGET_SECONDS:g} s for an input of shape {inputs[0].shape}, "
            "where a backward pass takes milliseconds. Compute the gradient with the chain rule: a backward "
            "made of finite differences of the forward earns no backward points."
        )
        try:
            _, bwd, _ = forward_then_backward(student, f"{layer}_forward", backward, inputs, upstream, len(wrt), "")
            verdict = "" if bwd.seconds <= BACKWARD_BUDGET_SECONDS else f"{slow} It took {bwd.seconds:.1f} s."
        except CheckFailed as failure:
            if "did not finish in time" in str(failure):  # timed out, nothing more known
                verdict = f"{backward} did not finish within {BACKWARD_TIMEOUT_SECONDS:g} s (an endless loop?). {slow}"
            elif "did not finish within" in str(failure):  # the sandbox saw where it hung
                verdict = f"{str(failure).rstrip('.')}. {slow}"
            else:
                verdict = str(failure)
        _backward_verdicts[layer] = verdict
    if _backward_verdicts[layer]:
        raise CheckFailed(_backward_verdicts[layer])


def check_large_backward(student, layer, rng):
    """At a large size: a real backward (see require_real_backward), right along random directions."""
    require_real_backward(student, layer)
    inputs, upstream, wrt, reference_forward = large_problem(layer, rng)
    _, _, grads = forward_then_backward(
        student, f"{layer}_forward", f"{layer}_backward", inputs, upstream, len(wrt), ""
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


LINEAR_SHAPE_HINTS = {
    "dx": "dx has the shape of x, (N, D): dout @ W.T.",
    "dW": "The gradient has the shape of its variable: dW is (D, M) like W. A transposed dW?",
    "db": "db has the shape of b, (M,): sum dout over the batch axis.",
}


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


def _linear_gradient(student, rng, which):
    require_real_backward(student, "linear")
    x, W, b, dout = linear_inputs(rng)
    _, _, (dx, dW, db) = forward_then_backward(
        student, "linear_forward", "linear_backward", (x, W, b), dout, 3, "dx, dW, db"
    )
    inputs = {
        "dx": (x, lambda v: ref.linear(v, W, b), dx),
        "dW": (W, lambda v: ref.linear(x, v, b), dW),
        "db": (b, lambda v: ref.linear(x, W, v), db),
    }
    value, forward, actual = inputs[which]
    hints = {"It ignores the upstream gradient dout.": numerical_gradient(forward, value, np.ones_like(dout))}
    if which == "db":
        hints["db is a mean over the batch; it must be the sum."] = dout.mean(axis=0)
    expect_gradient(
        actual,
        numerical_gradient(forward, value, dout),
        "linear_backward",
        which,
        hints=hints,
        batch_size=N,
        shape_hint=LINEAR_SHAPE_HINTS[which],
    )


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
def _elementwise_gradient(student, rng, layer, x, reference_forward, hints_for):
    require_real_backward(student, layer)
    dout = rng.standard_normal(x.shape)
    _, _, (dx,) = forward_then_backward(student, f"{layer}_forward", f"{layer}_backward", (x,), dout, 1, "dx")
    expected = numerical_gradient(reference_forward, x, dout)
    expect_gradient(
        dx, expected, f"{layer}_backward", "dx", hints=hints_for(x, dout), shape_hint="dx has the shape of x."
    )


def relu_hints(x, dout):
    return {
        "It ignores the upstream gradient dout: multiply the local gradient by dout.": (x > 0).astype(float),
        "It multiplies by x; the local gradient of ReLU is 1 where x > 0, else 0.": dout * x * (x > 0),
        "It passes dout where x < 0 instead of where x > 0.": dout * (x < 0),
    }


def sigmoid_hints(x, dout):
    s = ref.sigmoid(x)
    return {
        "It ignores the upstream gradient dout.": s * (1 - s),
        "The local gradient is s * (1 - s); the (1 - s) factor is missing.": dout * s,
        "It uses the input x where the sigmoid output s belongs: s * (1 - s).": dout * x * (1 - x),
    }


@question("relu", points=0.5, visibility="visible")
def test_relu_public_example(student):
    """forward and backward on the public example"""
    x = np.array([[-2.0, -0.5, 0.5], [1.5, -1.0, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    require_real_backward(student, "relu")
    fwd, _, (dx,) = forward_then_backward(student, "relu_forward", "relu_backward", (x,), dout, 1, "dx")
    expect_close(fwd.value[0], ref.relu(x), "relu_forward", "out")
    expect_close(dx, dout * (x > 0), "relu_backward", "dx", hints=relu_hints(x, dout))


@question("relu", points=0.5)
def test_relu_forward(student, rng):
    """forward matches max(0, x)"""
    x = away_from_kinks(rng, (N, D, 2))
    out, _ = expect_tuple(student_call(student.call, "relu_forward", x, keep=(1,)).value, 2, "relu_forward")
    expect_close(out, ref.relu(x), "relu_forward", "out")


@question("relu", points=0.5)
def test_relu_backward(student, rng):
    """backward matches the numerical gradient"""
    _elementwise_gradient(student, rng, "relu", away_from_kinks(rng, (N, D)), ref.relu, relu_hints)


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
    _elementwise_gradient(student, rng, "sigmoid", rng.uniform(-3, 3, (N, D)), ref.sigmoid, sigmoid_hints)


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


def mse_gradient_hints(pred, y):
    diff = pred - y
    return {
        f"It is missing the 1/K of the mean (K = {pred.size} elements).": 2 * diff,
        "It divides by the number of rows only: divide by the number of elements, N * M.": 2 * diff / len(diff),
    }


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


def softmax_hints(scores, y):
    n = len(y)
    probabilities = ref.softmax(scores)
    one_hot = np.eye(scores.shape[1])[y]
    return {
        "It is missing the one-hot subtraction: dscores = (softmax - one_hot(y)) / N.": probabilities / n,
        "It normalises softmax along the wrong axis (over the batch instead of over the classes).": (
            np.exp(scores - scores.max(axis=0)) / np.exp(scores - scores.max(axis=0)).sum(axis=0) - one_hot
        )
        / n,
    }


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
        hints=softmax_hints(scores, y),
        batch_size=len(y),
        shape_hint="dscores has the shape of scores, (N, C).",
    )


@question("softmax_ce", points=1)
def test_softmax_large_scores(student, rng):
    """stable for scores around 1000: loss and dscores finite and right"""
    scores = 1000.0 + 30.0 * rng.standard_normal((N + 2, M + 1))
    scores[0] = [-1000.0, 0.0, 1000.0, 2.0][: M + 1]
    y = rng.integers(0, M + 1, N + 2)
    try:
        loss, dscores = _softmax_call(student, scores, y)
        expect_array(dscores, scores.shape, "softmax_cross_entropy", "dscores")
    except CheckFailed as failure:
        raise CheckFailed(
            f"{failure} For scores around 1000, exp overflows: subtract each row's maximum "
            "before exp (softmax does not change)."
        ) from None
    expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss")
    expected = (ref.softmax(scores) - np.eye(M + 1)[y]) / len(y)
    expect_gradient(dscores, expected, "softmax_cross_entropy", "dscores", batch_size=len(y))


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


@question("training", points=0.5, visibility="visible")
def test_net_loss_returns(student, rng):
    """two_layer_net_loss returns a float loss and a grads dict shaped like params"""
    params, x, y = ref.init_two_layer(4, 5, 3, rng), rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    loss, grads = expect_tuple(
        student_call(student.two_layer_net_loss, params, x, y), 2, "two_layer_net_loss", "loss, grads"
    )
    expect_scalar(loss, "two_layer_net_loss", "loss")
    _check_params(grads, _shapes(4, 5, 3), "two_layer_net_loss", "grads")


@question("training", points=1)
def test_net_loss_gradients(student, rng):
    """two_layer_net_loss: the loss and every gradient match the grader's"""
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


def _spiral_task(rng):
    x_train, y_train = ref.spirals(100, rng)
    x_test, y_test = ref.spirals(200, rng)
    return x_train, y_train, x_test, y_test


@question("training", points=1)
def test_grader_trains_with_your_gradients(student, rng):
    """SGD driven by the grader with your two_layer_net_loss learns the spirals (held-out accuracy)"""
    x_train, y_train, x_test, y_test = _spiral_task(rng)
    params = ref.init_two_layer(2, 64, 3, rng)
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
        raise CheckFailed(
            f"two_layer_net_loss: after 600 SGD steps with your gradients the network classifies "
            f"{held_out:.0%} of held-out spiral points correctly (needs {SPIRAL_ACCURACY:.0%})."
        )


def _check_training_run(params, history, epochs, shapes, x_test, y_test, needed, task):
    """The loss history first (it explains most failures), then the parameters, then the accuracy
    the grader computes on its own held-out data."""
    if not isinstance(history, (list, tuple, np.ndarray)) or len(history) != epochs:
        got = len(history) if hasattr(history, "__len__") else describe(history)
        raise CheckFailed(f"train_two_layer_net: loss_history must hold one number per epoch ({epochs}), got {got}.")
    if not all(isinstance(v, (int, float, np.floating, np.integer)) for v in history):
        raise CheckFailed("train_two_layer_net: every loss_history entry must be a number (a float).")
    losses = np.array(history, dtype=np.float64)
    trend = f"train_two_layer_net on {task}: the loss went from {losses[0]:.3g} to {losses[-1]:.3g}."
    if not np.isfinite(losses[-1]) or losses[-1] > losses[0]:
        raise CheckFailed(f"{trend} It went up: is the update param -= learning_rate * grad (minus, not plus)?")
    if abs(losses[-1] - losses[0]) < 1e-3 * abs(losses[0]):
        raise CheckFailed(f"{trend} It barely changed: are the parameters really updated in every step?")
    params = _check_params(params, shapes, "train_two_layer_net")
    held_out = accuracy(ref.two_layer_scores(params, x_test), y_test)
    if not held_out >= needed:
        raise CheckFailed(
            f"{trend} The trained network classifies {held_out:.0%} of held-out points correctly (needs {needed:.0%})."
        )


@question("training", points=1)
def test_train_spirals(student, rng):
    """train_two_layer_net learns the spirals (held-out accuracy, loss going down)"""
    x_train, y_train, x_test, y_test = _spiral_task(rng)
    seed = int(rng.integers(0, 1000))
    result = student_call(
        student.call,
        "train_two_layer_net",
        x_train,
        y_train,
        hidden_size=64,
        learning_rate=1.0,
        epochs=200,
        batch_size=32,
        seed=seed,
        timeout=120,
    )
    params, history = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
    _check_training_run(params, history, 200, _shapes(2, 64, 3), x_test, y_test, SPIRAL_ACCURACY, "spirals")


@question("training", points=0.5)
def test_train_digits(student, rng):
    """train_two_layer_net learns the 8x8 digits (held-out accuracy)"""
    x_train, y_train, x_test, y_test = ref.digits_split(rng)
    result = student_call(
        student.call,
        "train_two_layer_net",
        x_train,
        y_train,
        hidden_size=64,
        learning_rate=0.5,
        epochs=20,
        batch_size=32,
        seed=int(rng.integers(0, 1000)),
        timeout=120,
    )
    params, history = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
    _check_training_run(params, history, 20, _shapes(64, 64, 10), x_test, y_test, DIGITS_ACCURACY, "digits")
