"""Grader-side reference for hw3 (instructor only; in the Gradescope zip, never in the release).

Forward computations, the hidden functions the bump networks are judged on, the sawtooth, and the
two-layer sine network (its analytic gradients only replay training; the hidden tests check a
student's gradients against numerical gradients of `sine_loss`). Shapes follow the notebook: a
batch is a matrix whose rows are examples; a one-input network takes x of shape (N, 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


# ---------------------------------------------------------------------------------- nonlinear
def sigmoid(x: np.ndarray) -> np.ndarray:
    """Finite for any x: written with e^-|x|, which never overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0, x, slope * x)


def step(x: np.ndarray) -> np.ndarray:
    """1 where x > 0, else 0 (also at exactly 0)."""
    return (x > 0).astype(np.float64)


def steepness(tolerance: float, margin: float) -> float:
    """The smallest w with |sigmoid(w x) - step(x)| <= tolerance wherever |x| >= margin:
    sigmoid(-w margin) = tolerance, so w = ln((1 - tolerance) / tolerance) / margin."""
    return math.log((1 - tolerance) / tolerance) / margin


# The notebook's step unit: L(w) = 0.5 * sum((step(w x + b) - y)^2) at w = 0.5, b = 0.1.
STEP_X = np.array([-1.0, -0.6, 0.4, 1.5])
STEP_Y = np.array([0.0, 1.0, 0.0, 1.0])
STEP_W, STEP_B = 0.5, 0.1


def step_unit_gradient(derivative: Callable[[np.ndarray], np.ndarray]) -> float:
    """dL/dw for the notebook's step unit, with `derivative` as the step's local gradient."""
    z = STEP_W * STEP_X + STEP_B
    return float(np.sum((step(z) - STEP_Y) * derivative(z) * STEP_X))


# ------------------------------------------------------------------------------------------ xor
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])
XOR_GRID = np.linspace(-2.0, 2.0, 17)
XOR_NOISE = 0.1  # every point within this distance of a corner (in each coordinate) must be right


def linear_accuracies(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Accuracy of every classifier w1 x1 + w2 x2 + b > 0 with w1, w2, b each in grid."""
    w1, w2, b = (a.reshape(-1) for a in np.meshgrid(grid, grid, grid, indexing="ij"))
    scores = np.outer(x[:, 0], w1) + np.outer(x[:, 1], w2) + b
    return np.mean((scores > 0) == (y[:, None] == 1), axis=0)


def best_linear_accuracy(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> float:
    return float(np.max(linear_accuracies(x, y, grid)))


def xor_predict(params: dict, x: np.ndarray) -> np.ndarray:
    """step(step(x W1 + b1) W2 + b2) as labels 0/1, shape (N,)."""
    hidden = step(x @ params["W1"] + params["b1"])
    return step(hidden @ params["W2"] + params["b2"])[:, 0].astype(np.int64)


def noisy_corners(rng: np.random.Generator, per_corner: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Points within XOR_NOISE of each corner (each coordinate), with the corner's label."""
    x = np.repeat(XOR_X, per_corner, axis=0) + rng.uniform(-XOR_NOISE, XOR_NOISE, (4 * per_corner, 2))
    return x, np.repeat(XOR_Y, per_corner)


# ---------------------------------------------------------------------------------------- bumps
BUMP_COUNTS = (5, 10, 20, 40, 80)
BOUND_FACTOR = 1.5  # max error allowed: BOUND_FACTOR * L / n
SAMPLES = 1001  # points the student's function gets f at


def bump_net(weights: tuple, x: np.ndarray) -> np.ndarray:
    """sigmoid(x W1 + b1) W2 + b2 for x of shape (N,); returns (N,)."""
    W1, b1, W2, b2 = weights
    return (sigmoid(x[:, None] @ W1 + b1) @ W2 + b2)[:, 0]


def bump_construction(xs: np.ndarray, fs: np.ndarray, n: int) -> tuple:
    """The notebook's construction: n bumps of width 1/n on [0, 1], heights f at the centres, the
    outermost steps moved one width outside [0, 1], steepness steepness(0.01, width / 10)."""
    width = 1.0 / n
    w = steepness(0.01, width / 10)
    left, right = np.arange(n) * width, np.arange(1, n + 1) * width
    left[0], right[-1] = -width, 1 + width
    heights = np.interp((np.arange(n) + 0.5) * width, xs, fs)
    W1, b1, W2 = np.zeros((1, 2 * n)), np.zeros(2 * n), np.zeros((2 * n, 1))
    W1[0, 0::2], b1[0::2] = w, -w * left
    W1[0, 1::2], b1[1::2] = -w, w * right
    W2[0::2, 0] = W2[1::2, 0] = heights
    return W1, b1, W2, np.array([-heights.sum()])


def lipschitz(f: Callable[[np.ndarray], np.ndarray]) -> float:
    """max |f'| on [0, 1], from secants on a fine grid."""
    grid = np.linspace(0.0, 1.0, 20_001)
    return float(np.max(np.abs(np.diff(f(grid)) / np.diff(grid))))


def hidden_functions(rng: np.random.Generator) -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """Three functions the student never sees: smooth (a few sines), with a kink, and a steep
    sigmoid-like rise; each with |f(0)| or |f(1)| well away from 0."""
    sign = rng.choice([-1.0, 1.0])
    offset = sign * rng.uniform(0.5, 1.0)
    amplitudes = rng.uniform(0.3, 1.0, 3) * rng.choice([-1.0, 1.0], 3) / np.arange(1, 4)
    phases = rng.uniform(0, 2 * np.pi, 3)

    def smooth(x):
        return offset + sum(amplitudes[k] * np.sin(2 * np.pi * (k + 1) * x + phases[k]) for k in range(3))

    corner, slope, tilt, level = rng.uniform(0.2, 0.8), rng.uniform(1.0, 3.0), rng.uniform(-1.0, 1.0), -offset

    def kinked(x):
        return level + slope * np.abs(x - corner) + tilt * x

    centre, sharpness = rng.uniform(0.3, 0.7), rng.uniform(4.0, 10.0)

    def rise(x):
        return offset + np.tanh(sharpness * (x - centre))

    return [
        (f"a sum of sines (f(0) = {smooth(np.array(0.0)):.3g})", smooth),
        (f"a function with a kink at x = {corner:.3f}", kinked),
        (f"a steep rise tanh({sharpness:.3g} (x - {centre:.3f})) + {offset:.3g}", rise),
    ]


def sample_points(rng: np.random.Generator, count: int = SAMPLES) -> np.ndarray:
    """Sorted, unevenly spaced points of [0, 1], both ends included."""
    return np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0.0, 1.0, count - 2)]))


