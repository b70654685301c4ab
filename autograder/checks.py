"""Checks for hidden tests: values, shapes, gradients and training, with feedback for students.

Every check raises `CheckFailed` with a message a stuck student can act on: the function, the
output (``dW``), what was expected, the relative error, the worst index with both values, and a
hint when the mistake has a known pattern. Expected values and numerical gradients are computed
here, in the grader, from plain arrays that crossed the process boundary; nothing the student's
code does can reach them.

The module needs numpy only: `nn-autograder build` ships a copy of it with every student release
(``nn_checks.py``), so the public tests that ``otter check`` runs raise the same messages as the
grade. Nothing in it is secret: expected values come from the calling test.

Typical use in a hidden test::

    out, cache = expect_tuple(student.linear_forward(x, W, b), 2, "linear_forward")
    expect_close(out, x @ W + b, "linear_forward", "out")
    dx, dW, db = expect_tuple(student.linear_backward(dout, cache), 3, "linear_backward")
    expect_gradient(dW, numerical_gradient(lambda W_: x @ W_ + b, W, dout), "linear_backward", "dW")
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

GRADIENT_RTOL = 1e-5  # float64 centered differences reach ~1e-9 on these layers (see notes)
VALUE_RTOL = 1e-6


class CheckFailed(AssertionError):
    """A check failed; str(self) is the student-facing feedback."""


def _kept_in_sandbox(value: Any) -> bool:
    """An object the grader only holds a handle to (`autograder.sandbox.channel.Handle`)."""
    return type(value).__name__ == "Handle" and hasattr(value, "type_name")


def _article(word: str) -> str:
    """'a' or 'an' before `word`, by its first letter ("an int", "a float", "an ndarray")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe(value: Any) -> str:
    """A short description of a value's type and shape, for messages."""
    if isinstance(value, np.ndarray):
        return f"{_article(str(value.dtype))} {value.dtype} array of shape {value.shape}"
    if _kept_in_sandbox(value):
        if value.type_name == "ellipsis":
            return "... (not filled in yet)"
        if value.type_name.startswith("ndarray of dtype"):  # an array that is not plain numbers
            return f"a numpy array{value.type_name[len('ndarray') :]}"
        if " of dtype " in value.type_name:  # a numpy array subclass, such as a masked array
            name, details = value.type_name.split(" of dtype ", 1)
            return f"a {name} (a numpy array subclass) of dtype {details}"
        return f"{_article(value.type_name)} {value.type_name} object"
    if value is None:
        return "None"
    name = type(value).__name__
    if isinstance(value, (tuple, list)):
        return f"a {name} of {len(value)} items"
    shown = f" ({value!r})" if isinstance(value, (int, float, str)) else ""
    return f"{_article(name)} {name}{shown}"


def expect_tuple(value: Any, length: int, function: str, names: str = "") -> tuple:
    """`value` must be a tuple (or list) of `length` items: what `return a, b` gives."""
    if not isinstance(value, (tuple, list)) or len(value) != length:
        what = f" ({names})" if names else ""
        hint = " Did you fill in the function and return the result?" if value is None else ""
        raise CheckFailed(f"{function} returned {describe(value)}; expected a tuple of {length}{what}.{hint}")
    return tuple(value)


def expect_array(value: Any, expected_shape: tuple, function: str, output: str, shape_hint: str = "") -> np.ndarray:
    """`value` must be a plain float64 ndarray of exactly `expected_shape`, all finite."""
    if _kept_in_sandbox(value):
        raise CheckFailed(
            f"{function}: {output} is {describe(value)}, expected a plain float64 numpy.ndarray of shape "
            f"{tuple(expected_shape)} (subclasses, object arrays and array-like objects do not count)."
        )
    if not isinstance(value, np.ndarray):
        raise CheckFailed(
            f"{function}: {output} is {describe(value)}, expected a numpy array of shape {expected_shape}."
        )
    if value.shape != tuple(expected_shape):
        hint = f" {shape_hint}" if shape_hint else ""
        raise CheckFailed(f"{function}: {output} has shape {value.shape}, expected {tuple(expected_shape)}.{hint}")
    if value.dtype != np.float64:
        raise CheckFailed(
            f"{function}: {output} has dtype {value.dtype}, expected float64 (the inputs are float64; keep their precision)."
        )
    if not np.all(np.isfinite(value)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise CheckFailed(
            f"{function}: {output} contains {value[bad]} at index {bad}; every value must be finite "
            "(look for exp overflow, log of 0 or division by 0)."
        )
    return value


def expect_scalar(value: Any, function: str, output: str) -> float:
    """`value` must be a real finite number: a Python float, a numpy float or a 0-d float array."""
    ok = type(value) in (float, int) or (
        isinstance(value, (np.floating, np.integer)) or (isinstance(value, np.ndarray) and value.shape == ())
    )
    if not ok or isinstance(value, bool):
        raise CheckFailed(f"{function}: {output} is {describe(value)}, expected a single number (a float).")
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError):  # an int too large for a float, a 0-d object array
        raise CheckFailed(
            f"{function}: {output} is {describe(value)[:80]}, which is not a float: return a float (a single finite number)."
        ) from None
    if not np.isfinite(number):
        raise CheckFailed(
            f"{function}: {output} is {number}; it must be finite (look for exp overflow, log of 0 or division by 0)."
        )
    return number


