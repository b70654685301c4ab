"""Hidden tests for hw2_autograd (instructor only). The student's Value objects never leave the
sandbox: each check sends a `Program` (steps that build a graph with the student's classes and
call backward) and gets plain numbers back. Expected values and gradients are computed here, by
evaluating the same expression in floats and differentiating it numerically; training is
compared with the grader's numpy replay of the same initialisation and steps.

Every hint names a mistake only when the grader has checked it: the student's number equals what
that mistake gives (computed here), or a replay of that mistake matches.

Gradients are credited only when they are backpropagation's: exact to 1e-12 (finite differences are
not), sent through nodes the grader makes itself with its own `_backward` (a method that
differentiates each node's operation, such as a vectorised complex step or forward mode, cannot),
and at backpropagation's cost (`expect_backpropagation`: a graph of 20,000 leaves; a method that
re-evaluates the graph once per leaf, such as a complex step, is exact but too slow there).
Known limits (README, Security, rows 22 and 23): a per-leaf method that re-evaluates only each leaf's path
to the root costs about what a correct backward() with a list for its visited set does; a complex
step in graph_by_hand (tiny fixed graphs: no cost difference) passes; train may compute off the
engine once Value and MLP pass their checks; the no-recursion watch (0.5 pt) follows threading and
_thread only (not a fork, a re-imported _thread, ctypes' pthread_create or C-level recursion)."""

from __future__ import annotations

import math
import random

import numpy as np
import reference as ref

from autograder.checks import CheckFailed, describe, expect_number, expect_tuple
from autograder.sandbox import Program
from autograder.suite import question, student_call

DEPTH_LIMIT = 200  # calls nested inside one step: an iterative backward() nests a handful


def python_rng(rng) -> random.Random:
    return random.Random(int(rng.integers(1 << 30)))


def matches(actual, expected, rtol: float = 1e-6) -> bool:
    """A finite number within rtol of `expected` (relative to max(1, |expected|))."""
    return (
        isinstance(actual, (int, float))
        and not isinstance(actual, bool)
        and math.isfinite(actual)
        and math.isfinite(expected)
        and abs(actual - expected) <= rtol * max(1.0, abs(expected))
    )


def all_match(actual: list, expected: list, rtol: float = 1e-6) -> bool:
    return len(actual) == len(expected) and all(matches(a, e, rtol) for a, e in zip(actual, expected))


def numpy_scalar(value) -> str:
    """ "numpy.float32" (say) for a numpy number that is not a float64 (np.float64 is a float), else ""."""
    if isinstance(value, np.generic) and not isinstance(value, float):
        return f"numpy.{type(value).__name__}"
    return ""


def expect_python_floats(named: list, where: str) -> None:
    """(name, value) pairs: a numpy float32 (or other numpy scalar) is named by its type, before any
    value is compared (float32's 7 digits look like an inexact gradient)."""
    for name, value in named:
        kind = numpy_scalar(value)
        if kind:
            raise CheckFailed(
                f"{where}: {name} is {kind} ({value!r}). Keep data and grad Python floats (float64): "
                "self.data = float(data) in __init__, and plain float arithmetic; a numpy.float32 keeps about 7 "
                "digits, and gradients are compared to a relative error of 1e-12."
            )


# ---------------------------------------------------------------------------------- graph_by_hand
# The notebook: each gradient is upstream times local, exactly as the chain rule gives it. Written
# in any order or form, the chain rule's numbers differ from these by rounding (below 1e-15 of the
# sum of the terms' magnitudes); finite differences are off by 1e-10 or more.
BY_HAND_RTOL = 1e-12


def expect_by_hand(actual, exact: float, scale: float, what: str) -> None:
    """After expect_number passed: actual equals the chain rule's number to BY_HAND_RTOL of scale
    (the magnitudes of the terms summed, at least 1)."""
    if abs(actual - exact) > BY_HAND_RTOL * max(1.0, scale):
        raise CheckFailed(
            f"{what} is {actual!r}, but the chain rule gives {exact!r} exactly: close, but off by "
            f"{abs(actual - exact) / max(1.0, scale):.2g}, as finite differences are. The notebook: one line per "
            "gradient, upstream times local, exact up to rounding (relative error 1e-12); a numerical derivative "
            "earns no points here."
        )


def _add_mul_check(student, x, y, z):
    f, dx, dy, dz = expect_tuple(student_call(student.add_mul, x, y, z), 4, "add_mul", "f, df_dx, df_dy, df_dz")
    at = f"add_mul({x:g}, {y:g}, {z:g})"
    expect_number(f, (x + y) * z, f"{at}: f")
    expect_number(dz, x + y, f"{at}: df_dz", "The local gradient of q * z with respect to z is q = x + y.")
    expect_number(dx, z, f"{at}: df_dx", "Add distributes the upstream gradient: df/dx = df/dq = z.")
    expect_number(dy, z, f"{at}: df_dy", "Add distributes the upstream gradient: df/dy = df/dq = z.")
    for name, actual, exact, scale in (("df_dz", dz, x + y, abs(x) + abs(y)), ("df_dx", dx, z, z), ("df_dy", dy, z, z)):
        expect_by_hand(actual, exact, abs(scale), f"{at}: {name}")


@question("graph_by_hand", points=0.5, visibility="visible")
def test_add_mul_lecture_point(student):
    """add_mul at the lecture's point (-2, 5, -4)"""
    _add_mul_check(student, -2.0, 5.0, -4.0)


@question("graph_by_hand", points=0.5)
def test_add_mul_other_points(student, rng):
    """add_mul at other points"""
    for x, y, z in rng.uniform(-3, 3, (3, 3)):
        _add_mul_check(student, float(x), float(y), float(z))


def _cubic_hint(d1, w1, w2) -> str:
    """Name a mistake in dg_dw1 only when the student's number is what that mistake gives."""
    if matches(d1, 3 * w1**2 * w2):
        return "That is the path through a = w1**3 alone: w1 also reaches g through c = 3*w1; add both paths."
    if matches(d1, 3 * w1**2 + 3):
        return "That is 3*w1**2 + 3, without the factor w2: along the a path, dg/da = w2 (mul swaps its inputs)."
    return "dg/dw1 is the sum over both paths of upstream times local: dg/da * da/dw1 + dg/dc * dc/dw1."


@question("graph_by_hand", points=0.5)
def test_cubic(student, rng):
    """cubic at the lecture's point (2, 3) and at others"""
    for w1, w2 in [(2.0, 3.0), *rng.uniform(-2, 2, (3, 2))]:
        w1, w2 = float(w1), float(w2)
        g, d1, d2 = expect_tuple(student_call(student.cubic, w1, w2), 3, "cubic", "g, dg_dw1, dg_dw2")
        at = f"cubic({w1:g}, {w2:g})"
        expect_number(g, w1**3 * w2 + 3 * w1, f"{at}: g")
        expect_number(d1, 3 * w1**2 * w2 + 3, f"{at}: dg_dw1", _cubic_hint(d1, w1, w2))
        expect_number(d2, w1**3, f"{at}: dg_dw2")
        expect_by_hand(d1, 3 * w1**2 * w2 + 3, abs(3 * w1**2 * w2) + 3, f"{at}: dg_dw1")
        expect_by_hand(d2, w1**3, abs(w1**3), f"{at}: dg_dw2")


