"""Grader-side reference for hw1 (instructor only; shipped in the Gradescope zip, never to students).

Only forward computations live here: the hidden tests get expected gradients by differentiating
these numerically, so a reference backward pass cannot hide the same bug as a student's.
Shapes follow the notebook: x (N, D), W (D, M), b (M,), scores (N, C), labels y (N,) ints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def linear(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return x @ W + b


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Finite for any x: 1 / (1 + e^-x) written with e^-|x|, which never overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def mse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((pred - y) ** 2))


def log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def softmax_ce(scores: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(log_softmax(scores)[np.arange(len(y)), y]))


def softmax(scores: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(scores))


def param_count(sizes: list[int]) -> int:
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def two_layer_scores(params: dict, x: np.ndarray) -> np.ndarray:
    return relu(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def two_layer_loss(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    return softmax_ce(two_layer_scores(params, x), y)


def init_two_layer(d: int, h: int, c: int, rng: np.random.Generator) -> dict:
    return {
        "W1": rng.standard_normal((d, h)) / np.sqrt(d),
        "b1": np.zeros(h),
        "W2": rng.standard_normal((h, c)) / np.sqrt(h),
        "b2": np.zeros(c),
    }


def spirals(points_per_class: int, rng: np.random.Generator, classes: int = 3, noise: float = 0.2):
    """Interleaved 2-D spiral arms: x (N, 2), y (N,) with N = points_per_class * classes.
    Points are spread randomly along each arm, so two calls give different samples of one task."""
    xs, ys = [], []
    for label in range(classes):
        t = rng.uniform(0.0, 1.0, points_per_class)
        radius = 0.05 + 0.95 * t
        angle = 4.0 * (label + t) + rng.normal(0.0, noise, points_per_class)
        xs.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        ys.append(np.full(points_per_class, label))
    order = rng.permutation(points_per_class * classes)
    return np.concatenate(xs)[order], np.concatenate(ys)[order].astype(np.int64)


def digits_split(rng: np.random.Generator, test_size: int = 400):
    """The 8x8 digits scaled to [0, 1], shuffled and split: x_train, y_train, x_test, y_test."""
    data = np.load(HERE / "digits.npz")
    x = data["images"].astype(np.float64) / 16.0
    y = data["labels"].astype(np.int64)
    order = rng.permutation(len(x))
    test, train = order[:test_size], order[test_size:]
    return x[train], y[train], x[test], y[test]
