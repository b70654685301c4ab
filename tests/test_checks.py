"""The check library: types and shapes before values, NaN never passes, hints name known mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import (
    CheckFailed,
    expect_array,
    expect_close,
    expect_gradient,
    expect_int,
    expect_scalar,
    expect_tuple,
    expect_unchanged,
    numerical_gradient,
    scale_hint,
)
from autograder.sandbox.channel import Handle


def test_broadcastable_shape_is_rejected_before_values():
    # np.allclose((3,1) ones, (3,) ones) is True; the check must not be fooled
    with pytest.raises(CheckFailed, match=r"shape \(3, 1\), expected \(3,\)"):
        expect_close(np.ones((3, 1)), np.ones(3), "f", "out")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_fail(bad):
    value = np.ones((2, 2))
    value[1, 0] = bad
    with pytest.raises(CheckFailed, match=r"index \(1, 0\)"):
        expect_close(value, np.ones((2, 2)), "f", "out")


def test_lists_handles_and_float32_are_named():
    with pytest.raises(CheckFailed, match="is a list"):
        expect_array([1.0, 2.0], (2,), "f", "out")
    with pytest.raises(CheckFailed, match="a MyArray object, expected a plain float64 .*subclasses"):
        expect_array(Handle(1, "MyArray"), (2,), "f", "out")
    masked = Handle(2, "MaskedArray of dtype float64 and shape (2,)")
    with pytest.raises(CheckFailed, match=r"a MaskedArray \(a numpy array subclass\) of dtype float64"):
        expect_array(masked, (2,), "f", "out")
    with pytest.raises(CheckFailed, match="dtype float32"):
        expect_array(np.ones(2, dtype=np.float32), (2,), "f", "out")


def test_wrong_value_reports_worst_index_and_both_values():
    expected = np.arange(6.0).reshape(2, 3)
    actual = expected.copy()
    actual[1, 2] = 9.0
    with pytest.raises(CheckFailed) as failure:
        expect_close(actual, expected, "linear_forward", "out")
    message = str(failure.value)
    assert "linear_forward: out is wrong" in message
    assert "index (1, 2): yours 9, expected 5" in message


def test_scale_hints():
    expected = np.array([[0.5, -1.0], [2.0, 0.25]])
    assert "batch size" in scale_hint(4 * expected, expected, batch_size=4)
    assert "sum over the batch" in scale_hint(expected / 4, expected, batch_size=4)
    assert "sign is flipped" in scale_hint(-expected, expected)
    assert "twice" in scale_hint(2 * expected, expected)
    assert scale_hint(expected + 1, expected) == ""
    assert "0.7 times" in scale_hint(0.7 * expected, expected)


def test_a_wrong_single_number_gets_no_bare_factor():
    """Any number is a multiple of another: a wrong scalar loss is not told to 'check the constant
    factor' unless the factor names a mistake (red-team finding F7)."""
    loss = np.array(0.69)
    assert scale_hint(0.4831 * loss, loss) == ""
    assert "batch size" in scale_hint(8 * loss, loss, batch_size=8)
    assert "twice" in scale_hint(2 * loss, loss)
    assert scale_hint(0 * loss, loss) == "It is zero."


def test_named_hint_wins():
    expected = np.array([1.0, 2.0, 3.0])
    with pytest.raises(CheckFailed, match="ignores dout"):
        expect_gradient(np.ones(3), expected, "relu_backward", "dx", hints={"It ignores dout.": np.ones(3)})


def test_numerical_gradient_of_a_vjp():
    rng = np.random.default_rng(0)
    x, W, dout = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(numerical_gradient(lambda v: v @ W, x, dout), dout @ W.T, rtol=1e-7)
    np.testing.assert_allclose(numerical_gradient(lambda v: x @ v, W, dout), x.T @ dout, rtol=1e-7)


