"""Hidden tests for hw1_layers (instructor only). Run by the trusted grader, never in the student's
process: `student` calls into the sandbox and returns plain data; expected values and numerical
gradients are computed here from `reference`.

Sizes are distinct and non-square with batch >= 3 (a transposed dW or a missing batch sum shows
up as a wrong shape or value), upstream gradients are random (a backward that ignores dout fails),
and inputs stay away from sigmoid's saturation and from ReLU's kink, except for entries of exactly
0, where the notebook defines ReLU's derivative as 0.

Backward points also need a backward that is fast and right at a large size (`require_real_backward`:
timed against the cheapest finite differences, measured now) and, for relu and sigmoid, exact to a
relative error of 1e-13 (`EXACT_RTOL`: vectorised finite differences are as fast as the chain rule
but not exact), ReLU's also at inputs next to 0 (1e-300), where every difference quotient fails.
Known limit: for sigmoid, a method exact to rounding passes (complex-step differentiation, or a
high-order stencil evaluated in long double): its values are those of the derivative.

Training runs are compared step by step with the grader's numpy replay of the notebook's
procedure (`reference.train_replay`); a mistake in the loop is named only when the replay of that
mistake matches, and only after the layers and the gradients were checked right.
"""

from __future__ import annotations

import itertools

import numpy as np
import reference as ref