def _neuron_hint(name: str, actual, point, s) -> str:
    w0, x0, w1, x1, _ = point
    local = s * (1 - s)
    unswapped = {"w0": local * w0, "x0": local * x0, "w1": local * w1, "x1": local * x1}
    if name in unswapped and matches(actual, unswapped[name]):
        return "That is the local gradient times the same input: mul swaps its inputs (dL/dw0 = dL/ds0 * x0)."
    without_local = {"w0": x0, "x0": w0, "w1": x1, "x1": w1, "w2": 1.0}
    if matches(actual, without_local[name]):
        return "That is missing the sigmoid's local gradient L * (1 - L) (upstream times local)."
    return "Upstream times local: the sigmoid's local gradient is L * (1 - L); add passes it on; mul swaps its inputs."


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
                grads[name], expected[name], f"{at}: grads[{name!r}]", _neuron_hint(name, grads[name], point, s)
            )
            expect_by_hand(grads[name], expected[name], abs(expected[name]), f"{at}: grads[{name!r}]")


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
GRADIENT_HINT = (
    "Check each operation's _backward (upstream times local gradient, added with +=) and that "
    "backward() visits every node once, in reverse topological order."
)
ROOT_GRAD_RULE = (
    "backward() must set the root's grad to 1 before calling the _backward functions (nothing flows back "
    "from a root whose grad is 0)."
)
LEAF_NAMES = "abcdefghijklmnopqrstuvwxyz"


def run_values(student, program: Program, returns: list, timeout: float | None = None) -> list:
    """Run a Program; a RecursionError (or a raised recursion limit) gets the notebook's rule."""
    try:
        return student_call(student.run, program, returns, timeout=timeout)
    except CheckFailed as failure:
        if "Recursion" in str(failure):
            raise CheckFailed(
                f"{failure}. Build the topological order with a loop and an explicit stack, not recursion "
                "(the notebook: without recursion; the autograder runs backward() under Python's default recursion limit)."
            ) from None
        raise


def check_graph(
    student,
    graph,
    label: str,
    timeout: float | None = None,
    expected_grads: list[float] | None = None,
    hints: dict[int, tuple[float, str]] | None = None,
    stored: bool = False,
) -> None:
    """Build `graph` with the student's Value, call backward on its last node, and compare the
    root's data and every leaf's grad with the grader's values (numerical, unless
    `expected_grads`). hints: leaf position -> (a value a known mistake gives, what to say then).
    stored: also check that grad is a number backward() stored (see `check_stored_grads`)."""
    program = Program("Value", max_depth=DEPTH_LIMIT)
    refs = ref.build(graph, program)
    program.method(refs[-1], "backward")
    leaves = ref.leaf_indices(graph)
    returns = [program.get(refs[-1], "data"), *(program.get(refs[i], "grad") for i in leaves)]
    results = run_values(student, program, [*returns, program.get(refs[-1], "grad")], timeout)
    root_grad = results.pop()
    expression = ref.describe(graph) if len(graph) < 40 else label
    expect_python_floats(
        [("data", results[0]), *((f"{LEAF_NAMES[k]}.grad", v) for k, v in enumerate(results[1:]))],
        f"Value: after {expression}.backward()",
    )
    values = ref.evaluate(graph)
    expect_number(results[0], values[-1], f"Value: data of {expression}")
    inputs = ", ".join(f"{LEAF_NAMES[k]} = {graph[i][1]:g}" for k, i in enumerate(leaves))
    expected = expected_grads if expected_grads is not None else ref.numeric_gradients(graph)
    all_zero = (
        isinstance(root_grad, (int, float))
        and root_grad == 0
        and all(isinstance(a, (int, float)) and a == 0 for a in results[1:])
    )
    for k, (actual, wanted) in enumerate(zip(results[1:], expected)):
        hint = GRADIENT_HINT
        if hints and k in hints and matches(actual, hints[k][0]):
            hint = hints[k][1]
        elif all_zero and not matches(0.0, wanted):
            hint = f"After backward() the root's own grad is 0, and so is every leaf's: {ROOT_GRAD_RULE}"
        expect_number(actual, wanted, f"Value: d/d{LEAF_NAMES[k]} of {expression} at {inputs}", hint)
    if stored:
        check_stored_grads(student, graph, expression, results[1:])
    if expected_grads is None:
        check_exact(graph, results[1:], f"{expression} at {inputs}")
    expect_backpropagation(student, f"the gradients of {expression} are right, but")


# Gradients must be backpropagation's, exactly as the chain rule gives them (the notebook says so).
# Measured over 300 random graphs: correct engines written differently (the solution; micrograd's
# div as a * b**-1; a direct quotient rule; tanh' as 1 / cosh(x)**2 or (1 - t) * (1 + t); sigmoid
# through tanh; pow' as n * out / x; the red team's 20 correct variants) differ from the grader's
# backpropagation by at most 1.2e-15 of `scale` (the same backpropagation of absolute values, see
# ref.exact_gradients); finite differences re-evaluating the graph are off by 1e-8 of it.
EXACT_RTOL = 1e-12


def check_exact(graph, grads: list, where: str) -> None:
    """Every leaf's grad equals backpropagation's to EXACT_RTOL of its rounding scale."""
    exact, scales = ref.exact_gradients(graph)
    for k, (actual, wanted, scale) in enumerate(zip(grads, exact, scales)):
        # tiny gradients (tanh at 10: 8e-9) pass the numerical check as 0; rounding residue of a zero does not count
        if actual == 0 and abs(wanted) > EXACT_RTOL * scale + 1e-15:
            nothing = all(g == 0 for g in grads)
            raise CheckFailed(
                f"Value: d/d{LEAF_NAMES[k]} of {where} is 0.0, but backpropagation gives {wanted!r}: no gradient "
                "reached this leaf. "
                + (f"Every leaf's grad is 0 after backward(): {ROOT_GRAD_RULE}" if nothing else GRADIENT_HINT)
            )
        if abs(actual - wanted) > EXACT_RTOL * scale + 1e-15:
            raise CheckFailed(
                f"Value: d/d{LEAF_NAMES[k]} of {where} is {actual!r}, but backpropagation (the chain rule, "
                f"exactly) gives {wanted!r}: close, but off by {abs(actual - wanted) / max(scale, 1e-300):.2g} "
                f"relative, as finite differences are. The notebook: grad is what backward() computes by "
                f"backpropagation, exact up to rounding (relative error {EXACT_RTOL:g}); finite differences "
                "earn no value points."
            )


