"""Hidden tests for hw2_autograd (instructor only). The student's Value objects never leave the
sandbox: each check sends a `Program` (steps that build a graph with the student's classes and
call backward) and gets plain numbers back. Expected values and gradients are computed here, by
evaluating the same expression in floats and differentiating it numerically."""

from __future__ import annotations

import math
import random

import numpy as np
import reference as ref

from autograder.checks import CheckFailed, describe, expect_tuple
from autograder.sandbox import Program
from autograder.suite import question, student_call

RTOL = 1e-5


def close(actual, expected) -> bool:
    return isinstance(actual, (int, float)) and abs(actual - expected) <= RTOL * max(1.0, abs(expected))


def expect_number(value, expected, what: str, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckFailed(f"{what} is {describe(value)}, expected a number ({expected:.6g}).")
    if not math.isfinite(value) or not close(value, expected):
        raise CheckFailed(f"{what} is {value:.6g}, expected {expected:.6g}. {hint}".rstrip())


def python_rng(rng) -> random.Random:
    return random.Random(int(rng.integers(1 << 30)))


# ---------------------------------------------------------------------------------- graph_by_hand
def _add_mul_check(student, x, y, z):
    f, dx, dy, dz = expect_tuple(student_call(student.add_mul, x, y, z), 4, "add_mul", "f, df_dx, df_dy, df_dz")
    at = f"add_mul({x:g}, {y:g}, {z:g})"
    expect_number(f, (x + y) * z, f"{at}: f")
    expect_number(dz, x + y, f"{at}: df_dz", "The local gradient of q * z with respect to z is q = x + y.")
    expect_number(dx, z, f"{at}: df_dx", "Add distributes the upstream gradient: df/dx = df/dq = z.")
    expect_number(dy, z, f"{at}: df_dy", "Add distributes the upstream gradient: df/dy = df/dq = z.")


@question("graph_by_hand", points=0.5, visibility="visible")
def test_add_mul_lecture_point(student):
    """add_mul at the lecture's point (-2, 5, -4)"""
    _add_mul_check(student, -2.0, 5.0, -4.0)


@question("graph_by_hand", points=0.5)
def test_add_mul_other_points(student, rng):
    """add_mul at other points"""
    for x, y, z in rng.uniform(-3, 3, (3, 3)):
        _add_mul_check(student, float(x), float(y), float(z))


@question("graph_by_hand", points=0.5)
def test_cubic(student, rng):
    """cubic at the lecture's point (2, 3) and at others"""
    for w1, w2 in [(2.0, 3.0), *rng.uniform(-2, 2, (3, 2))]:
        w1, w2 = float(w1), float(w2)
        g, d1, d2 = expect_tuple(student_call(student.cubic, w1, w2), 3, "cubic", "g, dg_dw1, dg_dw2")
        at = f"cubic({w1:g}, {w2:g})"
        expect_number(g, w1**3 * w2 + 3 * w1, f"{at}: g")
        expect_number(
            d1, 3 * w1**2 * w2 + 3, f"{at}: dg_dw1", "w1 reaches g along two paths (a = w1**3 and c = 3*w1): add both."
        )
        expect_number(d2, w1**3, f"{at}: dg_dw2")


@question("graph_by_hand", points=0.5)
def test_sigmoid_neuron(student, rng):
    """sigmoid_neuron at the lecture's point and at others: L and every gradient"""
    names = ("w0", "x0", "w1", "x1", "w2")
    points = [(2.0, -1.0, -3.0, -2.0, -3.0), *(tuple(float(v) for v in row) for row in rng.uniform(-2, 2, (3, 5)))]
    for point in points:
        L, grads = expect_tuple(student_call(student.sigmoid_neuron, *point), 2, "sigmoid_neuron", "L, grads")
        at = f"sigmoid_neuron{tuple(round(p, 3) for p in point)}"
        w0, x0, w1, x1, w2 = point
        s = 1 / (1 + math.exp(-(w0 * x0 + w1 * x1 + w2)))
        expect_number(L, s, f"{at}: L")
        if not isinstance(grads, dict) or set(grads) != set(names):
            raise CheckFailed(f"sigmoid_neuron: grads must be a dict with keys {list(names)}, got {describe(grads)}.")
        local = s * (1 - s)
        expected = {"w0": local * x0, "x0": local * w0, "w1": local * x1, "x1": local * w1, "w2": local}
        for name in names:
            expect_number(
                grads[name],
                expected[name],
                f"{at}: grads[{name!r}]",
                "Upstream times local: the sigmoid's local gradient is L * (1 - L), and mul swaps its inputs.",
            )


@question("graph_by_hand", points=0.5)
def test_answer_add_mul(student):
    """answer_add_mul: the lecture's numbers for f = (x + y) z"""
    answer = student_call(student.value, "answer_add_mul")
    values = expect_tuple(answer, 4, "answer_add_mul", "f, df_dx, df_dy, df_dz")
    for name, value, expected in zip(("f", "df_dx", "df_dy", "df_dz"), values, (-12, -4, -4, 3)):
        expect_number(value, expected, f"answer_add_mul: {name}")


@question("graph_by_hand", points=0.5)
def test_answer_cubic(student):
    """answer_cubic: the lecture's numbers for g = w1^3 w2 + 3 w1"""
    values = expect_tuple(student_call(student.value, "answer_cubic"), 3, "answer_cubic", "g, dg_dw1, dg_dw2")
    for name, value, expected in zip(("g", "dg_dw1", "dg_dw2"), values, (30, 39, 8)):
        expect_number(value, expected, f"answer_cubic: {name}")


# ------------------------------------------------------------------------------------------ value
def check_graph(student, graph, label: str, timeout: float | None = None) -> None:
    """Build `graph` with the student's Value, call backward on its last node, and compare the
    root's data and every leaf's grad with the grader's values."""
    program = Program("Value")
    refs = ref.build(graph, program)
    program.method(refs[-1], "backward")
    leaves = ref.leaf_indices(graph)
    returns = [program.get(refs[-1], "data"), *(program.get(refs[i], "grad") for i in leaves)]
    results = student_call(student.run, program, returns, timeout=timeout)
    expression = ref.describe(graph) if len(graph) < 40 else label
    values = ref.evaluate(graph)
    expect_number(results[0], values[-1], f"Value: data of {expression}")
    names = "abcdefghijklmnopqrstuvwxyz"
    inputs = ", ".join(f"{names[k]} = {graph[i][1]:g}" for k, i in enumerate(leaves))
    for k, (actual, expected) in enumerate(zip(results[1:], ref.numeric_gradients(graph))):
        expect_number(actual, expected, f"Value: d/d{names[k]} of {expression} at {inputs}", GRADIENT_HINT)


GRADIENT_HINT = (
    "Check each operation's _backward (upstream times local gradient, added with +=) and that "
    "backward() visits every node once, in reverse topological order."
)


def single(op: str, *operands) -> list:
    """A graph with one operation; operands are leaf values (floats) or ("num", c)."""
    graph, args = [], []
    for operand in operands:
        if isinstance(operand, tuple):
            args.append(operand)
        else:
            graph.append(("leaf", operand))
            args.append(("node", len(graph) - 1))
    graph.append((op, *args))
    return graph


@question("value", points=0.5, visibility="visible")
def test_value_lecture_example(student):
    """f = (x + y) * z at the lecture's point: data and gradients"""
    check_graph(
        student,
        [
            ("leaf", -2.0),
            ("leaf", 5.0),
            ("leaf", -4.0),
            ("add", ("node", 0), ("node", 1)),
            ("mul", ("node", 3), ("node", 2)),
        ],
        "(a + b) * c",
    )


@question("value", points=1)
def test_value_each_operation(student, rng):
    """each operation on its own: data and gradient"""
    a, b = float(rng.uniform(0.5, 2.0)), float(-rng.uniform(0.5, 2.0))
    cases = [single(op, a, b) for op in ref.BINARY] + [
        single("pow", a, ("num", 3)),
        single("pow", a, ("num", -0.5)),
        single("neg", b),
        single("exp", b),
        single("log", a),
        single("tanh", b),
        single("relu", a),
        single("relu", b),
        single("sigmoid", b),
    ]
    for graph in cases:
        check_graph(student, graph, ref.describe(graph))


@question("value", points=0.5)
def test_value_numbers_on_the_left(student, rng):
    """plain numbers on the left: 2 + v, 2 * v, 1 - v, 3 / v"""
    a = float(rng.uniform(0.5, 2.0))
    for op, number in (("add", 2.0), ("mul", 2.0), ("sub", 1.0), ("truediv", 3.0)):
        graph = single(op, ("num", number), a)
        try:
            check_graph(student, graph, ref.describe(graph))
        except CheckFailed as failure:
            reflected = {"add": "__radd__", "mul": "__rmul__", "sub": "__rsub__", "truediv": "__rtruediv__"}[op]
            raise CheckFailed(
                f"{failure} Python runs {number:g} {'+*-/'[('add', 'mul', 'sub', 'truediv').index(op)]} v "
                f"as v.{reflected}({number:g}): define it."
            ) from None


@question("value", points=1)
def test_value_random_graphs(student, rng):
    """random expression graphs with shared subexpressions: data and every gradient"""
    generator = python_rng(rng)
    for _ in range(20):
        check_graph(student, ref.random_graph(generator), "a random expression")


@question("value", points=0.5)
def test_value_reused_nodes_accumulate(student):
    """a node used more than once collects gradient from every use (+=)"""
    check_graph(
        student, [("leaf", 3.0), ("mul", ("node", 0), ("node", 0)), ("add", ("node", 1), ("node", 0))], "a * a + a"
    )
    diamond = [
        ("leaf", 0.7),
        ("tanh", ("node", 0)),
        ("mul", ("node", 1), ("num", 2.0)),
        ("exp", ("node", 1)),
        ("add", ("node", 2), ("node", 3)),
        ("mul", ("node", 4), ("node", 1)),
    ]
    check_graph(student, diamond, "a diamond-shaped graph")


@question("value", points=0.5)
def test_value_deep_graph(student):
    """backward on a chain of 20,000 operations (deeper than Python's recursion limit)"""
    depth = 20_000
    program = Program("Value")
    leaf = program.call("Value", 0.5)
    node = leaf
    for _ in range(depth // 2):
        node = program.op("mul", node, 1.0001)
        node = program.op("add", node, 0.0)
    program.method(node, "backward")
    try:
        data, grad = student_call(
            student.run, program, [program.get(node, "data"), program.get(leaf, "grad")], timeout=60
        )
    except CheckFailed as failure:
        if "Recursion" in str(failure):
            raise CheckFailed(
                f"{failure}. Build the topological order with a loop and an explicit stack, not recursion."
            ) from None
        raise
    expect_number(data, 0.5 * 1.0001 ** (depth // 2), "Value: data at the end of the chain")
    expect_number(grad, 1.0001 ** (depth // 2), "Value: grad of the first node of the chain", GRADIENT_HINT)


# ------------------------------------------------------------------------------------- neuron_mlp
def _parameter_count(student, nin, nouts) -> int:
    program = Program("MLP")
    model = program.call("MLP", nin, list(nouts))
    count = program.op("length_hint", program.method(model, "parameters"))
    return student_call(student.run, program, [count])[0]


@question("neuron_mlp", points=0.5, visibility="visible")
def test_mlp_parameter_count_example(student):
    """MLP(3, [4, 4, 1]) has 41 parameters"""
    count = _parameter_count(student, 3, [4, 4, 1])
    if count != 41:
        raise CheckFailed(
            f"MLP(3, [4, 4, 1]).parameters() has {count} items, expected 41 (every neuron: its weights and its bias)."
        )


@question("neuron_mlp", points=0.5)
def test_mlp_parameter_counts(student, rng):
    """parameters() matches mlp_param_count for other sizes"""
    for depth in (1, 2, 3):
        nin, nouts = int(rng.integers(1, 6)), [int(n) for n in rng.integers(1, 6, depth)]
        count, expected = _parameter_count(student, nin, nouts), ref.param_count(nin, nouts)
        if count != expected:
            raise CheckFailed(
                f"MLP({nin}, {nouts}).parameters() has {count} items, expected {expected} "
                f"(HW1's mlp_param_count({[nin, *nouts]}))."
            )


@question("neuron_mlp", points=1)
def test_mlp_forward_and_backward(student, rng):
    """an MLP with the grader's parameters: outputs and every parameter's gradient"""
    nin, nouts = 3, [4, 2]
    count = ref.param_count(nin, nouts)
    values = [float(v) for v in rng.uniform(-1, 1, count)]
    x = [float(v) for v in rng.uniform(-1, 1, nin)]
    upstream = [float(v) for v in rng.uniform(0.5, 1.5, nouts[-1])]
    program = Program("MLP")
    model = program.call("MLP", nin, nouts)
    parameters = program.method(model, "parameters")
    slots = [program.item(parameters, k) for k in range(count)]
    for slot, value in zip(slots, values):
        program.set(slot, "data", value)
    outputs = program.method(model, "__call__", x)
    outs = [program.item(outputs, k) for k in range(nouts[-1])]
    loss = program.op("add", program.op("mul", outs[0], upstream[0]), program.op("mul", outs[1], upstream[1]))
    program.method(loss, "backward")
    results = student_call(
        student.run, program, [*(program.get(o, "data") for o in outs), *(program.get(s, "grad") for s in slots)]
    )
    expected_out = ref.mlp_forward(values, nin, nouts, x)
    for k, (actual, expected) in enumerate(zip(results[: nouts[-1]], expected_out)):
        expect_number(
            actual,
            expected,
            f"MLP output {k}",
            "tanh in every layer but the last; parameters() order: per neuron, weights then bias.",
        )

    def loss_at(vector):
        return sum(u * o for u, o in zip(upstream, ref.mlp_forward(vector, nin, nouts, x)))

    h = 1e-6
    for k, actual in enumerate(results[nouts[-1] :]):
        plus, minus = list(values), list(values)
        plus[k] += h
        minus[k] -= h
        expect_number(actual, (loss_at(plus) - loss_at(minus)) / (2 * h), f"MLP: grad of parameter {k}", GRADIENT_HINT)


# ---------------------------------------------------------------------------------------- training
XOR = ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [-1.0, 1.0, 1.0, -1.0])


def _train(student, xs, ys, nouts, steps, learning_rate, seed):
    result = student_call(
        student.call,
        "train",
        xs,
        ys,
        nouts=tuple(nouts),
        steps=steps,
        learning_rate=learning_rate,
        seed=seed,
        timeout=120,
    )
    values, losses = expect_tuple(result.value, 2, "train", "parameter_values, loss_history")
    count = ref.param_count(len(xs[0]), list(nouts))
    if not isinstance(values, list) or len(values) != count or not all(isinstance(v, (int, float)) for v in values):
        raise CheckFailed(f"train: parameter_values must be a list of {count} floats, got {describe(values)}.")
    if not isinstance(losses, list) or len(losses) != steps or not all(isinstance(v, (int, float)) for v in losses):
        raise CheckFailed(
            f"train: loss_history must be a list of {steps} floats (one per step), got {describe(losses)}."
        )
    trend = f"train: the loss went from {losses[0]:.3g} to {losses[-1]:.3g}."
    if not math.isfinite(losses[-1]) or losses[-1] > losses[0]:
        raise CheckFailed(f"{trend} It went up: is the update p.data -= learning_rate * p.grad (minus, not plus)?")
    if abs(losses[-1] - losses[0]) < 1e-3 * abs(losses[0]):
        raise CheckFailed(f"{trend} It barely changed: are the parameters updated in every step?")
    return values, trend


def _accuracy(values, nouts, xs, ys) -> float:
    scores = [ref.mlp_forward(values, len(xs[0]), list(nouts), x)[0] for x in xs]
    return float(np.mean([(score > 0) == (y > 0) for score, y in zip(scores, ys)]))


@question("training", points=0.5, visibility="visible")
def test_train_returns(student):
    """train on XOR returns the parameters and a falling loss history"""
    _train(student, *XOR, (8, 1), 150, 0.1, 0)


def _needed(xs, ys, test_xs, test_ys, nouts, steps, learning_rate, seed, ceiling: float, margin: float) -> float:
    """The accuracy to reach: `ceiling`, or less when a correct implementation (the grader's numpy
    replay of the same initialisation and steps) does not reach it on this data and seed."""
    reference_values = ref.train_reference(xs, ys, list(nouts), steps, learning_rate, seed)
    return min(ceiling, _accuracy(reference_values, nouts, test_xs, test_ys) - margin)


@question("training", points=1.25)
def test_train_xor(student, rng):
    """train solves XOR (the grader classifies with the returned parameters)"""
    seed = int(rng.integers(0, 100))
    values, trend = _train(student, *XOR, (8, 1), 150, 0.1, seed)
    accuracy = _accuracy(values, (8, 1), *XOR)
    needed = _needed(*XOR, *XOR, (8, 1), 150, 0.1, seed, ceiling=1.0, margin=0.0)
    if accuracy < needed:
        raise CheckFailed(
            f"{trend} The trained network classifies {accuracy:.0%} of XOR's four points correctly "
            f"(needs {needed:.0%}). Are the grads set to 0 before each backward()?"
        )


@question("training", points=1.25)
def test_train_moons(student, rng):
    """train learns two moons (accuracy on held-out points)"""
    generator = python_rng(rng)
    xs, ys = ref.moons(15, generator)
    test_xs, test_ys = ref.moons(100, generator)
    seed = int(rng.integers(0, 100))
    values, trend = _train(student, xs, ys, (8, 1), 150, 0.1, seed)
    accuracy = _accuracy(values, (8, 1), test_xs, test_ys)
    needed = _needed(xs, ys, test_xs, test_ys, (8, 1), 150, 0.1, seed, ceiling=0.85, margin=0.05)
    if accuracy < needed:
        raise CheckFailed(
            f"{trend} The trained network classifies {accuracy:.0%} of held-out points correctly (needs {needed:.0%})."
        )