def relative_errors(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Elementwise |a - e| / max(|a| + |e|, floor), the floor scaled to the expected magnitude."""
    floor = 1e-6 * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return np.abs(actual - expected) / np.maximum(np.abs(actual) + np.abs(expected), floor)


def _worst(actual: np.ndarray, expected: np.ndarray) -> tuple[float, tuple, str]:
    errors = relative_errors(actual, expected)
    index = np.unravel_index(int(np.argmax(errors)), errors.shape) if errors.size else ()
    index = tuple(int(i) for i in index)
    where = f"at index {index}: yours {actual[index]:.6g}, expected {expected[index]:.6g}"
    return float(errors[index]) if errors.size else 0.0, index, where


def scale_hint(actual: np.ndarray, expected: np.ndarray, batch_size: int | None = None) -> str:
    """Name the mistake when `actual` is a constant multiple of `expected`. Any single number is a
    multiple of another, so for one number only the named factors (sign, zero, batch size, 2, 1/2)
    are said, never a bare "N times"."""
    denominator = float(np.sum(expected * expected))
    if denominator == 0.0:
        return ""
    factor = float(np.sum(actual * expected)) / denominator
    if np.max(relative_errors(actual, factor * expected)) > 1e-6:
        return ""
    if abs(factor + 1) < 1e-6:
        return "The sign is flipped."
    if abs(factor) < 1e-12:
        return "It is zero everywhere." if np.size(expected) > 1 else "It is zero."
    if batch_size and batch_size > 1:
        if abs(factor - batch_size) < 1e-6 * batch_size:
            return f"It is {batch_size}x too large, which is the batch size: divide by N (the loss is a mean over the batch)."
        if abs(factor - 1 / batch_size) < 1e-6 / batch_size:
            return f"It is {batch_size}x too small, which is the batch size: sum over the batch instead of taking the mean."
    for value, words in ((2.0, "twice"), (0.5, "half")):
        if abs(factor - value) < 1e-6:
            return f"It is {words} the expected value: check the constant factor."
    if np.size(expected) < 2:
        return ""
    return f"It is {factor:.4g} times the expected value: check the constant factor."


def expect_close(
    actual: Any,
    expected: np.ndarray,
    function: str,
    output: str,
    rtol: float = VALUE_RTOL,
    hints: dict[str, np.ndarray] | None = None,
    batch_size: int | None = None,
    shape_hint: str = "",
) -> np.ndarray:
    """Type, shape, dtype and finiteness first, then values within `rtol` (relative error)."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = expect_array(actual, expected.shape, function, output, shape_hint)
    error, _, where = _worst(actual, expected)
    if error <= rtol:
        return actual
    message = f"{function}: {output} is wrong: relative error {error:.1e} {where}."
    hint = _matching_hint(actual, hints) or scale_hint(actual, expected, batch_size)
    raise CheckFailed(f"{message} {hint}".rstrip())


def _matching_hint(actual: np.ndarray, hints: dict[str, np.ndarray] | None) -> str:
    for text, buggy in (hints or {}).items():
        buggy = np.asarray(buggy, dtype=np.float64)
        if buggy.shape == actual.shape and np.max(relative_errors(actual, buggy), initial=0.0) <= 1e-6:
            return text
    return ""


def expect_gradient(
    actual: Any,
    numerical: np.ndarray,
    function: str,
    output: str,
    hints: dict[str, np.ndarray] | None = None,
    batch_size: int | None = None,
    shape_hint: str = "",
) -> np.ndarray:
    """A backward output against a numerical gradient (see `numerical_gradient`)."""
    return expect_close(actual, numerical, function, output, GRADIENT_RTOL, hints, batch_size, shape_hint)


def _weighted_output(forward: Callable[[np.ndarray], Any], x: np.ndarray, upstream: Any) -> float:
    """sum(forward(x) * upstream), or forward(x) itself for a scalar output (upstream None)."""
    out = forward(x)
    return float(np.sum(out * upstream)) if upstream is not None else float(out)


def numerical_gradient(
    forward: Callable[[np.ndarray], Any], x: np.ndarray, upstream: Any = None, h: float = 1e-5
) -> np.ndarray:
    """Centered-difference gradient of sum(forward(x) * upstream) with respect to x, in float64.

    forward: x -> output (array or scalar); upstream: same shape as the output (a random dout
    makes this a vector-Jacobian product), None for a scalar output. Every element of x is
    perturbed; x must be float64 and is restored.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        plus = _weighted_output(forward, x, upstream)
        flat[i] = saved - h
        minus = _weighted_output(forward, x, upstream)
        flat[i] = saved
        grad_flat[i] = (plus - minus) / (2 * h)
    return grad


def directional_check(
    actual: Any,
    forward: Callable[[np.ndarray], Any],
    x: np.ndarray,
    upstream: Any,
    function: str,
    output: str,
    directions: int = 12,
    seed: int = 0,
    h: float = 1e-5,
) -> np.ndarray:
    """For large tensors: compare <actual, v> with the numerical directional derivative along
    `directions` random unit vectors v (cost: 2 forward calls per direction). The error is relative
    to the larger of the two slopes and of a typical slope, |actual| / sqrt(size) (a random unit
    vector nearly orthogonal to the gradient gives a slope near 0, where the numerical slope's own
    error of ~1e-8 was once 4e-4 of it: the solution's sigmoid failed 1 verify seed in 50)."""
    actual = expect_array(actual, np.shape(x), function, output)
    typical = float(np.linalg.norm(actual)) / np.sqrt(max(actual.size, 1))
    rng = np.random.default_rng(seed)
    for _ in range(directions):
        v = rng.standard_normal(np.shape(x))
        v /= np.linalg.norm(v)
        numeric = (_weighted_output(forward, x + h * v, upstream) - _weighted_output(forward, x - h * v, upstream)) / (
            2 * h
        )
        analytic = float(np.sum(actual * v))
        error = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), typical, 1e-8)
        if not error <= 1e-4:
            raise CheckFailed(
                f"{function}: {output} is wrong: along a random direction its slope is {analytic:.6g}, "
                f"the numerical slope is {numeric:.6g} (relative error {error:.1e})."
            )
    return actual