def check_stored_grads(student, graph, expression: str, grads: list) -> None:
    """grad is a number that backward() stores: it is 0.0 before, it does not change when the
    leaves' data change afterwards, and `grad = 0.0` sticks (the training loop relies on it)."""
    leaves = ref.leaf_indices(graph)
    names = [LEAF_NAMES[k] for k in range(len(leaves))]
    program = Program("Value", max_depth=DEPTH_LIMIT)
    refs = ref.build(graph, program)
    before = [program.get(refs[i], "grad") for i in leaves]
    program.method(refs[-1], "backward")
    new_data = [graph[i][1] * 1.01 + 0.01 for i in leaves]
    for i, value in zip(leaves, new_data):
        program.set(refs[i], "data", value)
    after = [program.get(refs[i], "grad") for i in leaves]
    try:
        results = run_values(student, program, [*before, *after])
    except CheckFailed as failure:
        raise CheckFailed(
            f"Value: reading grad before {expression}.backward() and again after it, with the leaves' data "
            f"changed, failed: {failure} (grad must be a number: 0.0 before, then what backward() stored)."
        ) from None
    for name, value in zip(names, results[: len(leaves)]):
        if not (isinstance(value, (int, float)) and value == 0):
            raise CheckFailed(
                f"Value: {name}.grad is {describe(value)} before any backward(), expected 0.0 "
                "(a new Value starts with grad 0.0)."
            )
    for name, first, again in zip(names, grads, results[len(leaves) :]):
        if not (isinstance(again, (int, float)) and again == first):
            changed = ", ".join(f"{n} from {graph[i][1]:g} to {v:g}" for n, i, v in zip(names, leaves, new_data))
            now = repr(again) if isinstance(again, (int, float)) else describe(again)
            raise CheckFailed(
                f"Value: after {expression}.backward(), changing the leaves' data ({changed}) changed "
                f"{name}.grad from {first!r} to {now}. "
                "grad must be the number backward() stored by backpropagation, not computed when it is read."
            )
    program = Program("Value", max_depth=DEPTH_LIMIT)
    refs = ref.build(graph, program)
    program.method(refs[-1], "backward")
    for i in leaves:
        program.set(refs[i], "grad", 0.0)
    try:
        results = run_values(student, program, [program.get(refs[i], "grad") for i in leaves])
    except CheckFailed as failure:
        raise CheckFailed(
            f"Value: setting {names[0]}.grad = 0.0 after {expression}.backward() failed: {failure} "
            "(grad must be a plain attribute: the training loop sets p.grad = 0.0)."
        ) from None
    for name, value in zip(names, results):
        if not (isinstance(value, (int, float)) and value == 0):
            raise CheckFailed(
                f"Value: after {expression}.backward(), {name}.grad = 0.0 left {name}.grad at {describe(value)}: "
                "grad must be a plain attribute (the training loop sets p.grad = 0.0 before each backward())."
            )


# ------------------------------------------------------------------ backpropagation's cost
# A Value whose gradients are exact to rounding but not backpropagation's (a complex step, or
# finite differences made exact, re-evaluating the graph once per leaf; forward mode, carrying
# every node's derivatives with respect to every leaf) passes every check of small graphs. They
# differ in cost: backward() on loss = a1*b1 + a2*b2 + ... + a10000*b10000 (20,000 leaves, 40,000
# nodes, summed left to right) visits each node once by backpropagation, and the others make a
# pass per leaf (or carry 20,000 derivatives per node). Measured on the project's 2-core machine
# (2026-11-23; outside the sandbox, then in it through these programs): backward() of the solution
# 0.03 s; the correct variants of the catalogue and the red team's (Kahn's algorithm, a stack of
# iterators, sorting by height, __slots__, numpy floats, a subclass) 0.03-0.09 s; the slowest
# correct one, a list instead of a set for the visited nodes (its `in` is a scan), 11 s; building
# the graph 0.1 s. The red team's complex-step backward() makes 20,000 passes: 2 s at 2,000
# leaves, 9 s at 4,000, over 200 s here; its forward mode builds the graph in 30 s and needs
# 7 GB (the sandbox has 1 GiB: MemoryError). WIDE_SECONDS sits between, for the building and for
# backward() alone (each its own request, timed by the grader). Not caught: an engine that
# re-evaluates only each leaf's path to the root costs, on this chain, about what the list costs.
# The building Program is 3.3 MB of JSON, under the channel's 4 MiB header limit: a larger graph
# would need the sandbox to build it from fewer steps.
WIDE_PRODUCTS = 10_000
WIDE_SECONDS = 60
WIDE_GRAPH = "loss = a1*b1 + a2*b2 + ... + a10000*b10000"
_verdicts: dict = {}  # (what, question) -> "" when the submission passed, else what failed


def memo(what: str, student, compute):
    """A verdict about the submission computed once per question's names (the same for every test)."""
    key = (what, getattr(student, "_question", None))
    if key not in _verdicts:
        _verdicts[key] = compute(student)
    return _verdicts[key]


def _wide_values() -> list[float]:
    generator = random.Random(20_000)
    return [round(generator.uniform(0.5, 2.0) * generator.choice((-1, 1)), 3) for _ in range(2 * WIDE_PRODUCTS)]


def _wide_run(student, values: list[float], chain: bool) -> tuple[str, str]:
    """Build the wide graph (summed left to right when `chain`, else pairwise), then time backward()
    and the reading of every 101st leaf's grad in a request of its own. (kind, what was observed):
    kind "" when it is fast and exact, "cost" when it ran out of time or memory, "recursion" on a
    RecursionError, "wrong" for anything else."""
    build = Program("Value (20,000 leaves)")
    leaves = [build.call("Value", v) for v in values]
    level = [build.op("mul", leaves[2 * i], leaves[2 * i + 1]) for i in range(WIDE_PRODUCTS)]
    if chain:
        total = level[0]
        for product in level[1:]:
            total = build.op("add", total, product)
    else:
        while len(level) > 1:
            level = [
                build.op("add", *level[i : i + 2]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)
            ]
        total = level[0]
    sample = list(range(0, len(values), 101))
    try:
        handles = student_call(
            student.run, build, [total, *(leaves[i] for i in sample)], timeout=WIDE_SECONDS, speed_probe=True
        )
    except CheckFailed as failure:
        rule = (
            "each operation makes one node, its data and how to send gradients back, whatever the graph's size "
            "(a Value that carries its derivatives with respect to every leaf grows with the graph)."
        )
        if "did not finish" in str(failure):
            return "cost", (
                f"building {WIDE_GRAPH} (20,000 leaves) did not finish within {WIDE_SECONDS} s (the solution builds "
                f"it in 0.1 s): {rule}"
            )
        if "MemoryError" in str(failure):
            return "cost", (
                f"building {WIDE_GRAPH} (20,000 leaves) ran out of memory ({failure}); the solution's graph takes "
                f"about 20 MB: {rule}"
            )
        return "wrong", f"building {WIDE_GRAPH} (20,000 leaves) failed: {failure}"
    timed = Program("backward() (20,000 leaves)")
    root = timed.op("getitem", [handles[0]], 0)
    timed.method(root, "backward")
    grads = [timed.get(timed.op("getitem", [h], 0), "grad") for h in handles[1:]]
    try:
        results = student_call(
            student.run, timed, [timed.get(root, "data"), *grads], timeout=WIDE_SECONDS, speed_probe=True
        )
    except CheckFailed as failure:
        if "Recursion" in str(failure):
            return "recursion", ""
        if "did not finish" in str(failure):
            return "cost", (
                f"backward() on a graph of 20,000 leaves ({WIDE_GRAPH}) did not finish within {WIDE_SECONDS} s. "
                "Backpropagation visits each node once (the solution: 0.03 s); a method that re-evaluates the "
                "graph once per leaf (finite differences, a complex step) makes 20,000 passes over its 40,000 nodes. "
                "The notebook: grad is what backward() computes by backpropagation."
            )
        return "wrong", f"backward() on {WIDE_GRAPH} failed: {failure}"
    data, grads = results[0], results[1:]
    try:
        expect_python_floats([("data", data), *(("a grad", g) for g in grads)], f"after backward() on {WIDE_GRAPH}")
    except CheckFailed as failure:
        return "wrong", str(failure)
    expected_data = 0.0
    for i in range(WIDE_PRODUCTS):
        expected_data += values[2 * i] * values[2 * i + 1]
    if not matches(data, expected_data, 1e-9):
        return "wrong", f"after backward() on {WIDE_GRAPH}, loss.data is {describe(data)}, expected {expected_data!r}."
    for i, grad in zip(sample, grads):
        other = values[i + 1 if i % 2 == 0 else i - 1]
        if not (isinstance(grad, (int, float)) and abs(grad - other) <= EXACT_RTOL * abs(other)):
            name = f"{'ab'[i % 2]}{i // 2 + 1}"
            return "wrong", (
                f"after backward() on {WIDE_GRAPH}, {name}.grad is {describe(grad)}, expected the other factor of "
                f"its product, {other!r}. {GRADIENT_HINT}"
            )
    return "", ""