def test_scalars_tuples_ints_and_unchanged_inputs():
    assert expect_scalar(np.float64(1.5), "f", "loss") == 1.5
    with pytest.raises(CheckFailed, match="single number"):
        expect_scalar(np.ones(2), "f", "loss")
    with pytest.raises(CheckFailed, match="finite"):
        expect_scalar(float("nan"), "f", "loss")
    with pytest.raises(CheckFailed, match="returned None"):
        expect_tuple(None, 2, "relu_forward")
    expect_int(np.int64(13), "f", 13, "count")
    with pytest.raises(CheckFailed, match="expected 13"):
        expect_int(12, "f", 13, "count")
    with pytest.raises(CheckFailed, match="whole number"):
        expect_int(12.5, "f", 13, "count")
    with pytest.raises(CheckFailed, match=r"an int\), not float \(13.0\)"):  # the notebooks ask for ints
        expect_int(13.0, "f", 13, "count")
    with pytest.raises(CheckFailed, match="modified its input x"):
        expect_unchanged({"x": np.array([1.0, -1.0])}, [np.array([1.0, 0.0])], "relu_forward")


def test_unchanged_after_the_backward_names_the_cache():
    with pytest.raises(CheckFailed, match="relu_backward modified the input x of relu_forward.*cache"):
        expect_unchanged({"x": np.array([1.0, -1.0])}, [np.array([1.0, 0.0])], "relu_forward", by="relu_backward")
    with pytest.raises(CheckFailed, match=r"shape \(2, 2\), now .*shape \(4,\)"):
        expect_unchanged({"pred": np.ones((2, 2))}, [np.ones(4)], "mse_loss")


def test_speed_judged_against_finite_differences():
    from autograder.checks import BACKWARD_SECONDS_CAP, backward_seconds_bound, expect_fast_backward

    assert backward_seconds_bound(40.0) == 4.0
    assert backward_seconds_bound(1e4) == BACKWARD_SECONDS_CAP == 30.0
    expect_fast_backward("relu_backward", "x of shape (200, 500)", 3.9, 40.0, 0.002)
    with pytest.raises(CheckFailed) as failure:
        expect_fast_backward("relu_backward", "x of shape (200, 500)", 12.3, 40.0, 0.002)
    message = str(failure.value)
    assert "relu_backward took 12.3 s for x of shape (200, 500)" in message
    assert "a chain-rule backward took 0.002 s" in message and "about 40 s" in message and "under 4 s" in message


def test_stable_softmax_hint_only_when_shifting_fixes_it():
    from autograder.checks import expect_stable_softmax

    small = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    y = np.array([2, 0])
    p = np.exp(small) / np.exp(small).sum(axis=1, keepdims=True)
    loss, dscores = -np.mean(np.log(p[np.arange(2), y])), (p - np.eye(3)[y]) / 2

    def naive(scores, labels):
        with np.errstate(all="ignore"):
            q = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
            return -np.mean(np.log(q[np.arange(2), labels])), (q - np.eye(3)[labels]) / 2

    expect_stable_softmax(naive, small, y, loss, dscores)  # fine near 0
    with pytest.raises(CheckFailed, match="subtract each row's maximum"):
        expect_stable_softmax(naive, small + 1000, y, loss, dscores)
    with pytest.raises(CheckFailed) as failure:  # wrong everywhere: no stability hint
        expect_stable_softmax(lambda s, labels: (2 * loss, dscores), small + 1000, y, loss, dscores)
    assert "maximum" not in str(failure.value)


def test_a_direction_nearly_orthogonal_to_a_right_gradient_is_not_a_failure():
    """verify found the solution's sigmoid failing 1 seed in 50: a random direction almost orthogonal
    to the gradient has a slope near 0, and the numerical slope's own rounding was 4e-4 of it."""
    from autograder.checks import directional_check

    x = np.random.default_rng(1).normal(size=1000) * 100
    gradient = np.random.default_rng(2).normal(size=1000)
    v = np.random.default_rng(0).standard_normal(1000)
    v /= np.linalg.norm(v)
    gradient -= (gradient @ v) * v  # the first direction directional_check draws with seed 0: slope 0

    def forward(value):
        return value * gradient  # sum(forward(x) * 1) has the gradient `gradient`

    directional_check(gradient, forward, x, np.ones(1000), "f", "dx", seed=0)
    with pytest.raises(CheckFailed):
        directional_check(gradient * 1.01, forward, x, np.ones(1000), "f", "dx", seed=0)