def expect_unchanged(before: dict[str, np.ndarray], after: list, function: str, by: str = "") -> None:
    """The arguments as they were sent (`before`, name -> array) must equal them after the call:
    same type, shape, dtype and values (a function that writes into an input and then reshapes or
    replaces it has still changed the caller's array).

    by: the function that ran after `function` and changed its inputs through the cache (a backward
    that writes into the forward's x, which the cache holds by reference)."""
    for (name, original), now in zip(before.items(), after):
        if not isinstance(original, np.ndarray):
            continue
        changed = ""
        if not isinstance(now, np.ndarray):
            changed = f"it was {describe(original)}, now {describe(now)}"
        elif now.shape != original.shape or now.dtype != original.dtype:
            changed = f"it was {describe(original)}, now {describe(now)}"
        elif not np.array_equal(now, original, equal_nan=original.dtype.kind == "f"):
            index = tuple(int(i) for i in np.argwhere(now != original)[0])
            changed = f"at index {index}: it was {original[index]:.6g}, now {now[index]:.6g}"
        if changed and by:
            raise CheckFailed(
                f"{by} modified the input {name} of {function} ({changed}, after {function} and then {by} ran). "
                f"The cache holds {function}'s {name} itself, not a copy: writing into it (x[x < 0] = 0) changes "
                "the caller's array. Build a new array in the backward instead."
            )
        if changed:
            raise CheckFailed(
                f"{function} modified its input {name} ({changed}). Work on a copy (np.copy, or build a new "
                "array) instead of writing into the input."
            )


