"""Hidden tests for hw3_expressivity (instructor only). Run by the trusted grader, never in the
student's process: `student` calls into the sandbox and returns plain data. Every network a
student returns (XOR weights, bump networks, sawtooth networks, trained sine networks) is
evaluated here with the grader's own numpy forward pass, on points and functions the student
never sees; expected gradients are numerical gradients of `reference`.

A hint names a mistake only when the grader has checked it: the student's output equals what that
mistake gives, or the student's own network, changed the way the hint says, passes.
"""

from __future__ import annotations

import math

import numpy as np
import reference as ref

from autograder.checks import (
    CheckFailed,
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
    expect_number,
    expect_scalar,
    expect_tuple,
    expect_unchanged,
    finite_difference_seconds,
    numerical_gradient,
)
from autograder.sandbox import Program
from autograder.suite import question, student_call

N, D = 4, 5  # the small checks' shapes
SMALL_BACKWARD_TIMEOUT_SECONDS = 10.0
# Backward values must equal the exact derivative, not only a finite difference's accuracy (the
# notebook says so). Measured on x ~ U(-3, 3) of shape (100, 200): analytic forms of tanh's
# derivative (dout / cosh(x)**2, dout * (1 - t) * (1 + t), dout - dout * t * t) agree with
# dout * (1 - tanh(x)**2) to 1.1e-14; central differences are off 2.7e-10 (h = 1e-5) or more;
# leaky ReLU's analytic forms agree exactly, central differences are off 1.4e-11 (h = 1e-5).
# A finite difference with a step scaled to each |x| (leaky ReLU is linear on each side) or
# complex-step differentiation can be exact to rounding: a known limit.
EXACT_RTOL = 1e-13
# sine_net_loss: backpropagation written differently (einsum, a loop over the points) agrees with
# the reference to 1e-15 (sizes 3x4 to 1000x300); central differences (h = 1e-6) are off by at
# least 5e-9 in their worst gradient entry on every size tried.
NET_EXACT_RTOL = 1e-12
EXACT_ATOL = 1e-15  # see expect_exact
NEAR_EXACT_HINT = (
    "That is close to the exact derivative but not equal to it, as finite differences of the forward are: "
    "compute the derivative itself with the chain rule (the notebook allows a relative error of {rtol:g})."
)


def expect_exact(actual, exact, function, output, rtol=EXACT_RTOL):
    """actual must equal the chain rule's exact derivative to rtol (after the numerical check passed).
    Entries within EXACT_ATOL of it count as equal: where the derivative underflows (tanh at |x| > 19,
    1 - tanh**2 is 0 but 1 / cosh**2 is 3e-17), a relative error says nothing; finite differences
    are off by 1e-10 and more."""
    if isinstance(actual, np.ndarray) and actual.dtype == np.float64 and actual.shape == np.shape(exact):
        actual = np.where(np.abs(actual - exact) <= EXACT_ATOL, exact, actual)
    expect_close(actual, exact, function, output, rtol=rtol, hints={NEAR_EXACT_HINT.format(rtol=rtol): exact})


# ---------------------------------------------------------------------------------- nonlinear
def forward_then_backward(student, layer, inputs, upstream, timeout=None):
    """`<layer>_forward(*inputs)` then `<layer>_backward(upstream, cache)`: (out, backward CallResult)."""
    fwd = student_call(student.call, f"{layer}_forward", *inputs, keep=(1,))
    out, cache = expect_tuple(fwd.value, 2, f"{layer}_forward", "out, cache")
    bwd = student_call(
        student.call, f"{layer}_backward", upstream, cache, timeout=timeout or SMALL_BACKWARD_TIMEOUT_SECONDS
    )
    return out, bwd


def tanh_hints(x, dout):
    t = np.tanh(x)
    return {
        "It ignores the upstream gradient dout.": 1 - t**2,
        "It uses x where tanh(x) belongs: the derivative is 1 - tanh(x)**2.": dout * (1 - x**2),
        "The square is missing: the derivative is 1 - tanh(x)**2.": dout * (1 - t),
    }


def leaky_forward_hints(x, slope):
    return {
        "The slope is applied on the wrong side: x where x > 0, slope * x elsewhere.": np.where(x > 0, slope * x, x),
        "It uses the default slope 0.01, not the slope passed in.": np.where(x > 0, x, 0.01 * x),
    }


def leaky_backward_hints(x, dout, slope):
    hints = {
        "The slope is applied on the wrong side: dout where x > 0, slope * dout elsewhere.": dout
        * np.where(x > 0, slope, 1.0),
        "It uses the default slope 0.01, not the slope given to leaky_relu_forward (keep it in the cache).": dout
        * np.where(x > 0, 1.0, 0.01),
        "It ignores the upstream gradient dout.": np.where(x > 0, 1.0, slope),
    }
    if np.any(x == 0):
        hints["At exactly 0 the derivative is the slope, as for every x <= 0 (the notebook)."] = dout * np.where(
            x >= 0, 1.0, slope
        )
    return hints


def step_hints(x, dout):
    return {
        "That passes dout through unchanged, a 'gradient' of 1: the step is flat, its derivative is 0.": dout,
        "That is ReLU's derivative (1 where x > 0); the step is flat on both sides, its derivative is 0.": dout
        * (x > 0),
    }


STABILITY = (
    " tanh_forward must be finite for inputs as large as +-1000 (the notebook): a formula with np.exp(x) "
    "overflows there (inf / inf = nan); np.tanh does not."
)


@question("nonlinear", points=0.25, visibility="visible")
def test_tanh_public_example(student):
    """tanh forward (also at +-1000) and backward on the public example"""
    x = np.array([[-1.0, 0.0, 0.5], [2.0, -3.0, 1000.0], [-1000.0, 20.0, -0.25]])
    dout = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0], [0.5, 2.0, 1.5]])
    out, bwd = forward_then_backward(student, "tanh", (x,), dout)
    try:
        expect_close(out, ref.tanh(x), "tanh_forward", "out")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}{STABILITY if 'finite' in str(failure) else ''}") from None
    exact = dout * (1 - np.tanh(x) ** 2)
    expect_close(bwd.value, exact, "tanh_backward", "dx", hints=tanh_hints(x, dout))
    expect_exact(bwd.value, exact, "tanh_backward", "dx")


