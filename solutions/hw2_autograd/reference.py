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
    if op == "sigmoid":  # without overflow for large |x|
        if values[0] >= 0:
            return 1 / (1 + math.exp(-values[0]))
        return math.exp(values[0]) / (1 + math.exp(values[0]))
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


def _forward(layers, x):
    activations = [x]
    for index, (W, b) in enumerate(layers):
        z = activations[-1] @ W + b
        activations.append(np.tanh(z) if index < len(layers) - 1 else z)
    return activations


def _loss(layers, x, y) -> float:
    return float(np.mean((_forward(layers, x)[-1][:, 0] - y) ** 2))


def _gradients(layers, x, y, scale: float):
    """d/d(parameters) of scale * sum_i (score_i - y_i)^2 over the rows of x."""
    activations = _forward(layers, x)
    upstream = np.zeros_like(activations[-1])
    upstream[:, 0] = 2 * scale * (activations[-1][:, 0] - y)
    grads = []
    for index in reversed(range(len(layers))):
        W, _ = layers[index]
        if index < len(layers) - 1:
            upstream = upstream * (1 - activations[index + 1] ** 2)
        grads.append((activations[index].T @ upstream, upstream.sum(axis=0)))
        upstream = upstream @ W.T
    grads.reverse()
    return grads


MISTAKES = ("never_zeroed", "plus", "per_point_sum", "per_point_mean", "last_layer_only")


def train_replay(
    xs, ys, nouts: list[int], steps: int, learning_rate: float, seed: int, mistake: str = ""
) -> tuple[list[float], list[float]]:
    """What `train` computes, in numpy: the notebook's initialisation, then full-batch gradient
    descent on the mean squared error of the first output; or the same with one known `mistake`
    (see MISTAKES). Returns (the trained parameters in parameters() order, the full-batch loss at
    the parameters before each step and after the last: steps + 1 floats)."""
    sizes = [len(xs[0]), *nouts]
    layers = _unflatten(init_parameters(len(xs[0]), list(nouts), seed), sizes)
    x, y = np.array(xs, dtype=float), np.array(ys, dtype=float)
    losses, accumulated = [], None
    for _ in range(steps):
        losses.append(_loss(layers, x, y))
        if mistake.startswith("per_point"):
            scale = 1.0 / len(y) if mistake == "per_point_mean" else 1.0
            for i in range(len(y)):
                grads = _gradients(layers, x[i : i + 1], y[i : i + 1], scale)
                layers = [(W - learning_rate * dW, b - learning_rate * db) for (W, b), (dW, db) in zip(layers, grads)]
            continue
        grads = _gradients(layers, x, y, 1.0 / len(y))
        if mistake == "never_zeroed":
            if accumulated is not None:
                grads = [(dW + aW, db + ab) for (dW, db), (aW, ab) in zip(grads, accumulated)]
            accumulated = grads
        sign = 1.0 if mistake == "plus" else -1.0
        updated = [
            (W + sign * learning_rate * dW, b + sign * learning_rate * db) for (W, b), (dW, db) in zip(layers, grads)
        ]
        layers = [*layers[:-1], updated[-1]] if mistake == "last_layer_only" else updated
    losses.append(_loss(layers, x, y))
    return _flatten(layers), losses


def train_reference(xs, ys, nouts: list[int], steps: int, learning_rate: float, seed: int) -> list[float]:
    """What a correct `train` computes: the trained parameters (see train_replay)."""
    return train_replay(xs, ys, nouts, steps, learning_rate, seed)[0]


def mlp_forward_variant(values, nin, nouts, x, hidden="tanh", last="linear", bias=True) -> list[float]:
    """mlp_forward with a known mistake: another hidden nonlinearity, tanh on the last layer, no bias."""
    functions = {"tanh": math.tanh, "relu": lambda v: max(v, 0.0), "linear": lambda v: v}
    position, inputs = 0, list(x)
    for layer, nout in enumerate(nouts):
        outputs = []
        for _ in range(nout):
            weights = values[position : position + len(inputs)]
            b = values[position + len(inputs)] if bias else 0.0
            position += len(inputs) + 1
            total = sum(w * v for w, v in zip(weights, inputs)) + b
            outputs.append(functions[hidden if layer < len(nouts) - 1 else last](total))
        inputs = outputs
    return inputs


