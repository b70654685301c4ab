from otter.test_files import test_case

OK_FORMAT = False

name = "value"
points = 4

@test_case(points=None, hidden=False)
def test_value_lecture_example(Value):
    from nn_checks import CheckFailed, expect_number
    x, y, z = (Value(-2.0), Value(5.0), Value(-4.0))
    f = (x + y) * z
    f.backward()
    expect_number(f.data, -12.0, 'Value: data of ((a + b) * c)')
    for name, node, expected in (('a', x, -4.0), ('b', y, -4.0), ('c', z, 3.0)):
        expect_number(node.grad, expected, f'Value: d/d{name} of ((a + b) * c) at a = -2, b = 5, c = -4')
        if abs(node.grad - expected) > 1e-12 * abs(expected):
            raise CheckFailed(f'Value: d/d{name} of ((a + b) * c) at a = -2, b = 5, c = -4 is {node.grad!r}, but backpropagation (the chain rule, exactly) gives {expected!r}: close, but not equal, as finite differences are. The notebook: grad is what backward() computes by backpropagation (relative error 1e-12).')
    x.data, y.data, z.data = (1.0, 2.0, 3.0)
    for name, node, expected in (('a', x, -4.0), ('b', y, -4.0), ('c', z, 3.0)):
        if node.grad != expected:
            raise CheckFailed(f"Value: after ((a + b) * c).backward(), changing the leaves' data changed {name}.grad from {expected!r} to {node.grad!r}. grad must be the number backward() stored by backpropagation, not computed when it is read.")
    x.grad = 0.0
    if x.grad != 0.0:
        raise CheckFailed(f'Value: a.grad = 0.0 left a.grad at {x.grad!r}: grad must be a plain attribute.')

@test_case(points=None, hidden=False)
def test_value_operations(Value):
    import math
    from nn_checks import CheckFailed, expect_number

    def f(v):
        return (2 * v - 1) / (v ** 2 + 1) + v.exp().log() + v.tanh() * v.relu() + (1 - v.sigmoid()) - -v * 0.5 + 3 / (1 + v)
    a = Value(1.5)
    b = f(a)
    b.backward()

    def plain(v):
        return (2 * v - 1) / (v ** 2 + 1) + v + math.tanh(v) * v + (1 - 1 / (1 + math.exp(-v))) + v * 0.5 + 3 / (1 + v)
    expression = '(2a - 1) / (a**2 + 1) + a.exp().log() + a.tanh() * a.relu() + (1 - a.sigmoid()) - (-a) * 0.5 + 3 / (1 + a)'
    expect_number(b.data, plain(1.5), f'Value: data of {expression} at a = 1.5')
    numeric = (plain(1.5 + 1e-06) - plain(1.5 - 1e-06)) / 2e-06
    expect_number(a.grad, numeric, f'Value: d/da of {expression} at a = 1.5')
    v, t, s = (1.5, math.tanh(1.5), 1 / (1 + math.exp(-1.5)))
    exact = (2 * (v ** 2 + 1) - (2 * v - 1) * 2 * v) / (v ** 2 + 1) ** 2 + 1 + (1 - t ** 2) * v + t - s * (1 - s) + 0.5
    exact -= 3 / (1 + v) ** 2
    if abs(a.grad - exact) > 1e-12 * max(1.0, abs(exact)):
        raise CheckFailed(f'Value: d/da of {expression} at a = 1.5 is {a.grad!r}, but backpropagation (the chain rule, exactly) gives {exact!r}: close, but off by {abs(a.grad - exact) / max(1.0, abs(exact)):.2g}, as finite differences are. The notebook: grad is what backward() computes by backpropagation (relative error 1e-12).')

@test_case(points=None, hidden=False)
def test_value_shared_node_and_relu_at_zero(Value):
    import math
    from nn_checks import expect_number
    x = Value(3.0)
    y = x * x + x
    y.backward()
    expect_number(x.grad, 7.0, 'Value: d/da of ((a * a) + a) at a = 3', 'A node used twice collects gradient from both uses (+=).')
    b = Value(2.0)
    ((b + 1.0) * (b + 2.0)).backward()
    expect_number(b.grad, 7.0, 'Value: d/da of ((a + 1.0) * (a + 2.0)) at a = 2', 'Each use adds its gradient (+=), in every operation.')
    a = Value(0.7)
    t = a.tanh()
    out = (t * 2.0 + t.exp()) * t
    out.backward()
    tanh, dt = (math.tanh(0.7), 1 - math.tanh(0.7) ** 2)
    expect_number(a.grad, (4 * tanh + math.exp(tanh) * tanh + math.exp(tanh)) * dt, 'Value: d/da of a diamond-shaped graph ((t * 2 + t.exp()) * t with t = a.tanh()) at a = 0.7', "Each node's _backward runs once, after every node that uses it (reverse topological order).")
    z = Value(0.0)
    z.relu().backward()
    expect_number(z.grad, 0.0, 'Value: d/da of a.relu() at a = 0', "relu's derivative is 1 only where the input is > 0.")