# ------------------------------------------------------------------ the grader's own nodes
# A method fast and exact enough for the wide graph can still be no backpropagation: a complex
# step or forward mode vectorised over the leaves with numpy (3.4 s on the wide graph), a grad
# property that differentiates when it is read, forward mode run inside backward(). They all
# differentiate each node's *operation*; backpropagation calls each node's `_backward`. So the
# grader makes nodes of its own, as the notebook says it does: Value(data, (child, ...), "grader")
# with a `_backward` that adds its own local gradients (which no operation's derivative gives),
# joined by the student's `+`, and checks that the gradient arrives through them.
# The local gradients are drawn afresh in every grading (from the operating system's entropy), so
# no engine can be written for one fixed graph (red team hw2 round 6: the feedback prints them).
GRADER_NODES = "c = Value(2.0, (a, b), 'grader'), s = c + a, d = Value(-1.0, (s, b), 'grader'), loss = d + a"


def _grader_local_gradients() -> tuple[float, float, float, float]:
    """dc/da, dc/db, dd/ds, dd/db: random two-decimal numbers, 0.5 to 3 in size, either sign, dd/ds
    away from 1 (c's upstream gradient, which the check reads, is dd/ds) and the leaves' gradients
    away from 0 (they are compared to a relative 1e-12)."""
    generator = np.random.default_rng()
    while True:
        values = [round(float(generator.uniform(0.5, 3.0) * generator.choice((-1, 1))), 2) for _ in range(4)]
        dc_da, dc_db, dd_ds, dd_db = values
        if abs(dd_ds - 1.0) > 0.2 and min(abs(dd_ds * (dc_da + 1.0) + 1.0), abs(dd_ds * dc_db + dd_db)) > 0.5:
            return dc_da, dc_db, dd_ds, dd_db


def _grader_nodes_problem(student) -> str:
    """ "" when backward() sends gradients through nodes with the grader's own _backward, else why
    not, by what was seen: the leaves' grads, and how often each grader node's _backward ran.
    Only leaves are read (an engine may clear inner nodes' grads after backward(), as PyTorch does)."""
    dc_da, dc_db, dd_ds, dd_db = _grader_local_gradients()
    expected = {"a": dd_ds * (dc_da + 1.0) + 1.0, "b": dd_ds * dc_db + dd_db}  # leaves only: see below
    program = Program("Value with the grader's own nodes", max_depth=DEPTH_LIMIT)
    a, b = program.call("Value", 0.5), program.call("Value", -1.5)
    c = program.node("Value", 2.0, [a, b], [dc_da, dc_db], "grader")
    s = program.op("add", c, a)
    d = program.node("Value", -1.0, [s, b], [dd_ds, dd_db], "grader")
    loss = program.op("add", d, a)  # a path around the grader's nodes: nothing arriving at all is told apart
    program.method(loss, "backward")
    returns = [program.get(a, "grad"), program.get(b, "grad"), program.backward_calls(c), program.backward_calls(d)]
    returns += [program.backward_upstreams(c), program.backward_upstreams(d)]
    graph = (
        f"a = Value(0.5), b = Value(-1.5), {GRADER_NODES} with dc/da = {dc_da:g}, dc/db = {dc_db:g}, "
        f"dd/ds = {dd_ds:g}, dd/db = {dd_db:g}; "
        "then loss.backward()"
    )
    rule = (
        "The notebook: backward() calls every node's _backward, in reverse topological order, and that is "
        "all it does to the gradients; the grader builds nodes of its own as Value(data, children, op) and "
        "sets their _backward (a function of no arguments), so backward() may rely only on what the "
        "constructor stores (_children) and on _backward."
    )
    try:
        *leaf_grads, calls_c, calls_d, upstreams_c, upstreams_d = run_values(student, program, returns)
    except CheckFailed as failure:
        return f"with the grader's own nodes ({graph}), {failure}. {rule}"
    grads = dict(zip(expected, leaf_grads))
    wrong = [
        f"{name}.grad is {_number_against(grads[name], wanted)}"
        for name, wanted in expected.items()
        if not (isinstance(grads[name], (int, float)) and abs(grads[name] - wanted) <= 1e-12 * abs(wanted))
    ]
    # what each grader node's grad was when its _backward ran: backpropagation has all of dloss/dnode
    # there (forward mode that calls _backward with grad set to 1 to read the local gradients gets
    # the leaves right and this wrong: red team hw2 round 5)
    early = [
        f"{name}'s _backward ran when {name}.grad was {bad:g} where backpropagation has {wanted:g} "
        f"(dloss/d{name}, collected from every node that uses {name} before {name}'s _backward runs)"
        for name, upstreams, wanted in (("c", upstreams_c, dd_ds), ("d", upstreams_d, 1.0))
        for bad in [next((u for u in upstreams if not abs(u - wanted) <= 1e-12), None)]
        if bad is not None
    ]
    counts = {"c": calls_c, "d": calls_d}
    if not wrong and not early and set(counts.values()) == {1}:
        return ""
    if not wrong:  # the leaves are right, but not by running each grader node's _backward once, in time
        found = [f"{name}'s _backward ran {calls} times" for name, calls in counts.items() if calls != 1] + early
        return (
            f"with the grader's own nodes ({graph}), the leaves' grads are right, but {'; '.join(found)}: each "
            "node's _backward runs exactly once, when its grad already holds all of dloss/dnode, so the gradients "
            "did not arrive through the nodes' _backward functions. Gradients that do not come from the nodes' "
            f"_backward functions (finite differences, a complex step, forward mode) are not backpropagation. {rule}"
        )
    seen = f"with the grader's own nodes ({graph}): {'; '.join(wrong)}."
    if all(grads[name] == 0 for name in grads):
        return f"{seen} Every leaf's grad is 0: {ROOT_GRAD_RULE}"
    if calls_c == 0 and calls_d == 0:
        return (
            f"backward() did not send the gradient through nodes the grader made itself: it never called their "
            f"_backward functions, {seen} Gradients that do not come from the nodes' _backward functions (finite "
            f"differences, a complex step, forward mode) are not backpropagation. {rule}"
        )
    if calls_c == 0 or calls_d == 0:
        never = "c" if calls_c == 0 else "d"
        return (
            f"{seen} backward() never called the _backward of the grader's node {never}: it must reach every node "
            "through the _children the constructor stores (the grader builds its nodes with Value(data, children, op), "
            "so __init__ keeps the children it is given)."
        )
    if calls_c != 1 or calls_d != 1:
        return (
            f"{seen} backward() called the _backward of the grader's node c {calls_c} times and of d {calls_d} "
            "times: each node's _backward runs exactly once, after every node that uses it (reverse topological order)."
        )
    if early:
        return (
            f"{seen} backward() called each of the grader's nodes' _backward once, but before all of dloss/dnode "
            f"had arrived in its grad: {'; '.join(early)}. {GRADIENT_HINT}"
        )
    right_upstreams = f"{seen} Each of the grader's nodes' _backward ran once, with the right gradient in its grad"
    if "a" not in {line.split(".")[0] for line in wrong}:  # b gets gradient only from the grader's two nodes
        return (
            f"{right_upstreams}, and b gets its gradient only from them (c and d): something other than the "
            "_backward functions changed b.grad. backward() sets the root's grad to 1 and calls the _backward "
            "functions; that is all it does to the gradients."
        )
    return (
        f"{right_upstreams}, so the mistake is in your operations around them (s = c + a and loss = d + a; a is "
        f"used by c, s and loss, so its grad collects three contributions). {GRADIENT_HINT}"
    )