def init_candidates(nin: int, nouts: list[int], seed: int) -> dict[str, list[float]]:
    """Initialisations a student might write instead of the notebook's, each replayed, by what
    went wrong."""
    sizes = [nin, *nouts]
    candidates = {}

    def neurons(make_rng_for_layer, make_rng_for_neuron=None, bias_first=False, layer_order=""):
        values, rng = [], random.Random(seed)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layer_rng = make_rng_for_layer(rng)
            rows = []
            for _ in range(fan_out):
                neuron_rng = make_rng_for_neuron() if make_rng_for_neuron else layer_rng
                weights = [neuron_rng.uniform(-1, 1) for _ in range(fan_in)]
                rows.append(weights)
                if not layer_order:
                    values += [0.0, *weights] if bias_first else [*weights, 0.0]
            if layer_order == "weights_then_biases":
                values += [w for row in rows for w in row] + [0.0] * fan_out
            elif layer_order == "biases_then_weights":
                values += [0.0] * fan_out + [w for row in rows for w in row]
        return values

    candidates["Layer does not hand its rng to its neurons: each neuron makes its own random.Random(0)"] = neurons(
        lambda rng: rng, lambda: random.Random(0)
    )
    candidates["each Layer starts its own random.Random(seed) instead of using the MLP's one rng"] = neurons(
        lambda rng: random.Random(seed)
    )
    candidates["parameters() lists each neuron's bias before its weights (the notebook: weights, then bias)"] = neurons(
        lambda rng: rng, bias_first=True
    )
    candidates[
        "Layer.parameters() lists all its neurons' weights, then all their biases (the notebook: neuron by "
        "neuron, each neuron's weights, then its bias)"
    ] = neurons(lambda rng: rng, layer_order="weights_then_biases")
    candidates[
        "Layer.parameters() lists all its neurons' biases, then all their weights (the notebook: neuron by "
        "neuron, each neuron's weights, then its bias)"
    ] = neurons(lambda rng: rng, layer_order="biases_then_weights")
    return candidates


def local_gradients(op: str, inputs: list[float], out: float) -> list[float]:
    """d(out)/d(input) for each input of one operation, by the chain rule's formulas."""
    if op == "add":
        return [1.0, 1.0]
    if op == "sub":
        return [1.0, -1.0]
    if op == "mul":
        return [inputs[1], inputs[0]]
    if op == "truediv":
        return [1 / inputs[1], -inputs[0] / inputs[1] ** 2]
    if op == "pow":
        return [inputs[1] * inputs[0] ** (inputs[1] - 1), 0.0]
    if op == "neg":
        return [-1.0]
    if op == "exp":
        return [out]
    if op == "log":
        return [1 / inputs[0]]
    if op == "tanh":
        return [1 - out * out]
    if op == "relu":
        return [1.0 if inputs[0] > 0 else 0.0]
    if op == "sigmoid":
        return [out * (1 - out)]
    raise ValueError(op)


# Where a local gradient is computed with an absolute (not relative) rounding error: 1 - tanh**2 and
# s * (1 - s) are off by about 1e-16 even where the derivative itself is far smaller.
ABSOLUTE_FLOOR = {"tanh": 1.0, "sigmoid": 0.25}


def exact_gradients(graph: list) -> tuple[list[float], list[float]]:
    """d(last node)/d(leaf) for every leaf by backpropagation in floats (what a correct Value gives,
    up to rounding), and for each a scale for that rounding: the same backpropagation of absolute
    values, each local gradient's magnitude at least ABSOLUTE_FLOOR's for its operation."""
    values = evaluate(graph)
    grads = [0.0] * len(graph)
    scales = [0.0] * len(graph)
    grads[-1] = scales[-1] = 1.0
    for index in reversed(range(len(graph))):
        node = graph[index]
        if node[0] == "leaf":
            continue
        inputs = [values[o[1]] if o[0] == "node" else o[1] for o in node[1:]]
        floor = ABSOLUTE_FLOOR.get(node[0], 0.0)
        for operand, local in zip(node[1:], local_gradients(node[0], inputs, values[index])):
            if operand[0] == "node":
                grads[operand[1]] += grads[index] * local
                scales[operand[1]] += scales[index] * max(abs(local), floor)
    leaves = leaf_indices(graph)
    return [grads[i] for i in leaves], [scales[i] for i in leaves]