@question("nonlinear", points=0.25)
def test_tanh_forward(student, rng):
    """tanh forward is right and finite, also for inputs as large as +-1000"""
    x = np.concatenate([rng.uniform(-4, 4, (N, D)), rng.uniform(-1000, 1000, (N, D))])
    for value in (x, x[0], x.reshape(2, N, D)):  # 2-D, 1-D and 3-D: "x of any shape"
        out, _ = expect_tuple(student_call(student.call, "tanh_forward", value, keep=(1,)).value, 2, "tanh_forward")
        try:
            expect_close(out, ref.tanh(value), f"tanh_forward (x of shape {value.shape})", "out")
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}{STABILITY if 'finite' in str(failure) else ''}") from None


@question("nonlinear", points=0.25)
def test_tanh_backward(student, rng):
    """tanh backward matches the numerical gradient and is exact, for x of shapes (4, 5), (7,) and (2, 3, 4)"""
    for shape in ((N, D), (7,), (2, 3, 4)):
        x, dout = rng.uniform(-3, 3, shape), rng.standard_normal(shape)
        _, bwd = forward_then_backward(student, "tanh", (x,), dout)
        expected = numerical_gradient(ref.tanh, x, dout)
        label = f"tanh_backward (x of shape {shape})"
        expect_gradient(
            bwd.value, expected, label, "dx", hints=tanh_hints(x, dout), shape_hint="dx has the shape of x."
        )
        expect_exact(bwd.value, dout * (1 - np.tanh(x) ** 2), label, "dx")
    require_real_backward(student, "tanh")


@question("nonlinear", points=0.25)
def test_leaky_relu_forward(student, rng):
    """leaky ReLU forward with other slopes, also at exactly 0"""
    for slope, shape in zip(rng.uniform(0.02, 0.3, 3), ((N, D), (7,), (2, 3, 4))):
        slope = float(slope)
        x = away_from_kinks(rng, shape)
        x.flat[:2] = 0.0
        result = student_call(student.call, "leaky_relu_forward", x, slope, keep=(1,))
        out, _ = expect_tuple(result.value, 2, "leaky_relu_forward")
        expect_close(
            out,
            ref.leaky_relu(x, slope),
            f"leaky_relu_forward(x, slope={slope:.3g})",
            "out",
            hints=leaky_forward_hints(x, slope),
        )


@question("nonlinear", points=0.5)
def test_leaky_relu_backward(student, rng):
    """leaky ReLU backward matches the numerical gradient, with the slope given to the forward"""
    for slope, shape in zip(rng.uniform(0.02, 0.3, 3), ((N, D), (7,), (2, 3, 4))):
        slope = float(slope)
        x, dout = away_from_kinks(rng, shape), rng.standard_normal(shape)
        _, bwd = forward_then_backward(student, "leaky_relu", (x, slope), dout)
        expected = numerical_gradient(lambda v, slope=slope: ref.leaky_relu(v, slope), x, dout)
        label = f"leaky_relu_backward (slope {slope:.3g}, x of shape {shape})"
        expect_gradient(
            bwd.value,
            expected,
            label,
            "dx",
            hints=leaky_backward_hints(x, dout, slope),
            shape_hint="dx has the shape of x.",
        )
        expect_exact(bwd.value, dout * np.where(x > 0, 1.0, slope), label, "dx")
    x = np.array([[0.0, -1.0, 0.0], [2.0, 0.0, -0.5]])  # at exactly 0 the derivative is the slope
    dout = rng.standard_normal(x.shape)
    _, bwd = forward_then_backward(student, "leaky_relu", (x, 0.2), dout)
    expected = dout * np.where(x > 0, 1.0, 0.2)
    expect_close(
        bwd.value,
        expected,
        "leaky_relu_backward (slope 0.2, x with zeros)",
        "dx",
        hints=leaky_backward_hints(x, dout, 0.2),
    )
    require_real_backward(student, "leaky_relu")


@question("nonlinear", points=0.5)
def test_step(student, rng):
    """step forward (float64 zeros and ones, 0 at exactly 0) and backward (0 everywhere), x of shapes (4, 5), (7,), (2, 3, 4)"""
    for shape in ((N, D), (7,), (2, 3, 4)):
        x = away_from_kinks(rng, shape)
        x.flat[1:3] = 0.0
        dout = rng.standard_normal(x.shape)
        out, bwd = forward_then_backward(student, "step", (x,), dout)
        expect_close(out, ref.step(x), f"step_forward (x of shape {shape})", "out")
        expect_close(
            bwd.value, np.zeros_like(x), f"step_backward (x of shape {shape})", "dx", hints=step_hints(x, dout)
        )


