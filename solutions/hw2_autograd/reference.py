"""Grader-side reference for hw2 (instructor only; in the Gradescope zip, never in the release).

Expression graphs are plain data here: a list of nodes, each ("leaf", value) or
(op, operand, ...), where an operand is ("node", index) or ("num", number). The grader evaluates
them in floats, differentiates them numerically, and turns them into a `Program` that builds the
same graph with the student's `Value` inside the sandbox.
"""

from __future__ import annotations

import math
import random

import numpy as np

from autograder.sandbox import Program, Ref

UNARY_METHODS = ("exp", "log", "tanh", "relu", "sigmoid")
BINARY = ("add", "sub", "mul", "truediv")


def apply(op: str, *values: float) -> float:
    """One operation on floats, with the meaning the notebook gives it."""
    if op == "add":
        return values[0] + values[1]
    if op == "sub":
        return values[0] - values[1]
    if op == "mul":
        return values[0] * values[1]
    if op == "truediv":
        return values[0] / values[1]
    if op == "pow":
        if values[0] <= 0 and not float(values[1]).is_integer():
            raise ValueError("fractional power of a negative number")
        return values[0] ** values[1]
    if op == "neg":
        return -values[0]
    if op == "exp":
        return math.exp(values[0])
    if op == "log":
        return math.log(values[0])
    if op == "tanh":
        return math.tanh(values[0])
    if op == "relu":
        return max(values[0], 0.0)
    if op == "sigmoid":
        return 1 / (1 + math.exp(-values[0]))
    raise ValueError(op)


def evaluate(graph: list, leaves: dict[int, float] | None = None) -> list[float]:
    """The value of every node (leaf values may be overridden by index)."""
    values: list[float] = []
    for index, node in enumerate(graph):
        if node[0] == "leaf":
            values.append(leaves.get(index, node[1]) if leaves else node[1])
            continue
        operands = [values[o[1]] if o[0] == "node" else o[1] for o in node[1:]]
        values.append(apply(node[0], *operands))
    return values


def leaf_indices(graph: list) -> list[int]:
    return [i for i, node in enumerate(graph) if node[0] == "leaf"]


def numeric_gradients(graph: list, h: float = 1e-6) -> list[float]:
    """d(last node)/d(leaf) for every leaf, by centered differences in float64."""
    grads = []
    for index in leaf_indices(graph):
        value = graph[index][1]
        plus = evaluate(graph, {index: value + h})[-1]
        minus = evaluate(graph, {index: value - h})[-1]
        grads.append((plus - minus) / (2 * h))
    return grads


def well_behaved(graph: list) -> bool:
    """Away from kinks and domain edges, so numerical derivatives are meaningful."""
    try:
        values = evaluate(graph)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        return False
    for node in graph:
        if node[0] == "leaf":
            continue
        inputs = [values[o[1]] if o[0] == "node" else o[1] for o in node[1:]]
        if node[0] == "log" and inputs[0] < 0.2:
            return False
        if node[0] == "truediv" and abs(inputs[1]) < 0.3:
            return False
        if node[0] == "relu" and abs(inputs[0]) < 1e-2:
            return False
        if node[0] == "pow" and inputs[0] < 0.2:
            return False
    return all(abs(v) < 1e3 for v in values) and abs(values[-1]) > 1e-6


def random_graph(rng: random.Random, leaves: int = 4, operations: int = 12) -> list:
    """A random expression over `leaves` inputs whose last node uses earlier nodes, often several
    times (shared subexpressions); every operation the notebook asks for appears over many graphs."""
    while True:
        graph: list = [("leaf", round(rng.uniform(0.3, 2.0) * rng.choice([-1, 1]), 3)) for _ in range(leaves)]
        for _ in range(operations):
            pick = ("node", rng.randrange(len(graph)))
            other = ("node", rng.randrange(len(graph)))
            number = ("num", round(rng.uniform(0.5, 3.0) * rng.choice([-1, 1]), 2))
            kind = rng.random()
            if kind < 0.45:
                op = rng.choice(BINARY)
                operands = rng.choice([(pick, other), (pick, number), (number, pick)])
                graph.append((op, *operands))
            elif kind < 0.55:
                graph.append(("pow", pick, ("num", rng.choice([2, 3, -1, 0.5, -0.5]))))
            elif kind < 0.6:
                graph.append(("neg", pick))
            else:
                graph.append((rng.choice(UNARY_METHODS), pick))
        graph.append(("add", ("node", len(graph) - 1), ("node", rng.randrange(leaves, len(graph)))))
        if well_behaved(graph):
            return graph