def away_from_kinks(rng: np.random.Generator, shape: tuple, low: float = 0.05, high: float = 2.0) -> np.ndarray:
    """Random floats with |x| in [low, high] and random signs: no input within h of 0."""
    magnitude = rng.uniform(low, high, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


def expect_int(value: Any, function: str, expected: int, what: str) -> None:
    """An int answer (a Python or numpy integer, as the notebooks ask: not 25.0) equal to `expected`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        shown = f"{type(value).__name__} ({value!r})" if isinstance(value, (float, np.floating)) else describe(value)
        raise CheckFailed(f"{function}: {what} must be a whole number (an int), not {shown}.")
    if int(value) != expected:
        raise CheckFailed(f"{function}: {what} is {int(value)}, expected {expected}.")


def expect_number(value: Any, expected: float, what: str, hint: str = "", rtol: float = 1e-5) -> float:
    """A single real number (not a bool) within `rtol` of `expected` (relative to max(1, |expected|))."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CheckFailed(f"{what} is {describe(value)}, expected a number ({expected:.6g}).")
    number = float(value)
    if not np.isfinite(number) or abs(number - expected) > rtol * max(1.0, abs(expected)):
        raise CheckFailed(f"{what} is {number:.6g}, expected {expected:.6g}. {hint}".rstrip())
    return number


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose highest score is the label. scores (N, C), labels (N,) ints."""
    return float(np.mean(np.argmax(scores, axis=1) == labels))


# ------------------------------------------------------------------------------------------ speed
BACKWARD_SECONDS_CAP = 30.0  # bounds what a finite-difference backward costs the grading (its timeout)
FINITE_DIFFERENCE_SHARE = 0.1  # a backward may take at most this share of a finite-difference pass


def best_seconds(function: Callable[[], Any], repeat: int = 5) -> float:
    """The fastest of `repeat` timed calls of function() (the least disturbed by other work)."""
    import time

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def finite_difference_seconds(forward: Callable[..., Any], inputs: tuple, upstream: np.ndarray) -> float:
    """About how long finite differences of `forward` take for the gradients of all `inputs`: two
    evaluations of sum(forward(*inputs) * upstream) per input element, timed on this machine now."""
    seconds = best_seconds(lambda: float(np.sum(forward(*inputs) * upstream)))
    return 2 * sum(int(np.size(a)) for a in inputs) * seconds


def backward_seconds_bound(finite_difference: float) -> float:
    """The time a backward may take: a tenth of a finite-difference pass, at most 30 s."""
    return min(FINITE_DIFFERENCE_SHARE * finite_difference, BACKWARD_SECONDS_CAP)


def expect_fast_backward(
    function: str, sizes: str, seconds: float, finite_difference: float, chain_rule: float | None = None
) -> None:
    """A backward must take less than `backward_seconds_bound(finite_difference)`: backpropagation
    costs about as much as the forward, finite differences cost two forwards per input element.
    sizes: what it was called on ("x of shape (200, 500)"); chain_rule: the seconds a chain-rule
    backward took on the same machine, when the caller measured one."""
    bound = backward_seconds_bound(finite_difference)
    if seconds <= bound:
        return
    compared = f"a chain-rule backward took {chain_rule:.2g} s and " if chain_rule is not None else ""
    raise CheckFailed(
        f"{function} took {seconds:.3g} s for {sizes}; {compared}finite differences would take about "
        f"{finite_difference:.3g} s on this machine just now. A backward must stay under {bound:.3g} s "
        f"(a tenth of the finite-difference time, at most {BACKWARD_SECONDS_CAP:g} s): compute the gradient "
        "with the chain rule; a backward made of finite differences of the forward earns no backward points."
    )


# --------------------------------------------------------------------- hints for hw1's layers
# Wrong answers with a known cause: if a student's output equals one of these, the message names
# the cause. They are built from the inputs and from definitions the notebook states.
LINEAR_SHAPE_HINTS = {
    "dx": "dx has the shape of x, (N, D): dout @ W.T.",
    "dW": "The gradient has the shape of its variable: dW is (D, M) like W. A transposed dW?",
    "db": "db has the shape of b, (M,): sum dout over the batch axis.",
}


def relu_hints(x: np.ndarray, dout: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "It ignores the upstream gradient dout: multiply the local gradient by dout.": (x > 0).astype(float),
        "It multiplies by x; the local gradient of ReLU is 1 where x > 0, else 0.": dout * x * (x > 0),
        "It passes dout where x < 0 instead of where x > 0.": dout * (x < 0),
    }


RELU_NEAR_ZERO_HINT = (
    "It is right away from 0 but not at inputs very close to it: ReLU's derivative is 1 for every x > 0, "
    "however small (1e-300, 5e-324), and 0 for every x <= 0. A difference quotient of relu_forward gives "
    "about x / h there: compute the derivative itself, dout where x > 0."
)


def expect_relu_exact_near_zero(
    dx: Any, x: np.ndarray, dout: np.ndarray, hints: dict[str, np.ndarray] | None = None
) -> None:
    """relu_backward's dx at inputs as close to 0 as floats go (and some far from it) must be exactly
    dout * (x > 0): no finite difference of relu_forward passes at x = 1e-300 and x = 1e6 alike.
    x, dout: same shape, float64. A failure right away from 0 and wrong next to it says so."""
    exact = dout * (x > 0)
    try:
        expect_close(dx, exact, "relu_backward", "dx at inputs very close to 0", rtol=1e-13, hints=hints)
    except CheckFailed as failure:
        if not (isinstance(dx, np.ndarray) and dx.shape == x.shape and dx.dtype == np.float64):
            raise
        far = np.abs(x) >= 1e-6
        named = _matching_hint(dx, hints) or scale_hint(dx, exact)
        if not named and np.array_equal(dx[far], exact[far]):
            raise CheckFailed(f"{str(failure).rstrip('.')}. {RELU_NEAR_ZERO_HINT}") from None
        raise


def sigmoid_hints(x: np.ndarray, dout: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    """s: the sigmoid of x."""
    return {
        "It ignores the upstream gradient dout.": s * (1 - s),
        "The local gradient is s * (1 - s); the (1 - s) factor is missing.": dout * s,
        "It uses the input x where the sigmoid output s belongs: s * (1 - s).": dout * x * (1 - x),
    }


def mse_gradient_hints(pred: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    diff = pred - y
    return {
        f"It is missing the 1/K of the mean (K = {pred.size} elements).": 2 * diff,
        "It divides by the number of rows only: divide by the number of elements, K = pred.size.": 2 * diff / len(diff),
    }


def softmax_gradient_hints(scores: np.ndarray, probabilities: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """probabilities: softmax of each row of scores."""
    n = len(y)
    by_column = np.exp(scores - scores.max(axis=0)) / np.exp(scores - scores.max(axis=0)).sum(axis=0)
    return {
        "It is missing the one-hot subtraction: dscores = (softmax - one_hot(y)) / N.": probabilities / n,
        "It normalises softmax along the wrong axis (over the batch instead of over the classes).": (
            by_column - np.eye(scores.shape[1])[y]
        )
        / n,
    }


def expect_stable_softmax(
    call: Callable[[np.ndarray, np.ndarray], tuple],
    scores: np.ndarray,
    y: np.ndarray,
    expected_loss: float,
    expected_dscores: np.ndarray,
    function: str = "softmax_cross_entropy",
) -> None:
    """Large scores (around +-1000) must give a finite, right loss and dscores. call(scores, y) ->
    (loss, dscores). On failure the message says what was observed; it tells the student to
    subtract each row's maximum only when that is the cause: the same scores shifted near 0
    (which changes neither the loss nor dscores) give the right answer."""

    def problem(values: np.ndarray) -> str:
        try:
            loss, dscores = call(values, y)
            expect_scalar(loss, function, "loss")
            expect_close(np.array(float(loss)), np.array(expected_loss), function, "loss")
            expect_gradient(dscores, expected_dscores, function, "dscores")
        except CheckFailed as failure:
            return str(failure)
        return ""

    found = problem(scores)
    if not found:
        return
    shifted = scores - np.round(scores.mean(axis=1, keepdims=True))
    if not problem(shifted):
        found += (
            f" The same scores shifted near 0 (each row minus a constant, which changes neither the loss "
            f"nor dscores) give the right answer, so {function} is not stable for scores around +-1000: "
            "np.exp overflows to inf or underflows to 0 there: subtract each row's maximum before exp."
        )
    raise CheckFailed(found)


NOISE_RELATIVE = 0.1  # the random relative change noise_draws makes to each entry


def noise_draws(seed: int, scale: float) -> Callable[[Any], Any]:
    """Small random changes, call after call: `draw(value)` returns
    ``value * (1 + NOISE_RELATIVE * a) + scale * b`` with fresh standard normal arrays a and b (value's
    shape) from ``np.random.default_rng(seed)`` (a dict: each of its values, in sorted key order).
    The grader changes what a student's function returns this way (`with_noise`, run in the sandbox
    and in the public tests) and draws the same to compute what the callers must make of it. The
    change depends on the value itself, so a call made with other inputs does not reveal it."""
    generator = np.random.default_rng(seed)

    def changed(value: Any) -> Any:
        relative, offset = generator.standard_normal(np.shape(value)), generator.standard_normal(np.shape(value))
        return value * (1.0 + NOISE_RELATIVE * relative) + scale * offset

    def draw(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: changed(value[key]) for key in sorted(value)}
        return changed(value)

    return draw


def keyed_noise(seed: int, scale: float) -> Callable[[Any, list], Any]:
    """`draw(value, inputs)`: the change `noise_draws` makes, drawn from `seed` and the bytes of
    `inputs` (arrays), so the same inputs always get the same change, whatever was called before or
    in between (an extra call of a function does not shift what the others get)."""

    def draw(value: Any, inputs: list) -> Any:
        data = b"".join(np.ascontiguousarray(item).tobytes() for item in inputs)
        digest = np.frombuffer(hashlib.blake2b(data, digest_size=16).digest(), dtype=np.uint32)
        return noise_draws([int(seed), *(int(word) for word in digest)], scale)(value)

    return draw


def _digest(value: Any, into: Any, depth: int = 0) -> None:
    """Feed `value` into the hash `into`: arrays by dtype, shape and bytes, numbers and strings by
    repr, containers item by item (3 levels), any other object by its identity."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        into.update(f"array {value.dtype.str} {value.shape}".encode())
        into.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (bool, int, float, complex, str, bytes, np.generic, type(None))):
        into.update(f"{type(value).__name__} {value!r}".encode())
    elif isinstance(value, (tuple, list, dict)) and depth < 3:
        items = list(value.items()) if isinstance(value, dict) else list(value)
        into.update(f"{type(value).__name__} {len(items)}".encode())
        for item in items:
            _digest(item, into, depth + 1)
    else:
        into.update(f"object {id(value)}".encode())