def check_unchanged(student, layer, inputs, upstream):
    """forward leaves its input alone, backward leaves dout alone, and the forward's x is still
    unchanged after the backward that follows (a backward that writes into its cache)."""
    forward, backward = f"{layer}_forward", f"{layer}_backward"
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    out, _ = expect_tuple(fwd.value, 2, forward, "out, cache")
    expect_unchanged({"x": inputs[0]}, fwd.args_after[:1], forward)
    bwd = student_call(student.call, backward, upstream.copy(), fwd.value[1], timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    expect_unchanged({"dout": upstream}, bwd.args_after, backward)
    # the point is for functions that work and leave their inputs alone, not for stubs
    x = inputs[0]
    if layer == "tanh":
        values = (ref.tanh(x), upstream * (1 - np.tanh(x) ** 2))
    elif layer == "leaky_relu":
        values = (ref.leaky_relu(x, inputs[1]), upstream * np.where(x > 0, 1.0, inputs[1]))
    else:
        values = (ref.step(x), np.zeros_like(x))
    expect_close(out, values[0], forward, "out")
    expect_close(bwd.value, values[1], backward, "dx")
    program = Program(f"{forward} then {backward}")
    x = program.op("pos", inputs[0])  # an array that stays in the sandbox
    result = program.call(forward, x, *inputs[1:])
    program.call(backward, program.op("pos", upstream), program.item(result, 1))
    after = student_call(student.run, program, [x], timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    expect_unchanged({"x": inputs[0]}, after, forward, by=backward)


@question("nonlinear", points=0.25)
def test_inputs_unchanged(student, rng):
    """tanh, leaky ReLU and step leave their inputs unchanged (and give the right values)"""
    for layer, extra in (("tanh", ()), ("leaky_relu", (0.1,)), ("step", ())):
        x = away_from_kinks(rng, (N, D))
        check_unchanged(student, layer, (x, *extra), rng.standard_normal(x.shape))


_backward_verdicts: dict[str, tuple[str, str]] = {}  # probe -> (why not fast, why not right); "" when it is


def require_real_backward(student, name, values=True):
    """Backward points need a backward that is right and fast at a large size (the probe), judged
    against this machine now: a tenth of the time finite differences of the reference forward take
    (`backward_seconds_bound`). Checked once per submission."""
    if name not in _backward_verdicts:
        _backward_verdicts[name] = _probe(student, name, np.random.default_rng(2024))
    slow, wrong = _backward_verdicts[name]
    if slow or (values and wrong):
        raise CheckFailed(slow or wrong)


def large_problem(name, rng):
    """(function, its arguments, the gradient names and reference functions of each, the reference
    forward and its inputs (for the finite-difference time), a chain-rule backward, sizes)."""
    if name == "sine_net":
        params = ref.init_sine_net(1000, int(rng.integers(1000)))
        x = rng.uniform(-np.pi, np.pi, (300, 1))
        y = np.sin(x)

        def network(W1, b1, W2, b2):
            return ref.sine_forward({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, x)

        inputs = (params["W1"], params["b1"], params["W2"], params["b2"])
        return (
            (params, x, y),
            (network, inputs, np.ones((300, 1))),
            lambda: ref.sine_grads(params, x, y),
            "1,000 hidden units and 300 points",
        )
    x, dout = rng.uniform(-3, 3, (100, 200)), rng.standard_normal((100, 200))
    forward = ref.tanh if name == "tanh" else (lambda v: ref.leaky_relu(v, 0.1))
    local = (lambda: dout * (1 - np.tanh(x) ** 2)) if name == "tanh" else (lambda: dout * np.where(x > 0, 1.0, 0.1))
    return (x, dout), (forward, (x,), dout), local, "x of shape (100, 200)"


def _large_gradients(student, name, arguments, timeout):
    """Call the student's backward at the large size: (seconds, [(gradient, forward of one input, input, upstream, label)])."""
    if name == "sine_net":
        params, x, y = arguments
        result = student_call(student.call, "sine_net_loss", params, x, y, timeout=timeout)
        _, grads = expect_tuple(result.value, 2, "sine_net_loss", "loss, grads")
        if not isinstance(grads, dict) or set(grads) != set(params):
            raise CheckFailed(f"sine_net_loss: grads must be a dict with keys {sorted(params)}, got {describe(grads)}.")
        checks = []
        for key in ("W1", "b1", "W2", "b2"):

            def loss_of(value, key=key):
                return ref.sine_loss({**params, key: value}, x, y)

            checks.append((grads[key], loss_of, params[key], None, f"grads[{key!r}]"))
        return result.seconds, checks
    x, dout = arguments
    extra = (0.1,) if name == "leaky_relu" else ()
    _, bwd = forward_then_backward(student, name, (x, *extra), dout, timeout=timeout)
    forward = ref.tanh if name == "tanh" else (lambda v: ref.leaky_relu(v, 0.1))
    return bwd.seconds, [(bwd.value, forward, x, dout, "dx")]


def _probe(student, name, rng):
    """(why the backward is not fast, why it is not right) at the probe size; "" when it is."""
    arguments, (forward, inputs, upstream), chain, sizes = large_problem(name, rng)
    backward = "sine_net_loss" if name == "sine_net" else f"{name}_backward"
    finite_difference = finite_difference_seconds(forward, inputs, upstream)
    chain_rule = best_seconds(chain)
    bound = backward_seconds_bound(finite_difference)
    timeout = 1.5 * bound + 2.0
    context = (
        f"a chain-rule backward took {chain_rule:.2g} s and finite differences would take about "
        f"{finite_difference:.3g} s on this machine just now; a backward must stay under {bound:.3g} s "
        "(a tenth of the finite-difference time): compute the gradient with the chain rule; a backward "
        "made of finite differences of the forward earns no backward points."
    )
    try:
        seconds, checks = _large_gradients(student, name, arguments, timeout)
        expect_fast_backward(backward, sizes, seconds, finite_difference, chain_rule)
    except CheckFailed as failure:
        text = str(failure).rstrip(".")
        if "did not finish in time" in text:
            return f"{backward} did not finish within {timeout:.3g} s for {sizes}; {context}", ""
        if "did not finish within" in text:
            return f"{text}. For {sizes}, {context}", ""
        return str(failure), ""
    exact = chain()
    exact = [exact[key] for key in ("W1", "b1", "W2", "b2")] if isinstance(exact, dict) else [exact]
    rtol = NET_EXACT_RTOL if name == "sine_net" else EXACT_RTOL
    try:
        for (gradient, reference_forward, value, dout, label), wanted in zip(checks, exact):
            directional_check(gradient, reference_forward, value, dout, backward, label)
            expect_exact(gradient, wanted, backward, label, rtol=rtol)
    except CheckFailed as failure:
        return "", (
            f"{str(failure).rstrip('.')} (for {sizes}). Backward points need a backward that is right at every "
            "size, including this large one."
        )
    return "", ""


@question("nonlinear", points=0.25)
def test_backward_large(student):
    """tanh and leaky ReLU backward are right and fast on a large input"""
    require_real_backward(student, "tanh")
    require_real_backward(student, "leaky_relu")


def _steepness_hint(value, tolerance, margin) -> str:
    candidates = {
        "That is ln(1 / tolerance) / margin.": math.log(1 / tolerance) / margin,
        "That multiplies by the margin: w = ln((1 - tolerance) / tolerance) / margin.": math.log(
            (1 - tolerance) / tolerance
        )
        * margin,
        "The sign is flipped: sigmoid(-w margin) = tolerance gives w = ln((1 - tolerance) / tolerance) / margin.": math.log(
            tolerance / (1 - tolerance)
        )
        / margin,
    }
    for text, wrong in candidates.items():
        if isinstance(value, (int, float)) and abs(value - wrong) <= 1e-9 * max(1.0, abs(wrong)):
            return text
    return "sigmoid(-w * margin) = tolerance gives w = ln((1 - tolerance) / tolerance) / margin."


@question("nonlinear", points=0.25)
def test_steepness_for(student, rng):
    """steepness_for at other tolerances and margins"""
    for tolerance, margin in zip(rng.uniform(0.001, 0.2, 3), rng.uniform(0.01, 1.0, 3)):
        tolerance, margin = float(tolerance), float(margin)
        value = student_call(student.steepness_for, tolerance, margin)
        expect_number(
            value,
            ref.steepness(tolerance, margin),
            f"steepness_for({tolerance:.4g}, {margin:.4g})",
            _steepness_hint(value, tolerance, margin),
            rtol=1e-6,
        )


@question("nonlinear", points=0.25)
def test_answers_nonlinear(student):
    """answer_step_gradient and answer_steepness"""
    gradient = student_call(student.value, "answer_step_gradient")
    hint = ""
    straight_through = ref.step_unit_gradient(np.ones_like)
    if isinstance(gradient, (int, float)) and gradient == straight_through:
        hint = "That is what a step 'gradient' of 1 gives: the step's derivative is 0."
    expect_number(gradient, 0.0, "answer_step_gradient", hint)
    expect_number(
        student_call(student.value, "answer_steepness"), ref.steepness(0.01, 0.05), "answer_steepness", rtol=1e-3
    )


# ------------------------------------------------------------------------------------------ xor
def _accuracy_hint(value, accuracies) -> str:
    """Name a mistake only when best_linear_accuracy's value is what it gives."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    if accuracies.min() != accuracies.max() and abs(value - accuracies.min()) < 1e-12:
        return "That is the worst classifier's accuracy: take the best one (the maximum)."
    if abs(value - (1 - accuracies.max())) < 1e-12 and accuracies.max() != 0.5:
        return "That is the best error rate (1 - accuracy): return the accuracy."
    return ""


def check_best_linear(student, x, y, grid, label):
    value = student_call(student.best_linear_accuracy, x, y, grid)
    accuracies = ref.linear_accuracies(x, y, grid)
    expect_number(
        value, float(accuracies.max()), f"best_linear_accuracy({label})", _accuracy_hint(value, accuracies), rtol=1e-9
    )


@question("xor", points=0.25, visibility="visible")
def test_best_linear_public_example(student):
    """best_linear_accuracy on the XOR and AND corners"""
    for name, labels in (("XOR", [0, 1, 1, 0]), ("AND", [0, 0, 0, 1])):
        check_best_linear(
            student, ref.XOR_X, np.array(labels), ref.XOR_GRID, f"the corners, {name} labels, np.linspace(-2, 2, 17)"
        )


@question("xor", points=0.5)
def test_best_linear_other_data(student, rng):
    """best_linear_accuracy on other points, labels and grids (also with scores of exactly 0)"""
    for _ in range(3):
        n, size, reach = int(rng.integers(6, 16)), int(rng.integers(5, 12)), float(rng.uniform(1.0, 3.0))
        x, y = rng.uniform(-1, 1, (n, 2)), rng.integers(0, 2, n)
        grid = np.linspace(-reach, reach, size)
        check_best_linear(student, x, y, grid, f"{n} random points, np.linspace({-reach:.3g}, {reach:.3g}, {size})")
    # scores of exactly 0 (the notebook: 0 also where w1 x1 + w2 x2 + b is exactly 0)
    x, y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([0, 1, 0])
    value = student_call(student.best_linear_accuracy, x, y, np.array([0.0, 1.0]))
    expect_number(
        value,
        float(ref.linear_accuracies(x, y, np.array([0.0, 1.0])).max()),
        "best_linear_accuracy((0, 0), (1, 0), (0, 1) labelled 0, 1, 0, grid [0., 1.])",
        "Here many scores are exactly 0: a classifier says 1 only where w1 x1 + w2 x2 + b > 0 (0 where it is "
        "exactly 0).",
        rtol=1e-9,
    )


@question("xor", points=0.25)
def test_answer_xor_linear(student):
    """answer_xor_linear: the best linear classifier on XOR"""
    expect_number(student_call(student.value, "answer_xor_linear"), 0.75, "answer_xor_linear")


XOR_SHAPES = {"W1": (2, 2), "b1": (2,), "W2": (2, 1), "b2": (1,)}


def xor_weights(student) -> dict:
    params = student_call(student.value, "xor_params")
    if not isinstance(params, dict) or set(params) != set(XOR_SHAPES):
        got = sorted(params) if isinstance(params, dict) else describe(params)
        raise CheckFailed(f"xor_params must be a dict with keys {sorted(XOR_SHAPES)}, got {got}.")
    return {
        key: expect_array(params[key], shape, "xor_params", f"xor_params[{key!r}]") for key, shape in XOR_SHAPES.items()
    }


@question("xor", points=0.5)
def test_xor_corners(student):
    """xor_params: the grader's forward pass classifies the four corners"""
    params = xor_weights(student)
    got = ref.xor_predict(params, ref.XOR_X)
    if not np.array_equal(got, ref.XOR_Y):
        raise CheckFailed(
            f"xor_params: the network predicts {got.tolist()} for the corners (0,0), (0,1), (1,0), (1,1); "
            f"XOR is [0, 1, 1, 0] ({int(np.sum(got == ref.XOR_Y))} of 4 right)."
        )


def _thresholds_near_corners(params) -> str:
    """Which hidden unit's line w . x + b = 0 passes within XOR_NOISE of a corner (a checked fact)."""
    for unit in range(2):
        w, b = params["W1"][:, unit], params["b1"][unit]
        if w[0] == 0 and w[1] == 0:
            return f" Hidden unit {unit}'s input weights are both 0: it outputs the same value at every point."
        for corner in ref.XOR_X:
            if abs(corner @ w + b) <= ref.XOR_NOISE * (abs(w[0]) + abs(w[1])):
                return (
                    f" Hidden unit {unit}'s threshold, {w[0]:g} x1 + {w[1]:g} x2 + {b:g} = 0, passes within 0.1 of the "
                    f"corner ({corner[0]:g}, {corner[1]:g})."
                )
    return ""


@question("xor", points=0.5)
def test_xor_near_corners(student, rng):
    """xor_params: every point within 0.1 of a corner is classified as that corner"""
    params = xor_weights(student)
    x, y = ref.noisy_corners(rng)
    wrong = np.flatnonzero(ref.xor_predict(params, x) != y)
    if len(wrong):
        point = x[wrong[0]]
        observed = (
            f"xor_params: {len(wrong)} of {len(y)} points within 0.1 of a corner are classified wrong, for instance "
            f"({point[0]:.3f}, {point[1]:.3f}) (label {y[wrong[0]]})."
        )
        corners = ref.xor_predict(params, ref.XOR_X)
        if not np.array_equal(corners, ref.XOR_Y):  # the logic is wrong, not the thresholds' placement
            raise CheckFailed(
                f"{observed} The corners themselves are classified {corners.tolist()} ({int(np.sum(corners == ref.XOR_Y))} "
                "of 4 right; XOR is [0, 1, 1, 0]): get the corners right first."
            )
        raise CheckFailed(
            f"{observed} Put each threshold halfway between the values it separates.{_thresholds_near_corners(params)}"
        )


# ---------------------------------------------------------------------------------------- bumps
def bump_networks(student, xs, fs, counts) -> list:
    """bump_network(xs, fs, n) for every n in counts, in one round trip."""
    program = Program("bump_network")
    calls = [program.call("bump_network", xs, fs, int(n)) for n in counts]
    return student_call(student.run, program, calls, timeout=60)


def bump_architecture(result, n, call) -> tuple:
    """(W1, b1, W2, b2) of the shapes one hidden layer of 2n units needs."""
    units = "Two hidden units per bump: 2 * n_bumps."
    W1, b1, W2, b2 = expect_tuple(result, 4, call, "W1, b1, W2, b2")
    return (
        expect_array(W1, (1, 2 * n), call, "W1", units),
        expect_array(b1, (2 * n,), call, "b1", units),
        expect_array(W2, (2 * n, 1), call, "W2", units),
        expect_array(b2, (1,), call, "b2"),
    )


def bump_diagnosis(weights, f, grid, allowed, n) -> str:
    """A hint for a bump network over the bound, only when the grader checked it: the network
    changed the way the hint says is within the bound."""
    W1, b1, W2, b2 = weights
    truth = f(grid)

    def within(candidate) -> bool:
        return bool(np.max(np.abs(ref.bump_net(candidate, grid) - truth)) <= allowed)

    if within((W1, b1, -W2, -b2)):
        return " Your network approximates -f: flip the sign of every bump (W2 and b2)."
    offset = float(np.median(ref.bump_net(weights, grid) - truth))
    far = np.max(np.abs(ref.bump_net(weights, grid) - truth)) > 2 * allowed  # not just over the bound
    if far and abs(offset) > allowed and within((W1, b1, W2, b2 - offset)):
        return (
            f" Your network is f plus about {offset:.3g} everywhere: check b2, the -1 of each bump times its height "
            "(b2 = -sum of the heights)."
        )
    factor = 50.0
    if within((factor * W1, factor * b1, W2, b2)):
        w = ref.steepness(0.01, 1 / (10 * n))
        return (
            f" Your steps are too shallow for n = {n}: the largest |w| is {np.max(np.abs(W1)):.3g}; the same steps "
            f"{factor:g} times steeper (W1 and b1 times {factor:g}, the steps stay where they are) are within the "
            f"bound. The notebook's rule: w = steepness_for(0.01, 1 / (10 n)) = {w:.4g} for n = {n}."
        )
    steps = -b1 / np.where(W1[0] == 0, np.nan, W1[0])
    inner = (grid >= 1 / n) & (grid <= 1 - 1 / n)
    ends = steps[(np.abs(steps) < 0.1 / n) | (np.abs(steps - 1) < 0.1 / n)]
    if len(ends) and np.max(np.abs(ref.bump_net(weights, grid[inner]) - truth[inner])) <= allowed:
        return (
            f" Away from the ends (more than 1/n from 0 and 1) the error is within the bound, and a hidden unit steps "
            f"at x = {ends[0]:.3g}: a step at 0 or 1 is only half up there. Move the outermost steps outside [0, 1]."
        )
    shown = ", ".join(f"{s:.3g}" for s in steps[: min(8, len(steps))])
    return f" Your hidden units step at x = -b1 / W1 = {shown}{', ...' if len(steps) > 8 else ''}."


def check_bumps(student, f, description, xs, grid) -> None:
    """bump_network for every n in BUMP_COUNTS on samples of f: the architecture, then the largest
    error on the grader's grid against 1.5 L / n."""
    L = ref.lipschitz(f)
    results = bump_networks(student, xs, f(xs), ref.BUMP_COUNTS)
    errors, failure = [], None
    for n, result in zip(ref.BUMP_COUNTS, results):
        call = f"bump_network(x_samples, f_samples, {n}) for {description}"
        weights = bump_architecture(result, n, call)
        error = np.abs(ref.bump_net(weights, grid) - f(grid))
        errors.append(float(error.max()))
        allowed = ref.BOUND_FACTOR * L / n
        if failure is None and not error.max() <= allowed:
            k = int(np.argmax(error))
            failure = (
                f"{call}: the network's largest error on [0, 1] is {error.max():.3g} at x = {grid[k]:.4g} "
                f"(network {ref.bump_net(weights, grid[k : k + 1])[0]:.4g}, f {f(grid[k]):.4g}); allowed "
                f"1.5 L / n = {allowed:.3g} (L = max |f'| = {L:.3g}).",
                bump_diagnosis(weights, f, grid, allowed, n),
            )
    if failure:
        table = ", ".join(f"{n}: {e:.3g}" for n, e in zip(ref.BUMP_COUNTS, errors))
        dependency = _steepness_verdict(student)
        if dependency:
            raise CheckFailed(f"{dependency} Observed: {failure[0]} Largest error per number of bumps: {table}.")
        raise CheckFailed(f"{failure[0]} Largest error per number of bumps: {table}.{failure[1]}")


def _steepness_verdict(student) -> str:
    """ "" when steepness_for passes its own checks, else a sentence naming it (bump_network uses it)."""
    for tolerance, margin in ((0.01, 0.05), (0.2, 0.5), (0.01, 0.0025)):
        try:
            value = student_call(student.steepness_for, tolerance, margin)
            expect_number(
                value, ref.steepness(tolerance, margin), f"steepness_for({tolerance:g}, {margin:g})", rtol=1e-6
            )
        except CheckFailed as failure:
            return (
                f"bump_network uses your steepness_for, which fails its own checks ({str(failure).rstrip('.')}): "
                "fix it first."
            )
    return ""


def public_function(x):
    return np.cos(2 * np.pi * x) + x


@question("bumps", points=0.5, visibility="visible")
def test_bumps_public_function(student):
    """bump_network on the public example, f(x) = cos(2 pi x) + x, n = 5 to 80"""
    xs = np.sort(np.concatenate([[0.0, 1.0], np.random.default_rng(3).uniform(0, 1, 999)]))
    check_bumps(student, public_function, "f(x) = cos(2 pi x) + x", xs, np.linspace(0.0, 1.0, 2001))


@question("bumps", points=0.5)
def test_bumps_architecture(student, rng):
    """bump_network returns one hidden layer of 2 units per bump that approximates f, for other numbers of bumps"""
    xs = ref.sample_points(rng)
    counts = [1, 3, 7, int(rng.integers(11, 30)), 33]
    grid = np.linspace(0.0, 1.0, 1001)
    for n, result in zip(counts, bump_networks(student, xs, np.sin(3 * xs), counts)):
        call = f"bump_network(x_samples, f_samples, {n}) for f(x) = sin(3 x)"
        weights = bump_architecture(result, n, call)
        error = np.abs(ref.bump_net(weights, grid) - np.sin(3 * grid))
        allowed = ref.BOUND_FACTOR * 3.0 / n  # L = 3
        if not error.max() <= allowed:  # the point is for networks of that architecture that work
            k = int(np.argmax(error))
            dependency = _steepness_verdict(student)
            raise CheckFailed(
                f"{dependency + ' Observed: ' if dependency else ''}"
                f"{call}: the architecture is right, but the network's largest error on [0, 1] is {error.max():.3g} "
                f"at x = {grid[k]:.4g}; allowed 1.5 L / n = {allowed:.3g} (L = 3)."
            )


def _hidden_function_test(student, rng, index):
    description, f = ref.hidden_functions(rng)[index]
    check_bumps(
        student, f, f"{description} (a function you do not see)", ref.sample_points(rng), ref.evaluation_grid(rng)
    )


@question("bumps", points=0.75)
def test_bumps_smooth_function(student, rng):
    """the grader's evaluation of your bump networks for a smooth function you do not see: error <= 1.5 L / n"""
    _hidden_function_test(student, rng, 0)


@question("bumps", points=0.75)
def test_bumps_kinked_function(student, rng):
    """the same for a function with a kink"""
    _hidden_function_test(student, rng, 1)


@question("bumps", points=0.5)
def test_bumps_steep_function(student, rng):
    """the same for a steep rise"""
    _hidden_function_test(student, rng, 2)


# ---------------------------------------------------------------------------------- depth_width
@question("depth_width", points=0.25, visibility="visible")
def test_param_count_public_example(student):
    """mlp_param_count([2, 3, 1]) on the public example"""
    expect_int(student_call(student.mlp_param_count, [2, 3, 1]), "mlp_param_count", 13, "mlp_param_count([2, 3, 1])")


@question("depth_width", points=0.5)
def test_param_count_random(student, rng):
    """mlp_param_count on other layer sizes"""
    for depth in (2, 3, 4, 6):
        sizes = [int(s) for s in rng.integers(1, 300, depth)]
        counted = student_call(student.mlp_param_count, sizes)
        try:
            expect_int(counted, "mlp_param_count", ref.param_count(sizes), f"mlp_param_count({sizes})")
        except CheckFailed as failure:
            weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
            hint = " It counts the weights but not the biases." if counted == weights_only else ""
            raise CheckFailed(f"{failure}{hint}") from None


DEPTHS = (1, 2, 3, 4, 5, 6)
SAWTOOTH_TOLERANCE = 1e-8


def sawtooth_networks(student, function, rng):
    """function(k) for every k in DEPTHS in one round trip, and the grader's points of [0, 1]."""
    program = Program(function)
    results = student_call(student.run, program, [program.call(function, k) for k in DEPTHS])
    return results, np.concatenate([np.linspace(0.0, 1.0, 2001), rng.uniform(0.0, 1.0, 500)])


def _sawtooth_error(call, values, x, k):
    error = np.abs(values - ref.sawtooth(x, k))
    if not error.max() <= SAWTOOTH_TOLERANCE:
        i = int(np.argmax(error))
        raise CheckFailed(
            f"{call}: at x = {x[i]:.4g} the grader's forward pass of your network gives {values[i]:.6g}, "
            f"sawtooth(x, {k}) is {ref.sawtooth(x[i], k):.6g} (largest error {error.max():.3g}, allowed 1e-8 on [0, 1])."
        )


@question("depth_width", points=0.75)
def test_deep_sawtooth(student, rng):
    """deep_sawtooth(k) for k = 1 to 6: k hidden layers of 2 ReLU units, exactly the sawtooth on [0, 1]"""
    results, x = sawtooth_networks(student, "deep_sawtooth", rng)
    for k, layers in zip(DEPTHS, results):
        call = f"deep_sawtooth({k})"
        if not isinstance(layers, (list, tuple)) or len(layers) != k + 1:
            raise CheckFailed(
                f"{call} returned {describe(layers)}; expected a list of {k + 1} (W, b) layers: {k} hidden layers of 2 "
                "units and the output layer."
            )
        shapes = [((1, 2), (2,))] + [((2, 2), (2,))] * (k - 1) + [((2, 1), (1,))]
        checked = []
        for index, (layer, (w_shape, b_shape)) in enumerate(zip(layers, shapes)):
            W, b = expect_tuple(layer, 2, call, f"layer {index}: (W, b)")
            checked.append(
                (expect_array(W, w_shape, call, f"layer {index} W"), expect_array(b, b_shape, call, f"layer {index} b"))
            )
        _sawtooth_error(call, ref.relu_net(checked, x[:, None]), x, k)


@question("depth_width", points=0.75)
def test_wide_sawtooth(student, rng):
    """wide_sawtooth(k) for k = 1 to 6: one hidden layer of 2**k ReLU units, exactly the sawtooth on [0, 1]"""
    results, x = sawtooth_networks(student, "wide_sawtooth", rng)
    for k, result in zip(DEPTHS, results):
        call = f"wide_sawtooth({k})"
        units = 2**k
        W1, b1, W2, b2 = expect_tuple(result, 4, call, "W1, b1, W2, b2")
        hint = "One hidden unit per linear piece: 2**k."
        layers = [
            (expect_array(W1, (1, units), call, "W1", hint), expect_array(b1, (units,), call, "b1", hint)),
            (expect_array(W2, (units, 1), call, "W2", hint), expect_array(b2, (1,), call, "b2")),
        ]
        _sawtooth_error(call, ref.relu_net(layers, x[:, None]), x, k)


@question("depth_width", points=0.75)
def test_answers_depth_width(student):
    """answer_deep_params and answer_wide_params for k = 4"""
    for name, sizes in (("answer_deep_params", ref.deep_sizes(4)), ("answer_wide_params", ref.wide_sizes(4))):
        answer = student_call(student.value, name)
        try:
            expect_int(answer, name, ref.param_count(sizes), "your answer")
        except CheckFailed as failure:
            hint = ""
            if answer == sum(a * b for a, b in zip(sizes[:-1], sizes[1:])):
                hint = " That counts the weights but not the biases."
            elif name == "answer_wide_params" and answer == ref.param_count([1, 2**5, 1]):
                hint = " That is 2**(k+1) hidden units; sawtooth(x, 4) has 2**4 linear pieces, one unit each."
            raise CheckFailed(f"{failure} ({name}: the network's sizes are {sizes}).{hint}") from None


# ------------------------------------------------------------------------------------- sine_net
SINE_KEYS = ("W1", "b1", "W2", "b2")


def sine_shapes(hidden):
    return {"W1": (1, hidden), "b1": (hidden,), "W2": (hidden, 1), "b2": (1,)}


def check_params(params, shapes, function, label="params") -> dict:
    if not isinstance(params, dict) or set(params) != set(shapes):
        got = sorted(params) if isinstance(params, dict) else describe(params)
        raise CheckFailed(f"{function}: {label} must be a dict with keys {sorted(shapes)}, got {got}.")
    return {
        key: expect_array(
            params[key], shape, function, f"{label}[{key!r}]", "The gradient has the shape of its variable."
        )
        for key, shape in shapes.items()
    }


def sine_loss_call(student, params, x, y):
    loss, grads = expect_tuple(student_call(student.sine_net_loss, params, x, y), 2, "sine_net_loss", "loss, grads")
    return expect_scalar(loss, "sine_net_loss", "loss"), grads


def sine_problem(rng, hidden, n):
    """Parameters and points with every hidden pre-activation at least 1e-3 from ReLU's kink."""
    while True:
        params = ref.init_sine_net(hidden, int(rng.integers(1000)))
        x = rng.uniform(-3, 3, (n, 1))
        if np.min(np.abs(x @ params["W1"] + params["b1"])) >= 1e-3:
            return params, x, np.sin(x) + 0.1 * rng.standard_normal((n, 1))


def check_sine_loss(student, params, x, y):
    """sine_net_loss's loss and every gradient against the grader's (numerical)."""
    loss, grads = sine_loss_call(student, params, x, y)
    expected = ref.sine_loss(params, x, y)
    hints = {
        "It is a mean; this loss is 0.5 * the sum of squares (the lecture's).": np.array(expected / len(x)),
        "It is the mean squared error; this loss is 0.5 * the sum of squares (the lecture's).": np.array(
            2 * expected / len(x)
        ),
        "The 0.5 is missing: the loss is 0.5 * the sum of squares.": np.array(2 * expected),
    }
    expect_close(np.array(loss), np.array(expected), "sine_net_loss", "loss", hints=hints)
    grads = check_params(grads, sine_shapes(params["W1"].shape[1]), "sine_net_loss", "grads")
    for key in ("W2", "b2", "W1", "b1"):

        def loss_of(value, key=key):
            return ref.sine_loss({**params, key: value}, x, y)

        expect_gradient(
            grads[key],
            numerical_gradient(loss_of, params[key].copy()),
            "sine_net_loss",
            f"grads[{key!r}]",
            batch_size=len(x),
        )
    exact = ref.sine_grads(params, x, y)
    for key in ("W2", "b2", "W1", "b1"):
        expect_exact(grads[key], exact[key], "sine_net_loss", f"grads[{key!r}]", rtol=NET_EXACT_RTOL)


@question("sine_net", points=0.5, visibility="visible")
def test_sine_loss_public_example(student):
    """sine_net_loss on the public example: loss and every gradient"""
    rng = np.random.default_rng(6)
    params = ref.init_sine_net(6, 1)
    x = rng.uniform(-3, 3, (7, 1))
    check_sine_loss(student, params, x, np.sin(x))


@question("sine_net", points=1)
def test_sine_loss_gradients(student, rng):
    """sine_net_loss on other sizes: the loss and every gradient match the grader's"""
    for hidden, n in ((int(rng.integers(5, 13)), int(rng.integers(9, 21))), (3, 4)):
        check_sine_loss(student, *sine_problem(rng, hidden, n))
    require_real_backward(student, "sine_net")


@question("sine_net", points=0.25)
def test_sine_loss_inputs_unchanged(student, rng):
    """sine_net_loss leaves params, x and y unchanged (and gives the right loss and gradients)"""
    params, x, y = sine_problem(rng, 6, 8)
    result = student_call(student.call, "sine_net_loss", params, x, y)
    after_params, after_x, after_y = result.args_after
    if not isinstance(after_params, dict) or set(after_params) != set(SINE_KEYS):
        raise CheckFailed("sine_net_loss modified its input params (its keys changed).")
    before = {f"params[{key!r}]": params[key] for key in SINE_KEYS}
    expect_unchanged(
        {**before, "x": x, "y": y}, [*(after_params[k] for k in SINE_KEYS), after_x, after_y], "sine_net_loss"
    )
    # the point is for a sine_net_loss that works and leaves its inputs alone, not for a stub
    loss, grads = expect_tuple(result.value, 2, "sine_net_loss", "loss, grads")
    expect_close(
        np.array(expect_scalar(loss, "sine_net_loss", "loss")),
        np.array(ref.sine_loss(params, x, y)),
        "sine_net_loss",
        "loss",
    )
    grads = check_params(grads, sine_shapes(6), "sine_net_loss", "grads")
    wanted = ref.sine_grads(params, x, y)
    for key in SINE_KEYS:
        expect_gradient(grads[key], wanted[key], "sine_net_loss", f"grads[{key!r}]", batch_size=len(x))


@question("sine_net", points=0.25)
def test_sine_loss_large(student):
    """sine_net_loss's gradients are right and fast with 1,000 hidden units"""
    require_real_backward(student, "sine_net")


def held_out_error(params, rng) -> float:
    x = rng.uniform(-np.pi, np.pi, (400, 1))
    return float(np.mean((ref.sine_forward(params, x) - np.sin(x)) ** 2))


_sine_loss_verdicts: list[str] = []


def _sine_loss_verdict(student) -> str:
    """ "" when sine_net_loss passes its own checks (also the large, exact one), else a sentence naming
    it (also when it is missing or raises). Checked once per submission."""
    if not _sine_loss_verdicts:
        try:
            check_sine_loss(student, *sine_problem(np.random.default_rng(11), 5, 9))
            require_real_backward(student, "sine_net")
        except CheckFailed as failure:
            _sine_loss_verdicts.append(
                f"Your sine_net_loss fails its own checks ({str(failure).rstrip('.')}): fix sine_net_loss first "
                "(train_sine_net must use it for its loss and gradients)."
            )
        else:
            _sine_loss_verdicts.append("")
    return _sine_loss_verdicts[0]


@question("sine_net", points=0.75)
def test_grader_trains_with_your_gradients(student, rng):
    """gradient descent driven by the grader with your sine_net_loss fits sin(x) (held-out error)"""
    require_real_backward(student, "sine_net")
    x, y = ref.sine_data(rng)
    seed = int(rng.integers(1000))
    params = ref.init_sine_net(ref.SINE_HIDDEN, seed)
    shapes = sine_shapes(ref.SINE_HIDDEN)
    for step in range(ref.GRADER_STEPS):
        _, grads = sine_loss_call(student, params, x, y)
        grads = check_params(grads, shapes, "sine_net_loss", "grads")
        if step in (0, ref.GRADER_STEPS - 1):
            wanted = ref.sine_grads(params, x, y)
            for key in SINE_KEYS:
                difference = np.linalg.norm(grads[key] - wanted[key])
                if not difference <= 1e-6 * max(np.linalg.norm(wanted[key]), 1e-8):
                    raise CheckFailed(
                        f"sine_net_loss: at step {step} of the grader's training (64 points, init_sine_net(32, {seed})), "
                        f"grads[{key!r}] differs from the grader's by {difference:.3g} (its norm is "
                        f"{np.linalg.norm(wanted[key]):.3g}). {_sine_loss_verdict(student)}".rstrip()
                    )
        params = {key: params[key] - ref.GRADER_LEARNING_RATE * grads[key] for key in SINE_KEYS}
    error = held_out_error(params, rng)
    if not error <= ref.SINE_MSE:
        raise CheckFailed(
            f"sine_net_loss: after {ref.GRADER_STEPS} steps of gradient descent with your gradients (learning rate "
            f"{ref.GRADER_LEARNING_RATE:g}, init_sine_net(32, {seed})), the network's mean squared error on 400 held-out "
            f"points is {error:.3g} (needs at most {ref.SINE_MSE:g}). {_sine_loss_verdict(student)}".rstrip()
        )


MISTAKE_WORDS = {
    "plus": "param += learning_rate * grad, uphill: the update is param -= learning_rate * grad (minus, not plus)",
    "no_biases": "updating W1 and W2 but not b1 and b2: update every parameter",
    "after": "recording the loss after each update: record each step's loss before its update",
    "mean": "gradients divided by the number of points (a mean loss): this loss is 0.5 * the sum of squares, its "
    "gradients are sums over the points",
}


def _train(student, x, y, steps, seed):
    result = student_call(
        student.call,
        "train_sine_net",
        x,
        y,
        hidden_size=ref.SINE_HIDDEN,
        learning_rate=ref.SINE_LEARNING_RATE,
        steps=steps,
        seed=seed,
        timeout=60,
    )
    params, history = expect_tuple(result.value, 2, "train_sine_net", "params, loss_history")
    params = check_params(params, sine_shapes(ref.SINE_HIDDEN), "train_sine_net")
    if not isinstance(history, (list, tuple, np.ndarray)) or len(history) != steps:
        got = f"{len(history)} items" if hasattr(history, "__len__") else describe(history)
        raise CheckFailed(f"train_sine_net: loss_history must hold one float per step ({steps}), got {got}.")
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in history):
        raise CheckFailed("train_sine_net: every loss_history entry must be a number (a float).")
    return params, np.array(history, dtype=np.float64)


def _same(params, wanted) -> bool:
    return all(np.allclose(params[key], wanted[key], rtol=1e-6, atol=1e-10) for key in SINE_KEYS)


def _replay_diagnosis(params, history, x, y, steps, seed) -> str:
    """A known mistake, named only when the grader's replay of it matches."""
    for mistake in ref.SINE_MISTAKES:
        candidate, losses = ref.sine_replay(x, y, ref.SINE_HIDDEN, ref.SINE_LEARNING_RATE, steps, seed, mistake)
        if _same(params, candidate) and np.allclose(history, losses, rtol=1e-6, atol=1e-10):
            return f" Over {steps} steps your train_sine_net matches the grader's replay of {MISTAKE_WORDS[mistake]}."
    start = ref.init_sine_net(ref.SINE_HIDDEN, seed)
    if _same(params, start):
        return " The returned params are init_sine_net's: return the trained params (and update them in every step)."
    return ""


def check_replay(student, x, y, seed, steps=3):
    """train_sine_net's whole run (every loss_history entry and the returned params) against the
    grader's numpy replay; its params when they match. sine_net_loss is checked first."""
    call = f"train_sine_net(64 points, hidden_size=32, learning_rate=2e-4, steps={steps}, seed={seed})"
    dependency = _sine_loss_verdict(student)
    if dependency:
        raise CheckFailed(f"{dependency} ({call} not graded until then.)")
    try:
        params, history = _train(student, x, y, steps, seed)
    except CheckFailed as failure:
        raise CheckFailed(f"{call}: {failure}") from None
    wanted, losses = ref.sine_replay(x, y, ref.SINE_HIDDEN, ref.SINE_LEARNING_RATE, steps, seed)
    if _same(params, wanted) and np.allclose(history, losses, rtol=1e-6, atol=1e-10):
        return params
    k = next((k for k in range(steps) if not np.isclose(history[k], losses[k], rtol=1e-6, atol=1e-10)), None)
    if k is not None:
        where = (
            f"at init_sine_net(32, {seed})'s parameters"
            if k == 0
            else f"after {k} step{'' if k == 1 else 's'} of full-batch gradient descent from init_sine_net(32, {seed})"
        )
        observed = f"{call}: loss_history[{k}] is {history[k]:.6g}, but {where} the loss is {losses[k]:.6g}."
    else:
        key = next(key for key in SINE_KEYS if not np.allclose(params[key], wanted[key], rtol=1e-6, atol=1e-10))
        observed = (
            f"{call}: loss_history agrees with the grader's replay, but the returned params[{key!r}] differ from "
            f"{steps} steps of full-batch gradient descent (param -= learning_rate * grad for every parameter)."
        )
    raise CheckFailed(observed + _replay_diagnosis(params, history, x, y, steps, seed))


@question("sine_net", points=0.5)
def test_train_sine_net_steps(student, rng):
    """train_sine_net on the grader's points: its first 3 steps match the grader's replay of gradient descent"""
    x, y = ref.sine_data(rng)
    check_replay(student, x, y, int(rng.integers(1000)))


@question("sine_net", points=0.75)
def test_train_sine_net_converges(student, rng):
    """train_sine_net on the grader's points: all 1,000 steps (every loss and the final params) match the grader's replay, and the held-out error is at most 0.05"""
    x, y = ref.sine_data(rng)
    seed = int(rng.integers(1000))
    params = check_replay(student, x, y, seed, steps=ref.SINE_STEPS)
    error = held_out_error(params, rng)
    if not error <= ref.SINE_MSE:  # the replay itself reaches 0.002 to 0.02: not expected
        raise CheckFailed(
            f"train_sine_net(seed={seed}): the trained network's mean squared error on 400 held-out points is "
            f"{error:.3g} (needs at most {ref.SINE_MSE:g})."
        )