def _number_against(actual, wanted: float) -> str:
    """ "1, expected -1.023": six significant digits, or every digit when those look the same."""
    if not isinstance(actual, (int, float)) or isinstance(actual, bool):
        return f"{describe(actual)}, expected {wanted:.6g}"
    if f"{actual:.6g}" == f"{wanted:.6g}":
        return f"{actual!r}, expected {wanted!r}"
    return f"{actual:.6g}, expected {wanted:.6g}"


def _backpropagation_problem(student) -> tuple[str, str]:
    problem = _grader_nodes_problem(student)
    if problem:
        return "rules", problem
    values = _wide_values()
    kind, problem = _wide_run(student, values, chain=True)
    if kind == "recursion":  # a recursive sort is the deep-graph check's point: time a shallow graph
        kind, problem = _wide_run(student, values, chain=False)
    return ("", "") if kind == "recursion" else (kind, problem)


def expect_backpropagation(student, prefix: str, wrong_too: bool = False) -> None:
    """Every value check credits gradients only when backward() is backpropagation: it sends the
    gradient through the grader's own nodes, and has backpropagation's cost (checked once each, on
    their graphs); with `wrong_too`, also when its gradients on the wide graph are right (the
    wide-graph check itself: a bug that shows only there costs only that check)."""
    kind, problem = memo("backpropagation", student, _backpropagation_problem)
    if kind in ("cost", "rules") or (kind and wrong_too):
        raise CheckFailed(" ".join(part for part in ("Value:", prefix, problem) if part))


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


LECTURE_GRAPH = [
    ("leaf", -2.0),
    ("leaf", 5.0),
    ("leaf", -4.0),
    ("add", ("node", 0), ("node", 1)),
    ("mul", ("node", 3), ("node", 2)),
]


@question("value", points=0.5, visibility="visible")
def test_value_lecture_example(student):
    """f = (x + y) * z at the lecture's point: data, gradients, and grad stored by backward()"""
    check_graph(student, LECTURE_GRAPH, "(a + b) * c", stored=True)


DIAMOND = [
    ("leaf", 0.7),
    ("tanh", ("node", 0)),
    ("mul", ("node", 1), ("num", 2.0)),
    ("exp", ("node", 1)),
    ("add", ("node", 2), ("node", 3)),
    ("mul", ("node", 4), ("node", 1)),
]
RELU_AT_ZERO = "relu's derivative is 1 only where the input is > 0; at exactly 0 it is 0 (the notebook)."


@question("value", points=0.75)
def test_value_each_operation(student, rng):
    """each operation on its own: data, gradient, grad stored by backward(); relu at exactly 0"""
    a, b = float(rng.uniform(0.5, 2.0)), float(-rng.uniform(0.5, 2.0))
    cases = each_operation(a, b)
    for graph in cases:
        check_graph(student, graph, ref.describe(graph), stored=True)
    # at the kink the numerical derivative is 0.5; the notebook says 1 only for inputs > 0
    check_graph(student, single("relu", 0.0), "a.relu()", expected_grads=[0.0], hints={0: (1.0, RELU_AT_ZERO)})


def each_operation(a: float, b: float) -> list:
    """One graph per operation; ** on its own before / (a __truediv__ may compute with **)."""
    return [single(op, a, b) for op in ("add", "sub", "mul")] + [
        single("pow", a, ("num", 3)),
        single("pow", a, ("num", -0.5)),
        single("truediv", a, b),
        single("neg", b),
        single("exp", b),
        single("log", a),
        single("tanh", b),
        single("relu", a),
        single("relu", b),
        single("sigmoid", b),
    ]


@question("value", points=0.25)
def test_value_large_inputs(student):
    """tanh() and sigmoid() stay finite for inputs as large as +-1000, with backpropagation's gradients"""
    check_large_inputs(student)


def check_large_inputs(student) -> None:
    """tanh and sigmoid at +-1000, +-400 (finite, gradient 0) and +-10 (exact gradients)."""
    for op in ("tanh", "sigmoid"):
        for x in (1000.0, -1000.0, 400.0, -400.0, 10.0, -10.0):
            graph = single(op, x)
            try:  # at +-10 the gradient (8e-9, 4.5e-5) must be exact: a difference quotient is not there
                check_graph(student, graph, f"a.{op}()", expected_grads=None if abs(x) == 10 else [0.0])
            except CheckFailed as failure:
                text = str(failure)
                if not ("Overflow" in text or " nan" in text or " inf" in text):
                    raise
                raise CheckFailed(
                    f"a.{op}() at a = {x:g}: {text} The notebook asks for finite values and gradients for inputs "
                    "as large as +-1000: this "
                    "overflowed; an exp of a large positive number does (math.tanh does not; exp(-|x|) never overflows)."
                ) from None


NUMBERS_ON_THE_LEFT = (("add", 2.0, "+"), ("mul", 2.0, "*"), ("sub", 1.0, "-"), ("truediv", 3.0, "/"))


@question("value", points=0.5)
def test_value_numbers_on_the_left(student, rng):
    """plain numbers on the left: 2 + v, 2 * v, 1 - v, 3 / v"""
    a = float(rng.uniform(0.5, 2.0))
    for op, number, _ in NUMBERS_ON_THE_LEFT:
        graph = single(op, ("num", number), a)
        try:
            check_graph(student, graph, ref.describe(graph))
        except CheckFailed as failure:
            reflected = {"add": "__radd__", "mul": "__rmul__", "sub": "__rsub__", "truediv": "__rtruediv__"}[op]
            symbol = "+*-/"[("add", "mul", "sub", "truediv").index(op)]
            try:  # the hint names the reflected method only when the operation between two Values works
                check_graph(student, single(op, number, a), f"Value({number:g}) {symbol} a")
            except CheckFailed:
                raise failure from None
            todo = "define it" if "unsupported operand" in str(failure) else "check it"
            raise CheckFailed(
                f"{failure} Python runs {number:g} {symbol} v as v.{reflected}({number:g}): {todo}."
            ) from None


@question("value", points=0.75)
def test_value_random_graphs(student, rng):
    """random expression graphs with shared subexpressions: data and every gradient"""
    generator = python_rng(rng)
    for index in range(20):
        check_graph(student, ref.random_graph(generator), "a random expression", stored=index < 2)


@question("value", points=0.25)
def test_value_reused_nodes_accumulate(student):
    """a node used more than once collects gradient from every use (+=)"""
    check_graph(
        student, [("leaf", 3.0), ("mul", ("node", 0), ("node", 0)), ("add", ("node", 1), ("node", 0))], "a * a + a"
    )
    check_graph(student, DIAMOND, "a diamond-shaped graph")