def with_noise(
    function: Callable, positions: int | list[int] | None, seed: int, scale: float, key: list[int] | None = None
) -> Callable:
    """`function` with its outputs `positions` (None: its only output; a list: those, in that order)
    changed by `noise_draws(seed, scale)`: a new change for every call with inputs not seen before,
    the same outputs again for a call with the same inputs (calling a layer twice is fine; a call with
    other inputs takes the next change). `.calls` counts the calls with new inputs. With `key`
    (positions of arguments), the change is `keyed_noise(seed, scale)` of those arguments instead,
    whatever came before."""
    sequence = noise_draws(seed, scale)
    keyed = keyed_noise(seed, scale)
    seen: dict[bytes, Any] = {}

    def change(result: Any, draw: Callable) -> Any:
        if positions is None:
            return draw(result)
        outputs = list(result)
        for position in [positions] if isinstance(positions, int) else positions:
            outputs[position] = draw(outputs[position])
        return tuple(outputs)

    def noisy(*args: Any, **kwargs: Any) -> Any:
        if key is not None:
            noisy.calls += 1
            try:  # arguments passed by keyword count by position too
                bound = inspect.signature(function).bind(*args, **kwargs).args
            except (TypeError, ValueError):
                bound = args
            inputs = [bound[i] for i in key if i < len(bound)]
            return change(function(*args, **kwargs), lambda value: keyed(value, inputs))
        digest = hashlib.blake2b(digest_size=16)
        _digest((args, kwargs), digest)
        if digest.digest() not in seen:
            noisy.calls += 1
            seen[digest.digest()] = change(function(*args, **kwargs), sequence)
        return copy.deepcopy(seen[digest.digest()])

    noisy.calls = 0
    return noisy