def evaluation_grid(rng: np.random.Generator) -> np.ndarray:
    """The grader's own points: a fine even grid of [0, 1] (both ends) and random points."""
    return np.concatenate([np.linspace(0.0, 1.0, 4001), rng.uniform(0.0, 1.0, 1000)])


# ---------------------------------------------------------------------------------- depth_width
def sawtooth(x: np.ndarray, k: int) -> np.ndarray:
    """The tent map t(x) = 1 - |2x - 1| applied k times: 2**(k-1) teeth, 2**k linear pieces."""
    for _ in range(k):
        x = 1.0 - np.abs(2.0 * x - 1.0)
    return x


def relu_net(layers: list, x: np.ndarray) -> np.ndarray:
    """layers: [(W, b), ...]; ReLU after every layer but the last. x (N, 1) -> (N,)."""
    for index, (W, b) in enumerate(layers):
        x = x @ W + b
        if index < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x[:, 0]


def param_count(sizes: list[int]) -> int:
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def deep_sizes(k: int) -> list[int]:
    return [1] + [2] * k + [1]


def wide_sizes(k: int) -> list[int]:
    return [1, 2**k, 1]


# ------------------------------------------------------------------------------------- sine_net
SINE_HIDDEN = 32
SINE_LEARNING_RATE, SINE_STEPS = 2e-4, 1000  # the student's train_sine_net (its defaults)
GRADER_LEARNING_RATE, GRADER_STEPS = 3e-4, 500  # the grader's own run with the student's gradients
SINE_POINTS = 64
SINE_MSE = 0.05  # held-out mean squared error both runs must reach (over 300 seeds: at most 0.021 and 0.029)


def init_sine_net(hidden_size: int, seed: int = 0) -> dict:
    """The notebook's init_sine_net: kinks -b1/W1 spread over [-pi, pi], small output weights."""
    rng = np.random.default_rng(seed)
    W1 = rng.choice([-1.0, 1.0], (1, hidden_size)) * rng.uniform(0.5, 1.5, (1, hidden_size))
    kinks = rng.uniform(-np.pi, np.pi, hidden_size)
    return {
        "W1": W1,
        "b1": -W1[0] * kinks,
        "W2": 0.1 * rng.standard_normal((hidden_size, 1)),
        "b2": np.zeros(1),
    }


def sine_forward(params: dict, x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]


def sine_loss(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    return float(0.5 * np.sum((sine_forward(params, x) - y) ** 2))


def sine_grads(params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """Analytic gradients of sine_loss (for replays; the project's tests check them numerically)."""
    s = x @ params["W1"] + params["b1"]
    a = np.maximum(s, 0.0)
    d = a @ params["W2"] + params["b2"] - y
    ds = (d @ params["W2"].T) * (s > 0)
    return {"W1": x.T @ ds, "b1": ds.sum(axis=0), "W2": a.T @ d, "b2": d.sum(axis=0)}


def sine_data(rng: np.random.Generator, count: int = SINE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """One random point in each of `count` equal parts of [-pi, pi] (no wide gaps), and sin there."""
    x = ((np.arange(count) + rng.uniform(0.0, 1.0, count)) / count * 2 * np.pi - np.pi)[:, None]
    return x, np.sin(x)


SINE_MISTAKES = ("plus", "no_biases", "after", "mean")


def sine_replay(x, y, hidden_size, learning_rate, steps, seed, mistake: str | None = None) -> tuple[dict, list]:
    """Full-batch gradient descent from init_sine_net(hidden_size, seed): (params, loss_history),
    the loss recorded before each update; or what a known mistake gives instead."""
    params = init_sine_net(hidden_size, seed)
    history = []
    for _ in range(steps):
        grads = sine_grads(params, x, y)
        if mistake == "mean":
            grads = {key: value / len(x) for key, value in grads.items()}
        if mistake != "after":
            history.append(sine_loss(params, x, y))
        sign = -1.0 if mistake == "plus" else 1.0
        params = {
            key: params[key]
            if mistake == "no_biases" and key.startswith("b")
            else params[key] - sign * learning_rate * grads[key]
            for key in params
        }
        if mistake == "after":
            history.append(sine_loss(params, x, y))
    return params, history