@question("value", points=0.5)
def test_value_deep_graph(student):
    """backward on a chain of 20,000 operations, without recursion (Python's default recursion limit)"""
    check_deep_chain(student)
    expect_backpropagation(student, "the chain's gradient is right, but")


def check_deep_chain(student) -> None:
    """backward() on a chain of 20,000 operations under Python's default recursion limit: right and exact."""
    depth = 20_000
    chain = [("leaf", 0.5)]
    for _ in range(depth // 2):
        chain.append(("mul", ("node", len(chain) - 1), ("num", 1.0001)))
        chain.append(("add", ("node", len(chain) - 1), ("num", 0.0)))
    program = Program("Value", max_depth=DEPTH_LIMIT)
    nodes = ref.build(chain, program)
    program.method(nodes[-1], "backward")
    data, grad, root_grad = run_values(
        student,
        program,
        [program.get(nodes[-1], "data"), program.get(nodes[0], "grad"), program.get(nodes[-1], "grad")],
        timeout=60,
    )
    expect_python_floats([("data", data), ("a.grad", grad)], "Value: after backward() on a chain of 20,000 operations")
    expect_number(data, 0.5 * 1.0001 ** (depth // 2), "Value: data at the end of the chain")
    hint = GRADIENT_HINT
    if grad == 0 and root_grad == 0:
        hint = f"After backward() the root's own grad is 0, and so is the first node's: {ROOT_GRAD_RULE}"
    expect_number(grad, 1.0001 ** (depth // 2), "Value: grad of the first node of the chain", hint)
    check_exact(chain, [grad], "the chain of 20,000 operations (a * 1.0001 + 0.0, repeated)")


@question("value", points=0.5)
def test_value_wide_graph(student):
    """backward() on a graph of 20,000 leaves finishes within 60 s (backpropagation: each node once)"""
    expect_backpropagation(student, "", wrong_too=True)


# ------------------------------------------------------------------------------------- neuron_mlp
def _parameter_count(student, nin, nouts) -> int:
    program = Program("MLP")
    model = program.call("MLP", nin, list(nouts))
    count = program.op("length_hint", program.method(model, "parameters"))
    return student_call(student.run, program, [count])[0]


def check_mlp_returns_lists(student) -> None:
    """MLP(3, [4, 4, 1]) and Layer(3, 1) return a list of one output (the notebook: a list even
    when there is one)."""
    for made, label, what in (
        ("MLP", (3, [4, 4, 1]), "calling an MLP returns the list of the last layer's outputs"),
        ("Layer", (3, 1), "calling a Layer returns the list of its neurons' outputs"),
    ):
        program = Program(made)
        out = program.method(program.call(made, *label), "__call__", [1.0, -2.0, 0.5])
        kind = program.get(program.get(out, "__class__"), "__name__")
        length = program.op("length_hint", out, -1)
        kind, length = student_call(student.run, program, [kind, length])
        if kind != "list" or length != 1:
            arguments = ", ".join(map(str, label))
            raise CheckFailed(
                f"{made}({arguments})([1.0, -2.0, 0.5]) returned a {kind}"
                + (f" of {length} items" if length >= 0 else "")
                + f", expected a list of 1 Value: {what}, even when there is one (the notebook)."
            )


@question("neuron_mlp", points=0.5, visibility="visible")
def test_mlp_parameter_count_example(student):
    """MLP(3, [4, 4, 1]) has 41 parameters; it and Layer(3, 1) return a list of one output"""
    count = _parameter_count(student, 3, [4, 4, 1])
    if count != 41:
        raise CheckFailed(
            f"MLP(3, [4, 4, 1]).parameters() has {count} items, expected 41 (every neuron: its weights and its bias)."
        )
    check_mlp_returns_lists(student)


@question("neuron_mlp", points=0.25)
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


def initial_parameters(student, nin: int, nouts: list[int], seed: int) -> list:
    """The data of a fresh MLP(nin, nouts, seed)'s parameters(), in order."""
    count = _parameter_count(student, nin, nouts)
    expected = ref.param_count(nin, nouts)
    if count != expected:
        raise CheckFailed(f"MLP({nin}, {nouts}).parameters() has {count} items, expected {expected}.")
    program = Program("MLP")
    parameters = program.method(program.call("MLP", nin, list(nouts), seed), "parameters")
    return student_call(student.run, program, [program.get(program.item(parameters, k), "data") for k in range(count)])


def _position(k: int, nin: int, nouts: list[int]) -> str:
    sizes = [nin, *nouts]
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if k < fan_out * (fan_in + 1):
            neuron, index = divmod(k, fan_in + 1)
            part = "its bias" if index == fan_in else f"weight {index}"
            return f"layer {layer}, neuron {neuron}, {part}"
        k -= fan_out * (fan_in + 1)
    return "?"


def check_initialisation(student, nin: int, nouts: list[int], seed: int) -> None:
    """A fresh MLP's parameters are the notebook's initialisation (ref.init_parameters); when not,
    say what was observed, and name a mistake only when its replay matches."""
    actual = initial_parameters(student, nin, nouts, seed)
    expected = ref.init_parameters(nin, nouts, seed)
    if all_match(actual, expected, 1e-12):
        return
    made = f"MLP({nin}, {nouts}, seed={seed}).parameters()"
    expect_python_floats([(f"parameter {k}'s data", v) for k, v in enumerate(actual)], made)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in actual):
        raise CheckFailed(f"{made}: every parameter's data must be a finite float.")
    for mistake, candidate in ref.init_candidates(nin, nouts, seed).items():
        if all_match(actual, candidate, 1e-12):
            raise CheckFailed(
                f"{made} are not the notebook's initialisation; they are exactly what this gives: {mistake}."
            )
    sizes, position, observations = [nin, *nouts], 0, []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        rows = [actual[position + j * (fan_in + 1) : position + (j + 1) * (fan_in + 1)] for j in range(fan_out)]
        position += fan_out * (fan_in + 1)
        biases = [row[-1] for row in rows]
        if any(b != 0 for b in biases):
            j = next(j for j, b in enumerate(biases) if b != 0)
            observations.append(f"the bias of layer {layer}, neuron {j} is {biases[j]:.6g}, but every bias starts at 0")
        if fan_out > 1 and all(row[:-1] == rows[0][:-1] for row in rows):
            observations.append(
                f"every neuron of layer {layer} has the same weights, but each neuron draws its own from the "
                "MLP's one rng, in turn"
            )
        weights = [w for row in rows for w in row[:-1]]
        if any(abs(w) > 1 for w in weights):
            observations.append(f"a weight of layer {layer} is {max(weights, key=abs):.6g}, outside [-1, 1]")
        elif len(weights) > 1 and len(set(weights)) == 1:
            observations.append(
                f"every weight of layer {layer} is {weights[0]:.6g}, but weights are uniform in [-1, 1]"
            )
    if not observations and sorted(actual) == sorted(expected):
        observations.append(
            "these are the right numbers in another order: parameters() lists layer by layer, neuron by neuron, "
            "each neuron's weights, then its bias"
        )
    k = next(k for k, (a, e) in enumerate(zip(actual, expected)) if not matches(a, e, 1e-12))
    first = f"parameter {k} ({_position(k, nin, nouts)}) is {actual[k]:.6g}, expected {expected[k]:.6g}"
    raise CheckFailed(
        f"{made}: {first}"
        + (f"; {'; '.join(observations)}" if observations else "")
        + ". The notebook's initialisation: MLP makes one random.Random(seed) and hands it to each Layer, which "
        "hands it to each Neuron in turn; each neuron draws its nin weights with rng.uniform(-1, 1), in order; "
        "every bias is 0."
    )


@question("neuron_mlp", points=0.5)
def test_mlp_initialisation(student, rng):
    """a fresh MLP's parameters are the notebook's initialisation, in parameters() order"""
    check_initialisation(student, 2, [3, 1], int(rng.integers(0, 1000)))
    check_initialisation(student, 3, [4, 2, 2], int(rng.integers(0, 1000)))


MLP_MISTAKES = {
    "tanh on the last layer too: tanh in every layer but the last, which is linear": {"last": "tanh"},
    "relu instead of tanh in the hidden layers": {"hidden": "relu"},
    "no bias in the sum: each neuron computes tanh(w . x + b)": {"bias": False},
    "no tanh anywhere: every layer linear (tanh in every layer but the last)": {"hidden": "linear"},
}


def check_mlp_forward(student, rng) -> None:
    """MLP(3, [4, 2]) with the grader's parameter values: outputs and every parameter's gradient."""
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
    seen = [program.get(loss, "grad"), *(program.get(o, "grad") for o in outs)]
    results = student_call(
        student.run,
        program,
        [*(program.get(o, "data") for o in outs), *(program.get(s, "grad") for s in slots), *seen],
    )
    root_grad, out_grads = results[-len(seen)], results[-len(seen) + 1 :]
    results = results[: -len(seen)]
    expect_python_floats(
        [
            *((f"output {k}'s data", v) for k, v in enumerate(results[: nouts[-1]])),
            *((f"parameter {k}'s grad", g) for k, g in enumerate(results[nouts[-1] :])),
        ],
        "MLP",
    )
    expected_out = ref.mlp_forward(values, nin, nouts, x)
    for k, (actual, expected) in enumerate(zip(results[: nouts[-1]], expected_out)):
        hint = "(the grader set the parameters' data through parameters(): per neuron, weights then bias)."
        for mistake, options in MLP_MISTAKES.items():
            if matches(actual, ref.mlp_forward_variant(values, nin, nouts, x, **options)[k], 1e-9):
                hint = f"It is what this mistake gives: {mistake}."
        expect_number(actual, expected, f"MLP output {k}", hint)

    def loss_at(vector):
        return sum(u * o for u, o in zip(upstream, ref.mlp_forward(vector, nin, nouts, x)))

    h = 1e-6
    hint = GRADIENT_HINT
    if all(isinstance(g, (int, float)) and g == 0 for g in results[nouts[-1] :]):
        if isinstance(root_grad, (int, float)) and root_grad == 0:
            hint = (
                "Every parameter's grad is 0 after loss.backward(), and so is the loss's own grad: backward() must "
                "set the root's own grad to 1 before calling the _backward functions (question value)."
            )
        elif all_match(out_grads, upstream, 1e-12):
            hint = (
                "Every parameter's grad is 0 after loss.backward(), though the MLP's outputs got theirs "
                f"({', '.join(f'{g:g}' for g in out_grads)}): the gradient stops at the outputs. The MLP's forward "
                "must compute with Values (w * x + b and tanh() on Values, not on their .data) so that backward() "
                "reaches the parameters."
            )
    for k, actual in enumerate(results[nouts[-1] :]):
        plus, minus = list(values), list(values)
        plus[k] += h
        minus[k] -= h
        expect_number(actual, (loss_at(plus) - loss_at(minus)) / (2 * h), f"MLP: grad of parameter {k}", hint)


@question("neuron_mlp", points=0.75)
def test_mlp_forward_and_backward(student, rng):
    """an MLP with the grader's parameters: outputs and every parameter's gradient"""
    try:
        check_mlp_forward(student, rng)
    except CheckFailed as failure:  # the notebook: a Value that fails its own checks is named first
        problem = memo("value", student, _value_problem)
        if problem:
            raise CheckFailed(
                f"The MLP computes with your Value, which fails its own checks ({problem}): fix value first. {failure}"
            ) from None
        raise


# ---------------------------------------------------------------------------------------- training
XOR = ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [-1.0, 1.0, 1.0, -1.0])
TRAJECTORY_RTOL = 1e-6  # the Value engine and the numpy replay agree to ~1e-14 over 150 steps


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

    def not_float(items) -> str:
        bad = next((k for k, v in enumerate(items) if not isinstance(v, (int, float))), None)
        if bad is None:
            return ""
        return f", item {bad} is {describe(items[bad])} (floats: p.data and loss.data, not the Values)"

    if not isinstance(values, list) or len(values) != count or not_float(values):
        extra = not_float(values) if isinstance(values, list) else ""
        raise CheckFailed(f"train: parameter_values must be a list of {count} floats, got {describe(values)}{extra}.")
    if not isinstance(losses, list) or len(losses) != steps or not_float(losses):
        extra = not_float(losses) if isinstance(losses, list) else ""
        raise CheckFailed(
            f"train: loss_history must be a list of {steps} floats (one per step), got {describe(losses)}{extra}."
        )
    return values, losses


MISTAKE_WORDS = {
    "never_zeroed": "grads that are never set to 0 (each backward() adds to the grads of the steps before): "
    "set every parameter's grad to 0 before each backward()",
    "plus": "the update p.data += learning_rate * p.grad: the update is p.data -= learning_rate * p.grad "
    "(minus, not plus)",
    "per_point_sum": "one update per point (stochastic gradient descent): the notebook asks for one update per step, "
    "on the mean loss over all the points (full batch)",
    "last_layer_only": "updating only the last layer's parameters: update every parameter of model.parameters()",
}
MISTAKE_WORDS["per_point_mean"] = MISTAKE_WORDS["per_point_sum"]


def _value_problem(student) -> str:
    """The value question's checks on a fixed set of graphs that uses every operation the notebook
    asks for (so a Value bug gates training the same way in every test and every grading), and
    backpropagation's cost: "" when they pass, else the first failure."""
    graphs = [
        (LECTURE_GRAPH, "(a + b) * c"),
        *((graph, ref.describe(graph)) for graph in each_operation(1.3, -0.7)),
        *((single(op, ("num", n), 1.3), f"{n:g} {symbol} a") for op, n, symbol in NUMBERS_ON_THE_LEFT),
        ([("leaf", 3.0), ("mul", ("node", 0), ("node", 0)), ("add", ("node", 1), ("node", 0))], "a * a + a"),
        (DIAMOND, "a diamond-shaped graph"),
        *((ref.random_graph(random.Random(k)), "a random expression") for k in range(3)),
    ]
    try:
        for graph, label in graphs:
            check_graph(student, graph, label)
        for graph in REUSED_INPUTS:
            check_graph(student, graph, ref.describe(graph))
        check_graph(student, single("relu", 0.0), "a.relu()", expected_grads=[0.0], hints={0: (1.0, RELU_AT_ZERO)})
        check_large_inputs(student)  # red team round 5: an overflowing tanh kept training's points
        check_deep_chain(student)
    except CheckFailed as failure:
        return str(failure)
    return ""


# The same operation applied twice to one input, for each operation of one input: a _backward that
# assigns (=) instead of adding (+=) loses one of the two (red team round 4: `=` in relu or pow alone
# passed the training gate).
REUSED_INPUTS = [
    [("leaf", 1.3), (op, ("node", 0), *rest), (op, ("node", 0), *rest), ("add", ("node", 1), ("node", 2))]
    for op, rest in (
        ("relu", ()),
        ("tanh", ()),
        ("exp", ()),
        ("log", ()),
        ("sigmoid", ()),
        ("pow", (("num", 3),)),
        ("neg", ()),
    )
]


def _mlp_problem(student) -> str:
    """The neuron_mlp question's checks, on fixed sizes and seeds: "" when they pass."""
    try:
        check_mlp_returns_lists(student)
        check_initialisation(student, 2, [8, 1], 0)
        check_mlp_forward(student, np.random.default_rng(0))
    except CheckFailed as failure:
        return str(failure)
    return ""


def _dependencies(student) -> str:
    """What train builds on, checked with the grader's own tests (once per grading): a sentence
    naming the first question that fails, or ""."""
    problem = memo("value", student, _value_problem)
    if problem:
        return f"train uses your Value, which fails its own checks ({problem}): fix value first."
    problem = memo("neuron_mlp", student, _mlp_problem)
    if problem:
        return f"train starts from your MLP, which fails its own checks ({problem}): fix neuron_mlp first."
    return ""


SUM_WORDS = (
    "That is {n} times the loss, the number of points: L is the mean of the squared errors over the points "
    "(divide the sum by N), not their sum."
)


def _sum_hint(student, xs, ys, nouts, learning_rate, seed) -> str:
    """When train failed outright (a sum's larger steps can overflow): one step, and name the sum of
    the squared errors only when loss_history[0] is N times the loss."""
    try:
        _, losses = _train(student, xs, ys, nouts, 1, learning_rate, seed)
    except CheckFailed:
        return ""
    right = ref.train_replay(xs, ys, list(nouts), 1, learning_rate, seed)[1][0]
    if matches(losses[0], len(ys) * right, TRAJECTORY_RTOL):
        return f"With steps=1, loss_history[0] is {losses[0]:.6g}. {SUM_WORDS.format(n=len(ys))}"
    return ""


def _diagnosis(student, xs, ys, nouts, learning_rate, seed) -> str:
    """Train again for 3 steps and compare with the grader's replays of known mistakes (few steps:
    the replays stay numerically comparable); a mistake is named only when its replay matches."""
    steps = 3
    try:
        values, losses = _train(student, xs, ys, nouts, steps, learning_rate, seed)
    except CheckFailed:
        return ""
    right_values, right_losses = ref.train_replay(xs, ys, list(nouts), steps, learning_rate, seed)
    if all_match(values, right_values, TRAJECTORY_RTOL) and all_match(losses, right_losses[1:], TRAJECTORY_RTOL):
        return (
            "Your loss_history matches the grader's replay of recording the loss after each update: "
            "record the loss of each step before the update (the loss at the parameters the step starts from)."
        )
    initial = ref.init_parameters(len(xs[0]), list(nouts), seed)
    if all_match(values, initial, TRAJECTORY_RTOL):
        if all_match(losses, right_losses[:steps], TRAJECTORY_RTOL):
            return "The returned parameters are the initial ones: return the trained parameters' data."
        return (
            "The parameters never changed from the initial ones: is every parameter updated in every step "
            "(p.data -= learning_rate * p.grad)?"
        )
    if all_match(losses, [right_losses[0]] * steps, TRAJECTORY_RTOL):
        return (
            f"Every loss of loss_history[:{steps}] is the loss at the initial parameters, though the returned "
            "parameters changed: does each step start from a fresh MLP(...)? Make the model once, before the loop."
        )
    for mistake in ref.MISTAKES:
        candidate, _ = ref.train_replay(xs, ys, list(nouts), steps, learning_rate, seed, mistake)
        if all_match(values, candidate, TRAJECTORY_RTOL):
            return f"Over 3 steps your train matches the grader's replay of {MISTAKE_WORDS[mistake]}."
    return ""


def check_training(student, xs, ys, nouts, steps, learning_rate, seed, data: str) -> None:
    """train follows full-batch gradient descent from the notebook's initialisation, step by step:
    its loss_history and its returned parameters match the grader's numpy replay. train builds on
    Value and MLP: when they fail their own checks, no training points (the notebook says so)."""
    dependency = _dependencies(student)
    if dependency:
        raise CheckFailed(
            f"{dependency} The notebook: training points need your Value and MLP to pass their own checks "
            "(train must use your engine)."
        )
    try:
        values, losses = _train(student, xs, ys, nouts, steps, learning_rate, seed)
    except CheckFailed as failure:
        raise CheckFailed(f"{failure} {_sum_hint(student, xs, ys, nouts, learning_rate, seed)}".rstrip()) from None
    right_values, right_losses = ref.train_replay(xs, ys, list(nouts), steps, learning_rate, seed)
    if all_match(values, right_values, TRAJECTORY_RTOL) and all_match(losses, right_losses[:steps], TRAJECTORY_RTOL):
        return
    call = f"train({data}, nouts={tuple(nouts)}, steps={steps}, learning_rate={learning_rate}, seed={seed})"
    if not matches(losses[0], right_losses[0], TRAJECTORY_RTOL):
        observed = (
            f"{call}: loss_history[0] is {losses[0]:.6g}, but the loss at the initial parameters "
            f"(MLP({len(xs[0])}, {list(nouts)}, seed={seed})) is {right_losses[0]:.6g}."
        )
        if matches(losses[0], len(ys) * right_losses[0], TRAJECTORY_RTOL):
            observed += f" {SUM_WORDS.format(n=len(ys))}"
    else:
        k = next((k for k in range(steps) if not matches(losses[k], right_losses[k], TRAJECTORY_RTOL)), None)
        if k is not None:
            observed = (
                f"{call}: loss_history[{k}] is {losses[k]:.6g}, but after {k} steps of full-batch gradient descent "
                f"from the initial parameters the loss is {right_losses[k]:.6g} (loss_history[:{k}] agrees)."
            )
        else:
            j = next(j for j in range(len(values)) if not matches(values[j], right_values[j], TRAJECTORY_RTOL))
            observed = (
                f"{call}: loss_history agrees with the grader's replay, but the returned parameter {j} is "
                f"{values[j]:.6g}, expected {right_values[j]:.6g} after {steps} steps (return the trained "
                "parameters' data in parameters() order)."
            )
    diagnosis = _diagnosis(student, xs, ys, nouts, learning_rate, seed)
    raise CheckFailed(" ".join(part for part in (observed, diagnosis) if part))


@question("training", points=0.5, visibility="visible")
def test_train_xor_seed_0(student):
    """train on XOR (seed 0) follows full-batch gradient descent from the initial parameters, step by step"""
    check_training(student, *XOR, (8, 1), 150, 0.1, 0, "XOR")


@question("training", points=1.25)
def test_train_xor(student, rng):
    """train on XOR with other seeds: loss history and trained parameters match the grader's replay"""
    check_training(student, *XOR, (8, 1), 150, 0.1, int(rng.integers(1, 1000)), "XOR")


@question("training", points=1.25)
def test_train_moons(student, rng):
    """train on two moons (other points, other seeds): loss history and trained parameters match the replay"""
    generator = python_rng(rng)
    xs, ys = ref.moons(15, generator)
    check_training(student, xs, ys, (8, 1), 150, 0.1, int(rng.integers(0, 1000)), "two moons (30 points)")