from autograder.checks import (
    BACKWARD_SECONDS_CAP,
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
    expect_gradient,
    expect_int,
    expect_relu_exact_near_zero,
    expect_scalar,
    expect_stable_softmax,
    expect_tuple,
    expect_unchanged,
    finite_difference_seconds,
    keyed_noise,
    mse_gradient_hints,
    noise_draws,
    numerical_gradient,
    relative_errors,
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
    Returns (forward CallResult, backward CallResult, backward outputs as a tuple). A `timeout`
    marks the speed probe: running out of it says nothing about the backward at other sizes."""
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    out, cache = expect_tuple(fwd.value, 2, forward, "out, cache")
    bwd = student_call(
        student.call,
        backward,
        upstream,
        cache,
        timeout=timeout or SMALL_BACKWARD_TIMEOUT_SECONDS,
        speed_probe=timeout is not None,
    )
    grads = (bwd.value,) if outputs == 1 else expect_tuple(bwd.value, outputs, backward, names)
    return fwd, bwd, grads


def check_unchanged(student, forward, backward, inputs, upstream, names):
    """forward leaves its inputs alone, backward leaves dout alone, and the forward's inputs are
    still unchanged after the backward that follows (a backward that writes into its cache, which
    holds the forward's x by reference, changes the caller's x). The point is for functions that
    work and leave their inputs alone, not for stubs (`return 0, 0` changes nothing): the forward's
    out and the backward's gradients must be right too."""
    fwd = student_call(student.call, forward, *inputs, keep=(1,))
    out, _ = expect_tuple(fwd.value, 2, forward, "out, cache")
    expect_unchanged(dict(zip(names, inputs)), fwd.args_after, forward)
    bwd = student_call(student.call, backward, upstream.copy(), fwd.value[1], timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    expect_unchanged({"dout": upstream}, bwd.args_after, backward)
    program = Program(f"{forward} then {backward}")
    copies = [program.op("pos", value) for value in inputs]  # arrays that stay in the sandbox
    result = program.call(forward, *copies)
    program.call(backward, program.op("pos", upstream), program.item(result, 1))
    after = student_call(student.run, program, copies, timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    expect_unchanged(dict(zip(names, inputs)), after, forward, by=backward)
    expect_layer_values(forward.removesuffix("_forward"), inputs, upstream, out, bwd.value)
    require_real_backward(student, forward.removesuffix("_forward"), values=False)


def expect_layer_values(layer, inputs, upstream, out, grads):
    """The forward's out against the reference and the backward's outputs against numerical
    gradients of the reference forward (inputs away from kinks), with the known-mistake hints."""
    if layer == "linear":
        x, W, b = inputs
        expect_close(out, ref.linear(x, W, b), "linear_forward", "out", hints={"Add the bias b.": x @ W})
        grads = expect_tuple(grads, 3, "linear_backward", "dx, dW, db")
        expect_linear_order(grads, x, W, b)
        for name, actual in zip(("dx", "dW", "db"), grads):
            check_linear_gradient(name, actual, x, W, b, upstream)
        return
    (x,) = inputs
    forward = getattr(ref, layer)
    expect_close(out, forward(x), f"{layer}_forward", "out")
    hints = relu_hints(x, upstream) if layer == "relu" else sigmoid_hints(x, upstream, ref.sigmoid(x))
    expect_gradient(grads, numerical_gradient(forward, x, upstream), f"{layer}_backward", "dx", hints=hints)


LINEAR_PROBE = (2, 200_000, 3)  # N, D, M of the linear layer's speed probe (see large_problem)
FD_CHUNK = 8  # perturbed copies per matrix product in the batched finite-difference estimate


def large_problem(layer, rng):
    """(inputs, upstream, [(input position, gradient name)], reference forward) at a size where a
    backward pass takes milliseconds and finite differences of the forward take minutes.

    linear: x (2, 200000), W (200000, 3). Finite differences need at least one perturbed forward
    per column of x and per row of W (2 * D forwards of N * D * M multiply-adds: N * D^2 * M work
    however they are batched), a plain-Python triple loop N * D * M steps: with D this large and
    N, M small the loop takes about a second and the cheapest finite differences minutes."""
    if layer == "linear":
        x, W, b, dout = linear_inputs(rng, *LINEAR_PROBE)
        return (x, W, b), dout, [(0, "dx"), (1, "dW"), (2, "db")], ref.linear
    x = away_from_kinks(rng, (200, 500)) if layer == "relu" else rng.uniform(-3, 3, (200, 500))
    return (x,), rng.standard_normal(x.shape), [(0, "dx")], getattr(ref, layer)


def batched_finite_difference_seconds(x, W, b, chunk=FD_CHUNK):
    """About how long the cheapest finite-difference pass of x @ W + b takes on this machine now.

    x (N, D), W (D, M), b (M,). The cheapest pass a student can write perturbs a whole column of x
    (all N rows at once, read row by row) and a whole row of W (all M columns at once): D + D
    one-sided perturbed forwards, and batches them, `chunk` perturbed copies stacked into one
    matrix product (x's copies as rows, W's side by side). Timed here: one plain forward and one
    chunk of each kind (best of 5); each perturbed forward costs the cheaper of the two, times D.
    Building the copies and reading the differences out are left out, so this is a lower bound."""
    d = x.shape[1]
    stacked_x, stacked_W = np.tile(x, (chunk, 1)), np.tile(W, (1, chunk))
    single = best_seconds(lambda: x @ W + b)
    per_x = min(single, best_seconds(lambda: stacked_x @ W + b) / chunk)
    per_W = min(single, best_seconds(lambda: x @ stacked_W) / chunk)
    return d * (per_x + per_W)


# The step of the directional checks at the probe. The linear forward is linear in each input, so
# centered differences are exact but for rounding, which a large step keeps small: with h = 1e-5
# the rounding of sum(out * dout) (out ~ 450 at D = 200,000) reaches 1e-4 of a slope along a
# random direction on some seeds.
DIRECTIONAL_STEP = {"linear": 1.0, "relu": 1e-5, "sigmoid": 1e-5}

FINITE_DIFFERENCE_HOW = {
    "linear": "the cheapest finite-difference pass (one perturbed forward per column of x and per row of W, "
    "batched into matrix products)",
    "relu": "finite differences element by element",
    "sigmoid": "finite differences element by element",
}


def finite_difference_estimate(layer, inputs, upstream, reference_forward):
    """Seconds a finite-difference backward would take at `inputs` on this machine now (see
    batched_finite_difference_seconds; elementwise layers: two forwards per element)."""
    if layer == "linear":
        return batched_finite_difference_seconds(*inputs)
    return finite_difference_seconds(reference_forward, inputs, upstream)


def chain_rule_backward(layer, inputs, upstream):
    """A backward pass in numpy: timed to compare with on this machine, and for relu and sigmoid the
    exact derivative a backward must equal (after the same test compared it with numerical
    gradients of `reference`, which is where expected values come from)."""
    if layer == "linear":
        x, W, _ = inputs
        return upstream @ W.T, x.T @ upstream, upstream.sum(axis=0)
    if layer == "relu":
        return upstream * (inputs[0] > 0)
    s = ref.sigmoid(inputs[0])
    return upstream * s * (1 - s)


def check_large_gradient(layer, gradient, position, name, inputs, upstream, reference_forward):
    """One backward output at a large size: along random directions against the numerical slope,
    then element by element against the chain rule. The directions are drawn afresh from the
    operating system's entropy, so a backward cannot be fitted to them in advance (the elementwise
    comparison alone would already catch that; the slopes word the failure numerically)."""
    backward = f"{layer}_backward"

    def forward_of(value):
        args = list(inputs)
        args[position] = value
        return reference_forward(*args)

    seed = int(np.random.SeedSequence().generate_state(1)[0])
    directional_check(
        gradient, forward_of, inputs[position], upstream, backward, name, seed=seed, h=DIRECTIONAL_STEP[layer]
    )
    exact = chain_rule_backward(layer, inputs, upstream)
    exact = exact[("dx", "dW", "db").index(name)] if layer == "linear" else exact
    expect_gradient(gradient, exact, backward, name)


def sizes_text(layer, inputs):
    if layer == "linear":
        return f"x {inputs[0].shape}, W {inputs[1].shape}, b {inputs[2].shape}"
    return f"x of shape {inputs[0].shape}"


# layer -> (why not fast, {gradient name: why it is not right}); "" and {} when it is
_backward_verdicts: dict[str, tuple[str, dict[str, str]]] = {}


def require_real_backward(student, layer, values=True, gradient=None):
    """Backward points need a backward that is right and fast at a large size (the probe). Fast is
    judged against this machine now: the grader times a chain-rule backward and estimates what
    finite differences cost there (`finite_difference_estimate`); the bound is a tenth of the
    latter, at most 30 s (`backward_seconds_bound`). Checked once per submission, by the grader's
    clock. values=False: only the speed (for the inputs-unchanged checks, which are not backward points).
    gradient: only that output's values at the probe count (linear's dx test is not failed by a wrong db)."""
    if layer not in _backward_verdicts:
        _backward_verdicts[layer] = _probe_backward(student, layer)
    slow, wrong = _backward_verdicts[layer]
    if slow:
        raise CheckFailed(slow)
    wrong = {name: why for name, why in wrong.items() if gradient in (None, name)}
    if values and wrong:
        raise CheckFailed(next(iter(wrong.values())))


def _probe_backward(student, layer):
    """(why the backward is not fast, {gradient: why it is not right}) at the probe size."""
    inputs, upstream, wrt, reference_forward = large_problem(layer, np.random.default_rng(2024))
    backward, sizes = f"{layer}_backward", sizes_text(layer, inputs)
    finite_difference = finite_difference_estimate(layer, inputs, upstream, reference_forward)
    chain_rule = best_seconds(lambda: chain_rule_backward(layer, inputs, upstream))
    bound = backward_seconds_bound(finite_difference)
    timeout = 1.5 * bound + 2.0
    how = FINITE_DIFFERENCE_HOW[layer]
    context = (
        f"on this machine just now a chain-rule backward took {chain_rule:.2g} s and {how} would take about "
        f"{finite_difference:.3g} s; a backward must stay under {bound:.3g} s (a tenth of that, at most "
        f"{BACKWARD_SECONDS_CAP:g} s): compute the gradient with the chain rule (even a plain Python loop is "
        "fast enough); a backward made of finite differences of the forward earns no backward points."
    )
    slow, wrong = "", {}
    try:
        _, bwd, grads = forward_then_backward(
            student, f"{layer}_forward", backward, inputs, upstream, len(wrt), "", timeout=timeout
        )
    except CheckFailed as failure:
        text = str(failure).rstrip(".")
        if "did not finish in time" in text:  # timed out, nothing more known
            slow = f"{backward} did not finish within {timeout:.3g} s for {sizes}; {context}"
        elif "did not finish within" in text:  # the sandbox saw where it hung
            slow = f"{text}{' ' if text.endswith('?') else '. '}For {sizes}, {context}"
        else:
            slow = str(failure)
        return slow, wrong
    if bwd.seconds > bound:
        return f"{backward} took {bwd.seconds:.3g} s for {sizes}; {context}", wrong
    if layer == "linear":
        try:
            expect_linear_order(grads, *inputs)
        except CheckFailed as failure:
            return slow, {name: str(failure) for _, name in wrt}
    for gradient, (position, name) in zip(grads, wrt):
        try:
            check_large_gradient(layer, gradient, position, name, inputs, upstream, reference_forward)
        except CheckFailed as failure:
            wrong[name] = (
                f"{str(failure).rstrip('.')} (for {sizes}). Backward points need a backward that is right at "
                "every size, including this large one."
            )
    if layer == "relu" and not wrong:  # exact next to 0 too, where every difference quotient fails
        try:
            check_relu_near_zero(student, np.random.default_rng(7))
        except CheckFailed as failure:
            wrong["dx"] = f"{str(failure).rstrip('.')}. Backward points need the exact derivative at every input."
    return slow, wrong


def check_large_backward(student, layer, rng):
    """At a large size: a real backward (see require_real_backward), right along random directions."""
    require_real_backward(student, layer)
    inputs, upstream, wrt, reference_forward = large_problem(layer, rng)
    timeout = 1.5 * backward_seconds_bound(finite_difference_estimate(layer, inputs, upstream, reference_forward)) + 2.0
    _, _, grads = forward_then_backward(
        student, f"{layer}_forward", f"{layer}_backward", inputs, upstream, len(wrt), "", timeout=timeout
    )
    if layer == "linear":
        expect_linear_order(grads, *inputs)
    for gradient, (position, name) in zip(grads, wrt):
        check_large_gradient(layer, gradient, position, name, inputs, upstream, reference_forward)
    if layer != "linear":  # the exact derivative (relu's inputs stay away from the kink here)
        expect_exact_derivative(grads[0], chain_rule_backward(layer, inputs, upstream), f"{layer}_backward")


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
    """forward matches x @ W + b (also with as many rows as outputs, N == M)"""
    for n in (N, M):  # N == M: a bias added per row (b[:, None]) has the right shape there
        x, W, b, _ = linear_inputs(rng, n=n)
        out, _ = expect_tuple(
            student_call(student.call, "linear_forward", x, W, b, keep=(1,)).value, 2, "linear_forward"
        )
        hints = {"Add the bias b.": x @ W}
        if n == M:
            hints["It adds b[i] to row i (b as a column): b[j] is added to column j of every row, x @ W + b."] = (
                x @ W + b[:, None]
            )
        expect_close(out, ref.linear(x, W, b), "linear_forward", "out", hints=hints)


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


CACHE_HINT = (
    "Called right after its own linear_forward, linear_backward is right; with another linear_forward call in "
    "between (as in a network: every layer's forward first, then the backwards in reverse order, each with its "
    "own cache) it is not: it must take x and W from its cache, not from anything the latest linear_forward "
    "call left behind (a global variable)."
)


def network_order_gradients(student, x, W, b, dout):
    """linear_backward's (dx, dW, db) for the first of two stacked layers, called as a network calls
    them: linear_forward(x, W, b), linear_forward(its out, W2, b2), linear_backward for the second
    layer, then linear_backward(dout, first cache)."""
    rng = np.random.default_rng(5)
    k = W.shape[1] + 3  # another width than the first layer's sizes
    W2, b2 = rng.standard_normal((W.shape[1], k)), rng.standard_normal(k)
    first = student_call(student.call, "linear_forward", x, W, b, keep=(1,))
    _, cache1 = expect_tuple(first.value, 2, "linear_forward", "out, cache")
    second = student_call(student.call, "linear_forward", ref.linear(x, W, b), W2, b2, keep=(1,))
    _, cache2 = expect_tuple(second.value, 2, "linear_forward", "out, cache")
    upstream2 = rng.standard_normal((len(x), k))
    student_call(student.call, "linear_backward", upstream2, cache2, timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    grads = student_call(student.call, "linear_backward", dout, cache1, timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
    return expect_tuple(grads.value, 3, "linear_backward", "dx, dW, db")


def expect_linear_order(grads, x, W, b) -> None:
    """linear_backward's three outputs in the notebook's order: when their shapes are those of
    dx, dW and db in another order, say so (rather than a shape hint about one of them)."""
    wanted = {"dx": x.shape, "dW": W.shape, "db": b.shape}
    shapes = [getattr(g, "shape", None) for g in grads]
    if shapes == list(wanted.values()):
        return
    for order in (("dx", "db", "dW"), ("dW", "dx", "db"), ("dW", "db", "dx"), ("db", "dx", "dW"), ("db", "dW", "dx")):
        if shapes == [wanted[name] for name in order]:
            raise CheckFailed(
                f"linear_backward returned arrays shaped like ({', '.join(order)}) (shapes {', '.join(map(str, shapes))} "
                f"for x {x.shape}, W {W.shape}, b {b.shape}): return them in the order dx, dW, db."
            )


def check_linear_gradients(student, x, W, b, dout, which=("dx", "dW", "db")):
    """linear_backward's outputs `which`, called in a network's order (network_order_gradients); when
    that fails, called right after its own forward: if right there, the cache hint (the backward does
    not use its cache), else that failure."""
    names = ("dx", "dW", "db")
    try:
        grads = network_order_gradients(student, x, W, b, dout)
        expect_linear_order(grads, x, W, b)
        for name in which:
            check_linear_gradient(name, grads[names.index(name)], x, W, b, dout)
    except CheckFailed as failure:
        _, _, grads = forward_then_backward(
            student, "linear_forward", "linear_backward", (x, W, b), dout, 3, "dx, dW, db"
        )
        expect_linear_order(grads, x, W, b)
        for name in which:
            check_linear_gradient(name, grads[names.index(name)], x, W, b, dout)
        raise CheckFailed(
            "linear_backward (called as in a network: another linear_forward call between its own linear_forward and "
            f"it): {str(failure).rstrip('.')}. {CACHE_HINT}"
        ) from None


def _linear_gradient(student, rng, which):
    x, W, b, dout = linear_inputs(rng)
    check_linear_gradients(student, x, W, b, dout, (which,))
    require_real_backward(student, "linear", gradient=which)


@question("linear", points=0.5)
def test_linear_backward_dx(student, rng):
    """backward: dx matches the numerical gradient (called as in a network, after another layer's forward)"""
    _linear_gradient(student, rng, "dx")


@question("linear", points=0.5)
def test_linear_backward_dW(student, rng):
    """backward: dW matches the numerical gradient (called as in a network, after another layer's forward)"""
    _linear_gradient(student, rng, "dW")


@question("linear", points=0.5)
def test_linear_backward_db(student, rng):
    """backward: db matches the numerical gradient (called as in a network, after another layer's forward)"""
    _linear_gradient(student, rng, "db")


@question("linear", points=0.5)
def test_linear_inputs_unchanged(student, rng):
    """forward and backward leave their inputs unchanged (and give the right values)"""
    x, W, b, dout = linear_inputs(rng)
    check_unchanged(student, "linear_forward", "linear_backward", (x, W, b), dout, ("x", "W", "b"))


@question("linear", points=0.5)
def test_linear_backward_large(student, rng):
    """backward is right and fast on a large layer"""
    check_large_backward(student, "linear", rng)


# ------------------------------------------------------------------------- relu and sigmoid
# Backward passes must give the exact derivative: every analytic form of ReLU's and sigmoid's
# derivative agrees with the reference to a relative error of about 2e-15 (s * (1 - s), s - s**2,
# exp(-x) / (1 + exp(-x))**2, tanh and logaddexp forms), while finite differences of the forward,
# however vectorised, are off by about 1e-10 (centered, h = 1e-5), 1e-12 (5-point stencil) or 2e-13
# (7-point stencil), and give dout / 2 at ReLU's kink. Known limit: complex-step differentiation
# (imag(f(x + ih)) / h) is exact to rounding, so a backward built on it passes; so could Richardson
# extrapolation to high enough order.
EXACT_RTOL = 1e-13
NEAR_EXACT_HINT = (
    "That is close to the exact derivative but not equal to it, as finite differences of the forward are: "
    "compute the derivative itself with the chain rule (the notebook allows a relative error of 1e-13)."
)


def relu_kink_hints(x, dout):
    """relu_hints plus the two ways of being wrong only at exactly x = 0."""
    return {
        **relu_hints(x, dout),
        "It passes dout at x = 0 too: the derivative at exactly 0 is 0 (1 only where x > 0).": dout * (x >= 0),
        "At x = 0 it gives dout / 2, which is what centered differences give at the kink: the derivative at "
        "exactly 0 is 0 (1 only where x > 0).": dout * ((x > 0) + 0.5 * (x == 0)),
    }


def with_zeros(rng, x, count=3):
    """A copy of x with `count` entries set to exactly 0 (ReLU's kink, where the notebook's derivative is 0)."""
    x = x.copy()
    x.flat[rng.choice(x.size, count, replace=False)] = 0.0
    return x


def expect_exact_derivative(dx, exact, function):
    """dx must equal the exact derivative (the chain rule) to EXACT_RTOL, not only to a finite
    difference's accuracy."""
    expect_close(dx, exact, function, "dx", rtol=EXACT_RTOL, hints={NEAR_EXACT_HINT: exact})


def _elementwise_gradient(student, rng, layer, x, numeric, exact, hints):
    """layer_backward at x with a random dout: against the numerical gradient (the hints name known
    mistakes), then against the exact derivative. numeric(dout), exact(dout), hints(dout) -> arrays."""
    dout = rng.standard_normal(x.shape)
    _, _, (dx,) = forward_then_backward(student, f"{layer}_forward", f"{layer}_backward", (x,), dout, 1, "dx")
    backward = f"{layer}_backward"
    expect_gradient(dx, numeric(dout), backward, "dx", hints=hints(dout), shape_hint="dx has the shape of x.")
    expect_exact_derivative(dx, exact(dout), backward)
    require_real_backward(student, layer)


@question("relu", points=0.5, visibility="visible")
def test_relu_public_example(student):
    """forward and backward on the public example (with an input of exactly 0)"""
    x = np.array([[-2.0, 0.0, 0.5], [1.5, -1.0, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    fwd, _, (dx,) = forward_then_backward(student, "relu_forward", "relu_backward", (x,), dout, 1, "dx")
    expect_close(fwd.value[0], ref.relu(x), "relu_forward", "out")
    expect_close(dx, dout * (x > 0), "relu_backward", "dx", hints=relu_kink_hints(x, dout))
    expect_exact_derivative(dx, dout * (x > 0), "relu_backward")
    require_real_backward(student, "relu")


@question("relu", points=0.5)
def test_relu_forward(student, rng):
    """forward matches max(0, x)"""
    x = away_from_kinks(rng, (N, D, 2))
    out, _ = expect_tuple(student_call(student.call, "relu_forward", x, keep=(1,)).value, 2, "relu_forward")
    expect_close(out, ref.relu(x), "relu_forward", "out")


@question("relu", points=0.5)
def test_relu_backward(student, rng):
    """backward matches the numerical gradient and is exact, also at x = 0 (derivative 0 there)"""
    x = with_zeros(rng, away_from_kinks(rng, (N, D)))

    def numeric(dout):  # centered differences, except at exactly 0, where the notebook says 0
        return np.where(x == 0, 0.0, numerical_gradient(ref.relu, x, dout))

    _elementwise_gradient(
        student, rng, "relu", x, numeric, lambda dout: dout * (x > 0), lambda dout: relu_kink_hints(x, dout)
    )


# entries as close to 0 as floats go, and far from it: a difference quotient (relu(x) - relu(x - h)) / h
# is x / h at x = 1e-300 for any h that still changes x = 1e6, so no finite difference passes here
NEAR_ZERO = np.array([[1e-300, -1e-300, 1e-9, -1e-9, 5e-324], [1e6, -1e6, 0.0, 2.5, -0.5]])


def check_relu_near_zero(student, rng):
    """relu_backward at NEAR_ZERO with a random dout: exactly dout * (x > 0)."""
    x = NEAR_ZERO.copy()
    dout = rng.uniform(0.5, 2.0, x.shape) * rng.choice([-1.0, 1.0], x.shape)
    _, _, (dx,) = forward_then_backward(student, "relu_forward", "relu_backward", (x,), dout, 1, "dx")
    expect_relu_exact_near_zero(dx, x, dout, hints=relu_kink_hints(x, dout))


@question("relu", points=0.25)
def test_relu_inputs_unchanged(student, rng):
    """forward and backward leave their inputs unchanged (and give the right values)"""
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
    # exp(-x) overflows for x < -709.8: entries of exactly +-1000, +-750 and +-710 are always among them
    extremes = np.array([[-1000.0, -750.0, -710.0, 710.0, 750.0], [1000.0, -40.0, 40.0, -1000.0, 0.0]])
    x = np.concatenate([rng.uniform(-4, 4, (N, D)), rng.uniform(-1000, 1000, (N, D)), extremes])
    out, _ = expect_tuple(student_call(student.call, "sigmoid_forward", x, keep=(1,)).value, 2, "sigmoid_forward")
    expect_close(out, ref.sigmoid(x), "sigmoid_forward", "out")


@question("sigmoid", points=0.5)
def test_sigmoid_backward(student, rng):
    """backward matches the numerical gradient and is exact (s * (1 - s) to a relative error of 1e-13)"""
    x = rng.uniform(-3, 3, (N, D))
    s = ref.sigmoid(x)
    _elementwise_gradient(
        student,
        rng,
        "sigmoid",
        x,
        lambda dout: numerical_gradient(ref.sigmoid, x, dout),
        lambda dout: dout * s * (1 - s),
        lambda dout: sigmoid_hints(x, dout, s),
    )


@question("sigmoid", points=0.25)
def test_sigmoid_inputs_unchanged(student, rng):
    """forward and backward leave their inputs unchanged (and give the right values)"""
    x = rng.uniform(-3, 3, (N, D))
    check_unchanged(student, "sigmoid_forward", "sigmoid_backward", (x,), rng.standard_normal(x.shape), ("x",))


@question("sigmoid", points=0.25)
def test_sigmoid_backward_large(student, rng):
    """backward is right and fast on a large input"""
    check_large_backward(student, "sigmoid", rng)


# -------------------------------------------------------------------------------------------- mse
def mse_loss_hints(pred, y):
    """The loss's known mistakes. The mean is over all K = N * M elements (the notebook's words), so
    a sum is K times the mean, which is not the batch size N."""
    expected = ref.mse(pred, y)
    return {
        f"It is the sum, {pred.size}x the mean: the loss is the mean over all K = {pred.size} elements "
        "(divide the sum by the number of elements).": np.array(expected * pred.size),
        f"It is the sum over all elements divided by the number of rows ({len(pred)}): the loss is the mean over "
        f"all K = {pred.size} elements (divide by the number of elements).": np.array(expected * pred.size / len(pred)),
        "It has an extra 1/2: this homework's loss is the plain mean of squared errors.": np.array(expected / 2),
    }


def _mse_call(student, pred, y):
    loss, dpred = expect_tuple(student_call(student.mse_loss, pred, y), 2, "mse_loss", "loss, dpred")
    return expect_scalar(loss, "mse_loss", "loss"), dpred


@question("mse", points=0.5, visibility="visible")
def test_mse_public_example(student):
    """loss and gradient on the public example"""
    pred, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.5, 2.0], [2.0, 5.0]])
    loss, dpred = _mse_call(student, pred, y)
    expect_close(np.array(loss), np.array(ref.mse(pred, y)), "mse_loss", "loss", hints=mse_loss_hints(pred, y))
    expect_close(dpred, 2 * (pred - y) / pred.size, "mse_loss", "dpred", hints=mse_gradient_hints(pred, y))


MSE_SHAPES = ((N + 1, M), (N + 2,), (2, N, M))  # any number of dimensions: K is pred.size
OTHER_DIMENSIONS_HINT = (
    "It was right for a 2-D pred, so it depends on pred having 2 dimensions: the mean is over all "
    "K = pred.size elements, for pred of any shape."
)


def _each_mse_shape(rng, check):
    """check(pred, y) for a 2-D, a 1-D and a 3-D pair; a failure past the 2-D one says so."""
    for k, shape in enumerate(MSE_SHAPES):
        pred, y = rng.standard_normal(shape), rng.standard_normal(shape)
        try:
            check(pred, y)
        except CheckFailed as failure:
            if k == 0:
                raise
            raise CheckFailed(
                f"For pred of shape {shape}: {str(failure).rstrip('.')}. {OTHER_DIMENSIONS_HINT}"
            ) from None


@question("mse", points=0.5)
def test_mse_loss(student, rng):
    """loss is the mean of the squared errors (pred of 1, 2 and 3 dimensions)"""

    def check(pred, y):
        loss, _ = _mse_call(student, pred, y)
        expect_close(np.array(loss), np.array(ref.mse(pred, y)), "mse_loss", "loss", hints=mse_loss_hints(pred, y))

    _each_mse_shape(rng, check)


@question("mse", points=0.75)
def test_mse_gradient(student, rng):
    """dpred matches the numerical gradient (pred of 1, 2 and 3 dimensions)"""

    def check(pred, y):
        _, dpred = _mse_call(student, pred, y)
        expected = numerical_gradient(lambda p: ref.mse(p, y), pred)
        expect_gradient(
            dpred,
            expected,
            "mse_loss",
            "dpred",
            hints=mse_gradient_hints(pred, y),
            shape_hint="dpred has the shape of pred.",
        )

    _each_mse_shape(rng, check)


@question("mse", points=0.25)
def test_mse_inputs_unchanged(student, rng):
    """leaves pred and y unchanged (and gives the right loss and dpred)"""
    pred, y = rng.standard_normal((N, M)), rng.standard_normal((N, M))
    result = student_call(student.call, "mse_loss", pred, y)
    expect_unchanged({"pred": pred, "y": y}, result.args_after, "mse_loss")
    # the point is for an mse_loss that works and leaves its inputs alone, not for a stub
    loss, dpred = expect_tuple(result.value, 2, "mse_loss", "loss, dpred")
    loss = expect_scalar(loss, "mse_loss", "loss")
    expect_close(np.array(loss), np.array(ref.mse(pred, y)), "mse_loss", "loss", hints=mse_loss_hints(pred, y))
    expect_gradient(dpred, 2 * (pred - y) / pred.size, "mse_loss", "dpred", hints=mse_gradient_hints(pred, y))


# ------------------------------------------------------------------------------------- softmax_ce
def _softmax_call(student, scores, y):
    loss, dscores = expect_tuple(
        student_call(student.softmax_cross_entropy, scores, y), 2, "softmax_cross_entropy", "loss, dscores"
    )
    return expect_scalar(loss, "softmax_cross_entropy", "loss"), dscores


def labels_with_every_class(rng, n, c):
    """n >= c labels in random order, every class 0..c-1 among them."""
    return rng.permutation(np.concatenate([np.arange(c), rng.integers(0, c, n - c)]))


def labels_without_the_largest(rng, n, c):
    """n labels in random order, every class 0..c-2 among them and none of class c - 1: the number
    of classes is scores.shape[1] (the notebook's C), not y.max() + 1."""
    return labels_with_every_class(rng, n, c - 1)


def softmax_values(student, scores, y):
    """ "" when softmax_cross_entropy(scores, y) gives the reference loss and dscores, else why not."""
    try:
        loss, dscores = _softmax_call(student, scores, y)
        expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss")
        expect_gradient(
            dscores, (ref.softmax(scores) - np.eye(scores.shape[1])[y]) / len(y), "softmax_cross_entropy", "dscores"
        )
    except CheckFailed as failure:
        return str(failure)
    return ""


def class_count_hint(student, scores, y):
    """When y lacks the largest class C - 1 and softmax_cross_entropy is right on the same scores once
    one label is C - 1: it takes the number of classes from the labels. Else ""."""
    c = scores.shape[1]
    if y.max() == c - 1:
        return ""
    with_largest = y.copy()
    with_largest[0] = c - 1
    if softmax_values(student, scores, with_largest):
        return ""
    return (
        f"It is right for the same scores once one label is {c - 1}, the largest class, but not when no label is "
        f"(here y.max() + 1 = {int(y.max()) + 1} while scores has C = {c} columns): take the number of classes "
        "C from scores.shape[1], not from the labels (y.max() + 1)."
    )


@question("softmax_ce", points=0.5, visibility="visible")
def test_softmax_public_example(student):
    """loss on the public example"""
    scores, y = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]), np.array([2, 0])
    loss, _ = _softmax_call(student, scores, y)
    expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss", batch_size=2)


@question("softmax_ce", points=1)
def test_softmax_loss(student, rng):
    """loss is the mean negative log-probability of the correct classes"""
    scores, y = rng.standard_normal((N + 2, M + 1)), labels_with_every_class(rng, N + 2, M + 1)
    loss, _ = _softmax_call(student, scores, y)
    expected = ref.softmax_ce(scores, y)
    hints = {"It is the sum over the batch; the loss is the mean.": np.array(expected * len(y))}
    expect_close(np.array(loss), np.array(expected), "softmax_cross_entropy", "loss", hints=hints, batch_size=len(y))


@question("softmax_ce", points=1)
def test_softmax_gradient(student, rng):
    """dscores matches the numerical gradient, also when no label is the largest class (C is scores.shape[1])"""
    scores, y = rng.standard_normal((N + 2, M + 1)), labels_without_the_largest(rng, N + 2, M + 1)
    try:
        _, dscores = _softmax_call(student, scores, y)
        check_dscores(dscores, scores, y, shape_hint="dscores has the shape of scores, (N, C).")
    except CheckFailed as failure:
        hint = class_count_hint(student, scores, y)
        raise CheckFailed(f"{failure} {hint}".rstrip()) from None


def check_dscores(dscores, scores, y, shape_hint=""):
    """softmax_cross_entropy's dscores against the numerical gradient, with the known mistakes' hints."""
    expect_gradient(
        dscores,
        numerical_gradient(lambda s: ref.softmax_ce(s, y), scores),
        "softmax_cross_entropy",
        "dscores",
        hints=softmax_gradient_hints(scores, ref.softmax(scores), y),
        batch_size=len(y),
        shape_hint=shape_hint,
    )


def large_scores(rng, n, c):
    """Rows around +1000 and rows around -1000 in one array (1000 + 30 * noise, about half the rows
    of each sign, in random order): exp overflows or underflows unless each row is shifted by its
    own maximum (one maximum for the whole array leaves the rows of the other sign near -2000), yet
    every class's probability stays far above underflow (the largest gap in a row is a few hundred,
    e^-300 is about 1e-130), so a right answer does not depend on computing log-probabilities one
    way or another."""
    signs = rng.permutation(np.repeat([1.0, -1.0], [n // 2, n - n // 2]))
    return (1000.0 + 30.0 * rng.standard_normal((n, c))) * signs[:, None]


def row_mixing_hint(student, scores, y):
    """When the rows around +1000 alone and the rows around -1000 alone (each in a call of its own)
    give the right answer but not together: one shift shared by all rows. Else ""."""
    positive = scores[:, 0] > 0
    if positive.all() or not positive.any():
        return ""
    if any(softmax_values(student, scores[rows], y[rows]) for rows in (positive, ~positive)):
        return ""
    return (
        "The rows around +1000 alone and the rows around -1000 alone, each in a call of its own, give the right "
        "answer, but not together: the rows' results depend on each other, as when all rows are shifted by one "
        "maximum, the whole array's (scores.max()). Shift each row by its own maximum, "
        "scores.max(axis=1, keepdims=True)."
    )


@question("softmax_ce", points=1)
def test_softmax_large_scores(student, rng):
    """stable for scores around +-1000, rows of both signs in one call: loss and dscores finite and right"""
    scores, y = large_scores(rng, N + 2, M + 1), labels_with_every_class(rng, N + 2, M + 1)
    expected = (ref.softmax(scores) - np.eye(M + 1)[y]) / len(y)
    try:
        expect_stable_softmax(
            lambda s, labels: _softmax_call(student, s, labels), scores, y, ref.softmax_ce(scores, y), expected
        )
    except CheckFailed as failure:
        hint = row_mixing_hint(student, scores, y)
        raise CheckFailed(f"{failure} {hint}".rstrip()) from None


@question("softmax_ce", points=0.5)
def test_softmax_inputs_unchanged(student, rng):
    """leaves scores and y unchanged (and gives the right loss and dscores)"""
    scores, y = rng.standard_normal((N, M)), labels_with_every_class(rng, N, M)
    result = student_call(student.call, "softmax_cross_entropy", scores, y)
    expect_unchanged({"scores": scores, "y": y}, result.args_after, "softmax_cross_entropy")
    # the point is for a softmax_cross_entropy that works and leaves its inputs alone, not for a stub
    loss, dscores = expect_tuple(result.value, 2, "softmax_cross_entropy", "loss, dscores")
    loss = expect_scalar(loss, "softmax_cross_entropy", "loss")
    expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss")
    expected = (ref.softmax(scores) - np.eye(M)[y]) / len(y)
    expect_gradient(
        dscores,
        expected,
        "softmax_cross_entropy",
        "dscores",
        hints=softmax_gradient_hints(scores, ref.softmax(scores), y),
    )


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
SPIRAL_ACCURACY = 0.85  # held-out accuracy of the grader's own SGD with the student's gradients
BATCH_SIZE = 32  # of every training run the grader asks for
TRAJECTORY_RTOL = 1e-6  # a correct run and the replay agree to ~1e-9 after 200 epochs (float rounding)


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
_training_verdicts: dict[str, str] = {}  # "layers", "gradients", "exactness" -> "" when right, else why not


def _layer_checks(student, layer):
    """The layer's own checks at small sizes, as the relu, linear and softmax_ce questions run them
    (relu's exactly too: the replay of training tolerates 1e-6 after hundreds of steps, which an
    inexact relu_backward, off by 1e-11 a step, does not keep)."""
    rng = np.random.default_rng(7)
    if layer == "linear":
        x, W, b, dout = linear_inputs(rng)
        fwd, _, grads = forward_then_backward(
            student, "linear_forward", "linear_backward", (x, W, b), dout, 3, "dx, dW, db"
        )
        expect_close(fwd.value[0], ref.linear(x, W, b), "linear_forward", "out", hints={"Add the bias b.": x @ W})
        check_linear_gradients(student, x, W, b, dout)  # as two_layer_net_loss calls it
    elif layer == "relu":
        x, dout = with_zeros(rng, away_from_kinks(rng, (N, D))), rng.standard_normal((N, D))
        fwd, _, (dx,) = forward_then_backward(student, "relu_forward", "relu_backward", (x,), dout, 1, "dx")
        expect_close(fwd.value[0], ref.relu(x), "relu_forward", "out")
        numeric = np.where(x == 0, 0.0, numerical_gradient(ref.relu, x, dout))
        expect_gradient(dx, numeric, "relu_backward", "dx", hints=relu_kink_hints(x, dout))
        expect_exact_derivative(dx, dout * (x > 0), "relu_backward")
    else:  # with no label of the largest class, as in a batch that happens to hold none
        scores, y = rng.standard_normal((N + 2, M + 1)), labels_without_the_largest(rng, N + 2, M + 1)
        try:
            loss, dscores = _softmax_call(student, scores, y)
            expect_close(np.array(loss), np.array(ref.softmax_ce(scores, y)), "softmax_cross_entropy", "loss")
            check_dscores(dscores, scores, y)
        except CheckFailed as failure:
            hint = class_count_hint(student, scores, y)
            raise CheckFailed(f"{failure} {hint}".rstrip()) from None


# A layer that hung at an earlier question is not called again (the sandbox's hang budget), even
# when the notebook redefined it before training's checkpoint: what it does there is unknown, so it
# does not take training points that the training checks themselves gave.
NOT_CALLED_AGAIN = "(not called again)"
NO_TRAINING_POINTS = (
    "Training's checks give no points while a layer two_layer_net_loss uses gives wrong values or gradients in its "
    "own checks (the notebook)."
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


NET_EXACT_RTOL = 1e-12  # backpropagation written differently agrees to ~1.5e-13; finite differences ~4e-12 at best


def exactness_verdict(student):
    """ "" when two_layer_net_loss's gradients equal backpropagation's (ref.two_layer_loss_and_grads)
    to NET_EXACT_RTOL, else what was seen. Asked only once its gradients passed the numerical check,
    to tell gradients that are merely close (finite differences) from a wrong training loop."""
    if "exactness" not in _training_verdicts:
        rng = np.random.default_rng(11)
        params, x, y = ref.init_two_layer(4, 6, 3, rng), rng.standard_normal((7, 4)), rng.integers(0, 3, 7)
        params["b1"] = rng.uniform(0.1, 0.5, 6)  # away from ReLU's kink
        _, exact = ref.two_layer_loss_and_grads(params, x, y)
        try:
            _, grads = expect_tuple(
                student_call(student.two_layer_net_loss, params, x, y), 2, "two_layer_net_loss", "loss, grads"
            )
            grads = _check_params(grads, _shapes(4, 6, 3), "two_layer_net_loss", "grads")
            worst = max(float(np.max(relative_errors(grads[key], exact[key]))) for key in exact)
        except CheckFailed as failure:
            worst, verdict = None, str(failure)
        if worst is not None:
            verdict = (
                ""
                if worst <= NET_EXACT_RTOL
                else f"two_layer_net_loss's gradients pass the numerical check but are not equal to backpropagation's "
                f"(relative error {worst:.1e}; backpropagation through your layers agrees to about 1e-13). "
                "Finite differences give gradients like that, in two_layer_net_loss or in a layer's backward: it "
                "must use your layers' backward functions, each computing the chain rule's exact numbers. "
                "Over many steps the difference grows until the run leaves the grader's replay."
            )
        _training_verdicts["exactness"] = verdict
    return _training_verdicts["exactness"]


# The notebook: two_layer_net_loss uses *your* layer functions. The gradients of a complex step of
# the loss are exact to rounding, so exactness_verdict cannot see it (red team round 5). The
# grader calls two_layer_net_loss with what the student's softmax_cross_entropy (dscores),
# linear_backward (dx, dW, db) and relu_backward (dx) return changed by small random amounts
# (`Program.add_noise`, `noise_draws`: a random relative change plus random noise, fresh for every
# call, from a seed of the operating system's entropy): backpropagation through the layers carries
# the changes into the gradients exactly as the grader's own backpropagation with the same changes
# says (ref.two_layer_loss_and_grads); a loss differentiated any other way, the chain rule written
# out again, or a layer called with other inputs to read the change (red team round 6: relu_backward
# of zeros added to an inline backward) does not: the change depends on the layer's real inputs,
# and every extra call draws a fresh one. Checked at the small size and at the training tests'
# batch sizes and widths (a switch on the size cannot pass one and fail the others).
LAYER_USE_SIZES = ((7, 4, 6, 3), (30, 2, 64, 3), (32, 64, 64, 10))  # (N, D, H, C)
LAYER_USE_RTOL = 1e-9  # of the largest gradient entry: different but correct orders of summation agree to ~1e-15
LAYER_CALLS = {"softmax_cross_entropy": 1, "linear_backward": 2, "relu_backward": 1}  # per two_layer_net_loss
LAYER_OUTPUTS = {"softmax_cross_entropy": 1, "linear_backward": [0, 1, 2], "relu_backward": None}  # changed
LAYER_CALL_WORDS = {
    "softmax_cross_entropy": "once: it gives the loss and dscores",
    "linear_backward": "twice: once per linear layer",
    "relu_backward": "once: one ReLU layer",
}
LAYER_USE_RULE = (
    "The notebook: two_layer_net_loss uses your layer functions, called by their names, each once per layer "
    "(forward through the layers, then backward in reverse order, each backward given what the one before "
    "returned); gradients of the loss found another way (finite differences, a complex step, the chain rule "
    "written out again, a layer called with other inputs, a layer function kept under another name) earn no "
    "training points."
)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _gradients_match(grads, expected) -> list[str]:
    """The keys of `expected` whose gradient in `grads` is off by more than LAYER_USE_RTOL."""
    return [
        key
        for key in ("W2", "b2", "W1", "b1")
        if not np.max(np.abs(grads[key] - expected[key])) <= LAYER_USE_RTOL * max(np.max(np.abs(expected[key])), 1e-300)
    ]


def _layer_use_at(student, n, d, h, c, rng) -> str:
    params, x, y = ref.init_two_layer(d, h, c, rng), rng.standard_normal((n, d)), rng.integers(0, c, n)
    params["b1"] = rng.uniform(0.1, 0.5, h)  # away from ReLU's kink
    seeds = dict(zip(LAYER_CALLS, (int(seed) for seed in np.random.SeedSequence().generate_state(len(LAYER_CALLS)))))
    program = Program("two_layer_net_loss, with what your layers return changed a little")
    for name in LAYER_CALLS:
        program.add_noise(name, LAYER_OUTPUTS[name], seeds[name], 1.0 / n)
    call = program.call("two_layer_net_loss", params, x, y)
    counts = [program.noise_calls(name) for name in LAYER_CALLS]

    def expected_with(names):
        return ref.two_layer_loss_and_grads(params, x, y, {name: noise_draws(seeds[name], 1.0 / n) for name in names})[
            1
        ]

    how = (
        f"The grader called two_layer_net_loss (x of shape ({n}, {d}), hidden size {h}, {c} classes) with what your "
        "softmax_cross_entropy (dscores), linear_backward (dx, dW, db) and relu_backward (dx) return changed by small "
        "random amounts, new at every call: backpropagation through your layers carries the changes into the "
        "gradients, as the grader's backpropagation with the same changes does."
    )
    try:
        result, *calls = student_call(student.run, program, [call, *counts], timeout=SMALL_BACKWARD_TIMEOUT_SECONDS)
        grads = _check_params(
            expect_tuple(result, 2, "two_layer_net_loss", "loss, grads")[1], _shapes(d, h, c), "two_layer_net_loss"
        )
    except CheckFailed as failure:
        return f"{how} That call failed: {failure} {LAYER_USE_RULE}"
    off = _gradients_match(grads, expected_with(LAYER_CALLS))
    if not off:
        return ""
    seen = dict(zip(LAYER_CALLS, calls))
    wrong_counts = [
        f"{name} with {seen[name]} different input{'s' * (seen[name] != 1)} (the network needs it "
        f"{LAYER_CALL_WORDS[name]})"
        for name in LAYER_CALLS
        if seen[name] != LAYER_CALLS[name]
    ]
    if wrong_counts:
        found = f"in one call of two_layer_net_loss your layers were called: {'; '.join(wrong_counts)}."
        if any(seen[name] > LAYER_CALLS[name] for name in LAYER_CALLS):
            found += (
                " A layer called again with the same inputs is fine; a call with other inputs is not backpropagation's."
            )
    else:
        names = list(LAYER_CALLS)
        used = next(
            (
                kept
                for size in range(len(names) - 1, -1, -1)
                for kept in itertools.combinations(names, size)
                if not _gradients_match(grads, expected_with(kept))
            ),
            None,
        )
        if used is not None:
            ignored = [name for name in names if name not in used]
            one = len(ignored) == 1
            found = (
                f"{_listed(ignored)} {'was' if one else 'were'} called, but "
                f"{', '.join(f'grads[{key!r}]' for key in off)} are what they would be had {'it' if one else 'they'} "
                f"returned the unchanged values: the gradients do not use what {'it' if one else 'they'} returned."
            )
        else:
            found = f"{', '.join(f'grads[{key!r}]' for key in off)} did not carry the changes."
    return f"two_layer_net_loss's gradients are right, but they do not come from your layers: {found} {how} {LAYER_USE_RULE}"


def layer_use_verdict(student):
    """ "" when two_layer_net_loss takes its gradients from the student's softmax_cross_entropy and
    relu_backward (called by their names) at every size of LAYER_USE_SIZES, else what was seen.
    Asked once its gradients passed."""
    if "layer use" not in _training_verdicts:
        rng = np.random.default_rng(13)
        verdict = ""
        for size in LAYER_USE_SIZES:
            verdict = _layer_use_at(student, *size, rng)
            if verdict:
                break
        _training_verdicts["layer use"] = verdict
    return _training_verdicts["layer use"]


def with_dependencies(student, check):
    """Run check(). Training's checks credit nothing while a layer two_layer_net_loss uses fails its
    own checks (the notebook says so): that layer is named first, with what check() saw if it failed."""
    try:
        check()
    except CheckFailed as failure:
        dependency = layers_verdict(student)
        raise CheckFailed(f"{dependency} {failure}" if dependency else str(failure)) from None
    dependency = layers_verdict(student)
    if dependency and NOT_CALLED_AGAIN not in dependency:
        raise CheckFailed(f"{dependency} {NO_TRAINING_POINTS}")


def _norm_error(actual, expected):
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(actual) + np.linalg.norm(expected), 1e-12))


DIAGNOSIS_EPOCHS = 2  # a short run: the replays of mistakes stay numerically comparable
DIAGNOSIS_LEARNING_RATE = 0.1  # not the signature's default 0.5, so an ignored learning_rate shows
MISTAKE_WORDS = {
    "plus": "the update param += learning_rate * grad: the update is param -= learning_rate * grad (minus, not plus)",
    "no_update": "parameters that never change: are the parameters really updated in every step, "
    "param -= learning_rate * grad kept in params",
    "no_shuffle": "batches taken in the data's own order in every epoch: each epoch starts with "
    "order = rng.permutation(N) and takes the batches in that order",
    "rng_per_epoch": "every epoch taking its batches in the same order (as a new np.random.default_rng(seed) in "
    "every epoch, or one order = rng.permutation(N) drawn before the first epoch, gives): make rng once, before "
    "the first epoch, and draw a new order = rng.permutation(N) at the start of every epoch",
    "default_learning_rate": "a learning rate of 0.5 (the default) whatever learning_rate is passed: use the "
    "learning_rate argument",
    "drop_last": "skipping each epoch's last, smaller batch: the last batch holds the points that are left",
    "history_per_batch": "one loss_history entry per batch: loss_history holds one number per epoch, the mean "
    "of that epoch's batch losses",
    "history_last_batch": "loss_history holding each epoch's last batch loss: record the mean of all that "
    "epoch's batch losses",
    "history_weighted": "each epoch's batch losses weighted by batch size: the mean counts every batch once, "
    "the last, smaller one too",
    "history_after_epoch": "the loss on the whole training set after each epoch: record the mean of the batch "
    "losses computed during the epoch, each before its update",
    "init_default_seed": "params = init_two_layer_net(D, hidden_size, C) without the seed (so always its default, "
    "seed=0): pass seed, init_two_layer_net(D, hidden_size, C, seed)",
    "labels_in_order": "x[batch] with the labels y[start : start + batch_size] (x shuffled, y not): take both "
    "with the same indices, x[batch] and y[batch]",
}


def same_run(params, history, expected_params, expected_history) -> bool:
    """params (dict of arrays) and history (list of numbers) equal the expected ones to TRAJECTORY_RTOL."""
    try:
        losses = np.array(history, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return (
        losses.shape == (len(expected_history),)
        and np.max(relative_errors(losses, np.array(expected_history)), initial=0.0) <= TRAJECTORY_RTOL
        and all(
            np.shape(params[key]) == value.shape and np.max(relative_errors(params[key], value)) <= TRAJECTORY_RTOL
            for key, value in expected_params.items()
        )
    )


def _same_params(params, expected, rtol=1e-12) -> bool:
    return all(
        np.shape(params[key]) == value.shape and np.max(relative_errors(params[key], value), initial=0.0) <= rtol
        for key, value in expected.items()
    )


def init_verdict(student, d, hidden, c, seed):
    """ "" when the notebook's given init_two_layer_net still gives its parameters (ref.init_two_layer
    with np.random.default_rng(seed)), else what it gives instead."""
    call = f"init_two_layer_net({d}, {hidden}, {c}, seed={seed})"
    shapes = _shapes(d, hidden, c)
    try:
        first = _check_params(student_call(student.init_two_layer_net, d, hidden, c, seed=seed), shapes, call)
        second = _check_params(student_call(student.init_two_layer_net, d, hidden, c, seed=seed), shapes, call)
    except CheckFailed as failure:
        return f"init_two_layer_net, given in the notebook, does not work any more: {failure}"
    if not _same_params(first, second):
        return (
            f"{call} gives different params each time it is called with the same seed: it must draw them from "
            "np.random.default_rng(seed), as the notebook gives it."
        )
    if not _same_params(first, ref.init_two_layer(d, hidden, c, np.random.default_rng(seed))):
        return (
            f"{call} does not give the parameters of the init_two_layer_net the notebook gives (with "
            "np.random.default_rng(seed)); the grader's replay starts from those: restore the given code."
        )
    return ""


def start_verdict(student, x, y, hidden, seed, start):
    """ "" unless train_two_layer_net with epochs=0 (no step at all) returns params other than `start`
    (the notebook's init_two_layer_net(D, hidden, C, seed)); then what it returns instead."""
    call = f"train_two_layer_net(x, y, hidden_size={hidden}, epochs=0, seed={seed})"
    try:
        result = student_call(student.call, "train_two_layer_net", x, y, hidden_size=hidden, epochs=0, seed=seed)
        params, _ = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
        params = _check_params(params, {key: value.shape for key, value in start.items()}, "train_two_layer_net")
    except CheckFailed:
        return ""  # nothing known about the start
    if _same_params(params, start, rtol=1e-9):
        return ""
    d, c = x.shape[1], start["b2"].shape[0]
    if _same_params(params, ref.init_two_layer(d, hidden, c, np.random.default_rng(0)), rtol=1e-9):
        how = f"they are init_two_layer_net({d}, {hidden}, {c}) with the default seed 0: pass seed"
    else:
        how = "step 1 of the procedure is params = init_two_layer_net(D, hidden_size, C, seed)"
    return (
        f"{call}, which takes no step, returns params other than init_two_layer_net({d}, {hidden}, {c}, seed={seed})'s "
        f"(the start of the notebook's procedure): {how}."
    )


def repeated(first, second) -> bool:
    """Two runs (params, loss_history) of the same call are the same (True when that cannot be told)."""
    try:
        histories = [np.asarray(run[1], dtype=np.float64) for run in (first, second)]
    except (TypeError, ValueError):
        return True
    if histories[0].shape != histories[1].shape:
        return False
    pairs = [(histories[0], histories[1]), *((first[0][key], second[0][key]) for key in first[0])]
    with np.errstate(invalid="ignore"):  # nan after diverging: equal if both are
        return all(np.all((a == b) | (np.isnan(a) & np.isnan(b)) | (relative_errors(a, b) <= 1e-9)) for a, b in pairs)


def update_verdict(student, x, y, hidden, seed):
    """What one full-batch epoch of train_two_layer_net (learning rate DIAGNOSIS_LEARNING_RATE) does
    to the notebook's initial parameters, against param - learning_rate * grad with the grader's
    numerical gradient. Said only once the start is known: init_two_layer_net gives the notebook's
    parameters, the run starts from them (epochs=0) and its loss_history[0] is the loss there."""
    learning_rate = DIAGNOSIS_LEARNING_RATE
    n, d, c = len(x), x.shape[1], int(y.max()) + 1
    shapes = _shapes(d, hidden, c)
    init = init_verdict(student, d, hidden, c, seed)
    if init:
        return init
    start = ref.init_two_layer(d, hidden, c, np.random.default_rng(seed))
    started = start_verdict(student, x, y, hidden, seed, start)
    if started:
        return started
    try:
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
        after, history = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
        after = _check_params(after, shapes, "train_two_layer_net")
    except CheckFailed as failure:
        return f"One full-batch epoch of train_two_layer_net could not be checked: {failure}"
    step = (
        f"one epoch of train_two_layer_net on {n} points with batch_size={n} and learning_rate={learning_rate} "
        "(a single full-batch step)"
    )
    first_loss = ref.two_layer_loss(start, x, y)
    try:
        recorded = float(np.asarray(history, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        recorded = float("nan")
    if not abs(recorded - first_loss) <= 1e-6 * abs(first_loss):
        return (
            f"Your layers and two_layer_net_loss's gradients are right, but {step} recorded loss_history[0] = "
            f"{recorded:.6g}, while the loss of init_two_layer_net({d}, {hidden}, {c}, seed={seed})'s params on all "
            f"of x and y (that batch's loss before its update) is {first_loss:.6g}: each batch's loss is "
            "two_layer_net_loss(params, x[batch], y[batch]), with x and y taken with the same indices, before the "
            "update, and loss_history gets the mean of those."
        )
    moved = {key: after[key] - start[key] for key in shapes}
    expected = {}
    for key in shapes:

        def loss_of(value, key=key):
            return ref.two_layer_loss({**start, key: value}, x, y)

        expected[key] = -learning_rate * numerical_gradient(loss_of, start[key].copy())
    if max(_norm_error(moved[key], expected[key]) for key in shapes) <= 1e-2:  # loose: ReLU kinks
        return (
            f"Your layers, two_layer_net_loss's gradients and {step} are right (the step moves every parameter by "
            "-learning_rate * grad), so look at the loop over epochs and batches against the notebook's procedure."
        )
    factor = sum(float(np.sum(moved[k] * expected[k])) for k in shapes) / sum(
        float(np.sum(expected[k] ** 2)) for k in shapes
    )
    if abs(factor) > 1e-3 and max(_norm_error(moved[k], factor * expected[k]) for k in shapes) <= 1e-2:
        return (
            f"Your layers and two_layer_net_loss's gradients are right, but {step} moved every parameter by "
            f"{factor:.3g} * (-learning_rate * grad): is the update param -= learning_rate * grad, with the "
            "learning_rate argument?"
        )
    key = max(shapes, key=lambda k: _norm_error(moved[k], expected[k]))
    return (
        f"Your layers and two_layer_net_loss's gradients are right, but {step} did not move {key} by "
        f"-learning_rate * grad: relative error {_norm_error(moved[key], expected[key]):.1e} "
        f"(it moved by a step of size {np.linalg.norm(moved[key]):.3g}, expected {np.linalg.norm(expected[key]):.3g})."
    )


def mistake_verdict(student, x, y, hidden, seed):
    """Train again briefly (DIAGNOSIS_EPOCHS, DIAGNOSIS_LEARNING_RATE), twice: runs that differ are
    unseeded. Else compare with the grader's replays of known mistakes; a mistake is named only when
    its replay matches. Else what one full-batch step does (update_verdict)."""
    settings = dict(
        hidden_size=hidden, learning_rate=DIAGNOSIS_LEARNING_RATE, epochs=DIAGNOSIS_EPOCHS, batch_size=BATCH_SIZE
    )
    call = (
        f"train_two_layer_net(x, y, hidden_size={hidden}, learning_rate={DIAGNOSIS_LEARNING_RATE}, "
        f"epochs={DIAGNOSIS_EPOCHS}, batch_size={BATCH_SIZE}, seed={seed})"
    )
    shapes = _shapes(x.shape[1], hidden, int(y.max()) + 1)
    runs = []
    try:
        for _ in range(2):
            result = student_call(student.call, "train_two_layer_net", x, y, seed=seed, timeout=60, **settings)
            params, history = expect_tuple(result.value, 2, "train_two_layer_net", "params, loss_history")
            runs.append((_check_params(params, shapes, "train_two_layer_net"), history))
    except CheckFailed:
        return update_verdict(student, x, y, hidden, seed)
    (params, history), (again, history_again) = runs
    if not repeated(runs[0], runs[1]):
        init = init_verdict(student, x.shape[1], hidden, int(y.max()) + 1, seed)
        return init or (
            f"Your layers and two_layer_net_loss's gradients are right, but {call}, called twice, gave two different "
            "runs: every random draw must come from generators seeded with seed (init_two_layer_net(D, hidden_size, "
            "C, seed) and one rng = np.random.default_rng(seed)), so that a run can be repeated."
        )
    replay = dict(
        hidden_size=hidden,
        learning_rate=DIAGNOSIS_LEARNING_RATE,
        epochs=DIAGNOSIS_EPOCHS,
        batch_size=BATCH_SIZE,
        seed=seed,
    )
    for mistake in ref.MISTAKES:
        if same_run(params, history, *ref.train_replay(x, y, mistake=mistake, **replay)):
            return (
                "Your layers and two_layer_net_loss's gradients are right, and a short run, "
                f"{call}, matches the grader's replay of the procedure with this mistake: {MISTAKE_WORDS[mistake]}."
            )
    return update_verdict(student, x, y, hidden, seed)


def training_diagnosis(student, task_data):
    """(is a dependency, text): the first of the layers, the gradients and the loop that is wrong.
    task_data: (x, y, hidden_size, seed) to diagnose the loop with."""
    layers = layers_verdict(student)
    if layers:
        return True, layers
    gradients = gradients_verdict(student)
    if gradients:
        return True, f"two_layer_net_loss gives wrong gradients, so training cannot work: {gradients}"
    exactness = exactness_verdict(student)
    if exactness:
        return True, exactness
    return False, mistake_verdict(student, *task_data)


@question("training", points=0.5, visibility="visible")
def test_net_loss_returns(student, rng):
    """two_layer_net_loss returns the right float loss and a grads dict shaped like params"""
    params, x, y = ref.init_two_layer(4, 5, 3, rng), rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    def check():
        loss, grads = expect_tuple(
            student_call(student.two_layer_net_loss, params, x, y), 2, "two_layer_net_loss", "loss, grads"
        )
        loss = expect_scalar(loss, "two_layer_net_loss", "loss")
        _check_params(grads, _shapes(4, 5, 3), "two_layer_net_loss", "grads")
        # the point is for a loss that is computed, not for a stub (`return 0.0, zeros`)
        expect_close(np.array(loss), np.array(ref.two_layer_loss(params, x, y)), "two_layer_net_loss", "loss")

    with_dependencies(student, check)


def require_backpropagation(student):
    """Gradients that pass the numerical check must also be backpropagation's (exactness_verdict:
    finite differences of the loss pass the first and fail the second) through the student's
    layers (layer_use_verdict: a complex step of the loss is exact, but it calls no backward)."""
    if gradients_verdict(student):
        return
    if exactness_verdict(student):
        raise CheckFailed(exactness_verdict(student))
    if layer_use_verdict(student):
        raise CheckFailed(layer_use_verdict(student))


@question("training", points=1)
def test_net_loss_gradients(student, rng):
    """two_layer_net_loss: the loss and every gradient match the grader's (backpropagation's)"""

    def check():
        _net_gradient_checks(student, rng)
        require_backpropagation(student)

    with_dependencies(student, check)


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
        require_backpropagation(student)

    with_dependencies(student, check)


def trajectory_difference(params, history, expected_params, expected_history, call, start) -> str:
    """ "" when the run matches the grader's replay (every loss_history entry, then every returned
    parameter, to TRAJECTORY_RTOL), else the first difference. start: how the replay began."""
    epochs = len(expected_history)
    if not isinstance(history, (list, tuple, np.ndarray)) or not all(
        isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in history
    ):
        return f"{call}: loss_history must be a list of numbers (one float per epoch), got {describe(history)}."
    if len(history) != epochs:
        return f"{call}: loss_history has {len(history)} entries; it must hold one number per epoch ({epochs})."
    losses = np.array(history, dtype=np.float64)
    errors = relative_errors(losses, np.array(expected_history))
    wrong = [k for k in range(epochs) if not errors[k] <= TRAJECTORY_RTOL]
    if wrong:
        k = wrong[0]
        agrees = f" (loss_history[:{k}] agrees)" if k else ""
        return (
            f"{call}: loss_history[{k}] is {losses[k]:.6g}, but the grader's replay of the notebook's procedure "
            f"({start}) gives {expected_history[k]:.6g} for epoch {k}{agrees}."
        )
    for key, value in expected_params.items():
        errors = relative_errors(params[key], value)
        index = np.unravel_index(int(np.argmax(errors)), errors.shape)
        if not errors[index] <= TRAJECTORY_RTOL:
            where = tuple(int(i) for i in index)
            return (
                f"{call}: loss_history matches the grader's replay in every epoch, but the returned params[{key!r}] "
                f"differ from the replay's after {epochs} epochs: relative error {errors[index]:.1e} at index "
                f"{where}: yours {params[key][index]:.6g}, expected {value[index]:.6g}."
            )
    return ""


def training_arguments(hidden, learning_rate, epochs, seed) -> dict:
    """train_two_layer_net's keyword arguments in the training checks (batch size BATCH_SIZE)."""
    return {
        "hidden_size": hidden,
        "learning_rate": learning_rate,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "seed": seed,
    }


def training_result(value, shapes) -> tuple[dict, object]:
    """(params, loss_history) from what train_two_layer_net returned, params checked against `shapes`."""
    params, history = expect_tuple(value, 2, "train_two_layer_net", "params, loss_history")
    return _check_params(params, shapes, "train_two_layer_net"), history


def loop_use_problem(student, x, y, hidden, learning_rate, epochs, seed, shapes, start) -> str:
    """ "" when a run that matched the replay takes its gradients from two_layer_net_loss, and that
    from the layers (layer_use_verdict); else what was seen. The grader runs train_two_layer_net
    again with small random noise added to the grads two_layer_net_loss returns (a fresh seed from
    the operating system's entropy) and replays the procedure with the same noise: a loop that steps
    by learning_rate * grads from two_layer_net_loss follows it; one that computes its own
    gradients, or remembers an earlier run, does not."""
    noise_seed, scale = int(np.random.SeedSequence().generate_state(1)[0]), 1e-2
    program = Program("train_two_layer_net, with noise added to the grads two_layer_net_loss returns")
    program.add_noise("two_layer_net_loss", 1, noise_seed, scale, key=[1, 2])  # keyed by x, y: extra calls are fine
    run = program.call("train_two_layer_net", x, y, **training_arguments(hidden, learning_rate, epochs, seed))
    how = (
        "the run matches the grader's replay, but the grader ran it again with small random noise added to the "
        "grads your two_layer_net_loss returns (and replayed the procedure with the same noise): a loop that "
        "steps by learning_rate * grads from two_layer_net_loss follows that replay"
    )
    rule = (
        "The notebook: for each batch, loss, grads = two_layer_net_loss(params, x[batch], y[batch]), then "
        "param -= learning_rate * grad, calling two_layer_net_loss by its name (a reference kept under another "
        "name, such as an alias or a default argument, is not the function the autograder changes); the loop may "
        "not compute its own gradients or reuse an earlier run."
    )
    try:
        (result,) = student_call(student.run, program, [run], timeout=120)
        params, history = training_result(result, shapes)
    except CheckFailed as failure:
        return f"{how}: that run failed: {failure} {rule}"
    expected_params, expected_history = ref.train_replay(
        x, y, hidden, learning_rate, epochs, BATCH_SIZE, seed, grad_noise=keyed_noise(noise_seed, scale)
    )
    difference = trajectory_difference(params, history, expected_params, expected_history, "that run", start)
    if difference:
        plain_params, plain_history = ref.train_replay(x, y, hidden, learning_rate, epochs, BATCH_SIZE, seed)
        unchanged = not trajectory_difference(params, history, plain_params, plain_history, "", start)
        seen = "; yours ran as if there were no noise" if unchanged else ""
        return f"{how}{seen}: {difference} {rule}"
    if not gradients_verdict(student) and layer_use_verdict(student):
        return (
            "the run matches the grader's replay, but the two_layer_net_loss it uses does not use your layers: "
            f"{layer_use_verdict(student)}"
        )
    return ""


def check_training_run(student, x, y, hidden, learning_rate, epochs, seed, task, diagnosis_data):
    """train_two_layer_net follows the notebook's procedure: its loss_history and returned params
    match the grader's numpy replay (ref.train_replay) from the same initialisation and data. On a
    difference: the first one, and the diagnosis (training_diagnosis) of why."""
    shapes = _shapes(x.shape[1], hidden, int(y.max()) + 1)
    call = (
        f"train_two_layer_net on {task} (hidden_size={hidden}, learning_rate={learning_rate}, epochs={epochs}, "
        f"batch_size={BATCH_SIZE}, seed={seed})"
    )
    start = (
        f"init_two_layer_net({x.shape[1]}, {hidden}, {int(y.max()) + 1}, seed={seed}), one "
        f"rng = np.random.default_rng({seed}), then rng.permutation(N) at the start of each epoch, batches of "
        f"{BATCH_SIZE}"
    )
    try:
        result = student_call(
            student.call,
            "train_two_layer_net",
            x,
            y,
            **training_arguments(hidden, learning_rate, epochs, seed),
            timeout=120,
        )
        params, history = training_result(result.value, shapes)
        expected_params, expected_history = ref.train_replay(x, y, hidden, learning_rate, epochs, BATCH_SIZE, seed)
        observed = trajectory_difference(params, history, expected_params, expected_history, call, start)
    except CheckFailed as failure:  # a crash, a timeout, nan after diverging: diagnose as well
        observed = f"{call}: {failure}"
    if not observed:
        dependency = layers_verdict(student)
        if dependency and NOT_CALLED_AGAIN not in dependency:
            raise CheckFailed(f"{dependency} {NO_TRAINING_POINTS}")
        problem = loop_use_problem(student, x, y, hidden, learning_rate, epochs, seed, shapes, start)
        if problem:
            raise CheckFailed(f"{call}: {problem}")
        return
    dependency, diagnosis = training_diagnosis(student, diagnosis_data)
    raise CheckFailed(f"{diagnosis} Observed: {observed}" if dependency else f"{observed} {diagnosis}")


@question("training", points=1)
def test_train_spirals(student, rng):
    """train_two_layer_net on spirals follows the notebook's procedure: loss history and trained params match the replay"""
    x_train, y_train, _, _ = _spiral_task(rng)
    seed = int(rng.integers(0, 1000))
    check_training_run(student, x_train, y_train, 64, 1.0, 200, seed, "spirals", (x_train, y_train, 64, seed))


# 3 epochs of 1,397 digits (44 batches each): 132 steps, every loss_history entry and the params
# after them checked against the replay, as a longer run would be. A correct plain-Python
# triple-loop linear_backward (the notebook allows one) takes about 6 s an epoch here on an idle
# machine: 20 epochs ran past the 120 s timeout under load; 3 take about 18 s.
DIGITS_EPOCHS = 3


@question("training", points=0.5)
def test_train_digits(student, rng):
    """train_two_layer_net on the digits follows the notebook's procedure: loss history and trained params match the replay"""
    x_train, y_train, _, _ = ref.digits_split(rng)
    seed = int(rng.integers(0, 1000))
    diagnosis_data = (x_train[:300], y_train[:300], 64, seed)
    check_training_run(student, x_train, y_train, 64, 0.5, DIGITS_EPOCHS, seed, "digits", diagnosis_data)