@test_case(points=None, hidden=False)
def test_value_large_inputs(Value):
    import math
    from nn_checks import CheckFailed, expect_number
    for op in ('tanh', 'sigmoid'):
        for x in (1000.0, -1000.0):
            a = Value(x)
            try:
                out = getattr(a, op)()
                out.backward()
            except OverflowError as error:
                raise CheckFailed(f'Value: a.{op}() at a = {x:g} raised OverflowError ({error}). The notebook asks for finite values and gradients for inputs as large as +-1000: an exp of a large positive number overflows.') from None
            expected = (1.0 if x > 0 else -1.0) if op == 'tanh' else 1.0 if x > 0 else 0.0
            expect_number(out.data, expected, f'Value: data of a.{op}() at a = {x:g}', 'It must be finite for inputs as large as +-1000.')
            expect_number(a.grad, 0.0, f'Value: d/da of a.{op}() at a = {x:g}', 'It must be finite for inputs as large as +-1000.')

@test_case(points=None, hidden=False)
def test_value_deep_chain_without_recursion(Value):
    import sys
    from nn_checks import CheckFailed, expect_number
    x = Value(0.5)
    y = x
    for _ in range(2500):
        y = y * 1.0001 + 0.0
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        try:
            y.backward()
        except RecursionError as error:
            raise CheckFailed(f'Value: backward() on a chain of 5,000 operations raised RecursionError ({error}). Build the topological order with a loop and an explicit stack, not recursion.') from None
        changed = sys.getrecursionlimit() != 1000
    finally:
        sys.setrecursionlimit(saved)
    if changed:
        raise CheckFailed("Value: backward() changed Python's recursion limit (sys.setrecursionlimit); the autograder checks it under the default limit: build the topological order without recursion.")
    expect_number(x.grad, 1.0001 ** 2500, 'Value: grad of the first node of the chain')

@test_case(points=None, hidden=False)
def test_value_wide_graph(Value):
    import random
    import time
    from nn_checks import CheckFailed
    rng = random.Random(0)
    leaves = [Value(round(rng.uniform(0.5, 2.0) * rng.choice((-1, 1)), 3)) for _ in range(4000)]
    products = [leaves[i] * leaves[i + 1] for i in range(0, 4000, 2)]
    loss = products[0]
    for product in products[1:]:
        loss = loss + product
    start = time.perf_counter()
    try:
        loss.backward()
    except RecursionError:
        while len(products) > 1:
            products = [sum(products[i + 1:i + 2], products[i]) for i in range(0, len(products), 2)]
        loss = products[0]
        start = time.perf_counter()
        loss.backward()
    seconds = time.perf_counter() - start
    if seconds > 3.0:
        raise CheckFailed(f'Value: backward() on a graph of 4,000 leaves (loss = a1*b1 + ... + a2000*b2000) did not finish within 3 s (it took {seconds:.1f} s). Backpropagation visits each node once (a few milliseconds here); a method that re-evaluates the graph once per leaf (finite differences, a complex step) makes 4,000 passes. The autograder builds 20,000 leaves and allows backward() 60 s (the notebook).')
    for i in range(0, 4000, 97):
        other = leaves[i + 1 if i % 2 == 0 else i - 1].data
        if leaves[i].grad != other:
            raise CheckFailed(f'Value: after backward() on loss = a1*b1 + ... + a2000*b2000, the grad of leaf {i} is {leaves[i].grad!r}, expected the other factor of its product, {other!r}.')

@test_case(points=None, hidden=False)
def test_value_grader_nodes(Value):
    from nn_checks import CheckFailed

    def grader_node(data, children, local_grads):
        out = Value(data, tuple(children), 'grader')

        def _backward():
            for child, local in zip(children, local_grads):
                child.grad += local * out.grad
        out._backward = _backward
        return out
    a, b = (Value(0.5), Value(-1.5))
    c = grader_node(2.0, (a, b), (3.0, -0.5))
    s = c + a
    d = grader_node(-1.0, (s, b), (1.5, 2.0))
    loss = d + a
    loss.backward()
    wrong = [f'{name}.grad is {node.grad!r}, expected {expected!r}' for name, node, expected in (('a', a, 7.0), ('b', b, 1.25)) if not (isinstance(node.grad, (int, float)) and abs(node.grad - expected) <= 1e-12 * abs(expected))]
    if wrong:
        raise CheckFailed(f"Value: backward() did not send the gradient through nodes made as the autograder makes its own (Value(data, children, 'grader') with a _backward that adds its own local gradients: c from a and b with dc/da = 3, dc/db = -0.5; s = c + a; d from s and b with dd/ds = 1.5, dd/db = 2; loss = d + a; then loss.backward()): {'; '.join(wrong)}. backward() calls every node's _backward, in reverse topological order, and may rely only on _children and _backward (the notebook).")

