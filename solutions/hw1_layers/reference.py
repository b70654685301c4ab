"""Grader-side reference for hw1 (instructor only; shipped in the Gradescope zip, never to students).

The gradient checks get expected gradients by differentiating the forwards here numerically, so a
reference backward pass cannot hide the same bug as a student's. The one chain-rule backward,
`two_layer_loss_and_grads`, serves only the replays of training (`train_replay`), which compare a
student's whole run step by step.
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


# ------------------------------------------------------------------------- training, replayed
# The training checks compare a student's whole run with these replays. Gradients here are the
# chain rule in numpy (the gradient checks never use them: they differentiate the forwards above
# numerically); `two_layer_loss_and_grads` agrees with numerical gradients of `two_layer_loss`.
def two_layer_loss_and_grads(
    params: dict, x: np.ndarray, y: np.ndarray, noise: dict | None = None
) -> tuple[float, dict]:
    """The loss of `two_layer_loss` and its gradient with respect to every parameter (dict like params),
    by backpropagation through the layers in the notebook's order: softmax_cross_entropy, then
    linear_backward (layer 2), relu_backward, linear_backward (layer 1).
    noise: {layer function name: draw} for any of "softmax_cross_entropy", "linear_backward",
    "relu_backward": what the grader does to what the student's function returns
    (`autograder.checks.with_noise`): draw(dscores); draw(dx), draw(dW), draw(db) at each
    linear_backward call; draw(dx) of relu_backward. Each draw is applied here in that call order."""
    noise = noise or {}
    unchanged = lambda value: value  # noqa: E731
    softmax_noise, linear_noise, relu_noise = (
        noise.get(name, unchanged) for name in ("softmax_cross_entropy", "linear_backward", "relu_backward")
    )

    def linear_backward(dout, inputs, weights):
        return [linear_noise(value) for value in (dout @ weights.T, inputs.T @ dout, dout.sum(axis=0))]

    hidden_in = x @ params["W1"] + params["b1"]
    hidden = relu(hidden_in)
    log_probs = log_softmax(hidden @ params["W2"] + params["b2"])
    n = len(y)
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1.0
    dscores = softmax_noise(dscores / n)
    dhidden, dW2, db2 = linear_backward(dscores, hidden, params["W2"])
    dhidden_in = relu_noise(dhidden * (hidden_in > 0))
    _, dW1, db1 = linear_backward(dhidden_in, x, params["W1"])
    return float(-np.mean(log_probs[np.arange(n), y])), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# Mistakes a replay can make on purpose (train_replay's `mistake`), so that a hint names one only
# when the student's run matches its replay.
MISTAKES = (
    "plus",  # param += learning_rate * grad
    "no_update",  # the parameters are never changed
    "no_shuffle",  # batches in the data's own order every epoch
    "rng_per_epoch",  # np.random.default_rng(seed) made anew each epoch: the same order every epoch
    "default_learning_rate",  # 0.5, the signature's default, whatever learning_rate is passed
    "drop_last",  # the last, smaller batch of each epoch is skipped
    "history_per_batch",  # loss_history holds every batch's loss
    "history_last_batch",  # loss_history holds the last batch's loss of each epoch
    "history_weighted",  # the epoch's mean weighted by batch size
    "history_after_epoch",  # the loss on the whole training set after each epoch
    "init_default_seed",  # init_two_layer_net(D, hidden_size, C) without seed: its default, 0
    "labels_in_order",  # x[batch] with y[start : start + batch_size]: the labels are not shuffled with x
)


def train_replay(
    x: np.ndarray,
    y: np.ndarray,
    hidden_size: int,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    seed: int,
    mistake: str = "",
    grad_noise=None,
) -> tuple[dict, list[float]]:
    """What train_two_layer_net computes by the notebook's procedure, or with one `mistake` (MISTAKES):
    params = init_two_layer_net(D, hidden_size, C, seed) with C = y.max() + 1; rng =
    np.random.default_rng(seed), made once; every epoch order = rng.permutation(N), batches
    order[start : start + batch_size] for start = 0, batch_size, ... (the last may be smaller); per
    batch the loss and grads at the current params, then param -= learning_rate * grad for every
    parameter; loss_history gets, per epoch, the plain mean of that epoch's batch losses.
    grad_noise: grad_noise(grads, [x_batch, y_batch]) applied to each batch's grads before the update
    (the change the grader makes to what the student's two_layer_net_loss returns, keyed by its
    inputs: `autograder.checks.keyed_noise`).
    Returns (params, loss_history)."""
    n = len(x)
    init_seed = 0 if mistake == "init_default_seed" else seed
    params = init_two_layer(x.shape[1], hidden_size, int(y.max()) + 1, np.random.default_rng(init_seed))
    rng = np.random.default_rng(seed)
    step = {"plus": -learning_rate, "no_update": 0.0, "default_learning_rate": 0.5}.get(mistake, learning_rate)
    stop = n - n % batch_size if mistake == "drop_last" and n >= batch_size else n
    history: list[float] = []
    for _ in range(epochs):
        if mistake == "rng_per_epoch":
            rng = np.random.default_rng(seed)
        order = np.arange(n) if mistake == "no_shuffle" else rng.permutation(n)
        losses, sizes = [], []
        for start in range(0, stop, batch_size):
            batch = order[start : start + batch_size]
            labels = y[start : start + batch_size] if mistake == "labels_in_order" else y[batch]
            loss, grads = two_layer_loss_and_grads(params, x[batch], labels)
            if grad_noise is not None:
                grads = grad_noise(grads, [x[batch], labels])
            params = {key: params[key] - step * grads[key] for key in params}
            losses.append(loss)
            sizes.append(len(batch))
        if mistake == "history_per_batch":
            history += losses
        elif mistake == "history_last_batch":
            history.append(losses[-1])
        elif mistake == "history_weighted":
            history.append(float(np.dot(losses, sizes) / np.sum(sizes)))
        elif mistake == "history_after_epoch":
            history.append(two_layer_loss(params, x, y))
        else:
            history.append(float(np.mean(losses)))
    return params, history