def describe(graph: list, index: int | None = None) -> str:
    """The expression as text, leaves named a, b, c, ..."""
    index = len(graph) - 1 if index is None else index
    node = graph[index]
    if node[0] == "leaf":
        return "abcdefghijklmnopqrstuvwxyz"[leaf_indices(graph).index(index)]

    def operand(o):
        return describe(graph, o[1]) if o[0] == "node" else repr(o[1])

    symbols = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**"}
    if node[0] in symbols:
        return f"({operand(node[1])} {symbols[node[0]]} {operand(node[2])})"
    if node[0] == "neg":
        return f"(-{operand(node[1])})"
    return f"{operand(node[1])}.{node[0]}()"


def build(graph: list, program: Program) -> list[Ref]:
    """Steps that build `graph` with the student's Value; the ref of every node."""
    refs: list[Ref] = []
    for node in graph:
        if node[0] == "leaf":
            refs.append(program.call("Value", node[1]))
            continue
        operands = [refs[o[1]] if o[0] == "node" else o[1] for o in node[1:]]
        if node[0] in UNARY_METHODS:
            refs.append(program.method(operands[0], node[0]))
        else:
            refs.append(program.op(node[0], *operands))
    return refs


# ---------------------------------------------------------------------------------------- MLPs
def param_count(nin: int, nouts: list[int]) -> int:
    sizes = [nin, *nouts]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def mlp_forward(values: list[float], nin: int, nouts: list[int], x: list[float]) -> list[float]:
    """The notebook's MLP with parameters in `parameters()` order (per layer, per neuron: weights,
    then bias); tanh in every layer but the last."""
    position, inputs = 0, list(x)
    for layer, nout in enumerate(nouts):
        outputs = []
        for _ in range(nout):
            weights = values[position : position + len(inputs)]
            bias = values[position + len(inputs)]
            position += len(inputs) + 1
            total = sum(w * v for w, v in zip(weights, inputs)) + bias
            outputs.append(math.tanh(total) if layer < len(nouts) - 1 else total)
        inputs = outputs
    return inputs


def moons(points_per_moon: int, rng: random.Random, noise: float = 0.1):
    """Two interleaved half circles, points at random angles: xs, ys (labels -1/+1)."""
    xs, ys = [], []
    for _ in range(points_per_moon):
        angle = rng.uniform(0, math.pi)
        xs.append([math.cos(angle) + rng.gauss(0, noise), math.sin(angle) + rng.gauss(0, noise)])
        ys.append(-1.0)
        angle = rng.uniform(0, math.pi)
        xs.append([1 - math.cos(angle) + rng.gauss(0, noise), 0.5 - math.sin(angle) + rng.gauss(0, noise)])
        ys.append(1.0)
    return xs, ys


def init_parameters(nin: int, nouts: list[int], seed: int) -> list[float]:
    """The notebook's MLP initialisation, replayed: one random.Random(seed) for the whole network,
    per neuron its weights (uniform in [-1, 1]) then a zero bias."""
    rng, values, sizes = random.Random(seed), [], [nin, *nouts]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        for _ in range(fan_out):
            values += [rng.uniform(-1, 1) for _ in range(fan_in)] + [0.0]
    return values


def _unflatten(values: list[float], sizes: list[int]):
    layers, position = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        block = np.array(values[position : position + fan_out * (fan_in + 1)]).reshape(fan_out, fan_in + 1)
        layers.append((block[:, :fan_in].T.copy(), block[:, fan_in].copy()))
        position += fan_out * (fan_in + 1)
    return layers


def _flatten(layers) -> list[float]:
    return [float(v) for W, b in layers for v in np.concatenate([W.T, b[:, None]], axis=1).ravel()]


def train_reference(xs, ys, nouts: list[int], steps: int, learning_rate: float, seed: int) -> list[float]:
    """What a correct `train` computes, in numpy: the same initialisation, full-batch gradient
    descent on the mean squared error of the first output. Returns the trained parameters."""
    sizes = [len(xs[0]), *nouts]
    layers = _unflatten(init_parameters(len(xs[0]), list(nouts), seed), sizes)
    x, y = np.array(xs, dtype=float), np.array(ys, dtype=float)
    for _ in range(steps):
        activations = [x]
        for index, (W, b) in enumerate(layers):
            z = activations[-1] @ W + b
            activations.append(np.tanh(z) if index < len(layers) - 1 else z)
        upstream = np.zeros_like(activations[-1])
        upstream[:, 0] = 2 * (activations[-1][:, 0] - y) / len(y)
        grads = []
        for index in reversed(range(len(layers))):
            W, _ = layers[index]
            if index < len(layers) - 1:
                upstream = upstream * (1 - activations[index + 1] ** 2)
            grads.append((activations[index].T @ upstream, upstream.sum(axis=0)))
            upstream = upstream @ W.T
        grads.reverse()
        layers = [(W - learning_rate * dW, b - learning_rate * db) for (W, b), (dW, db) in zip(layers, grads)]
    return _flatten(layers)
