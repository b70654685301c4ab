from otter.test_files import test_case

OK_FORMAT = False

name = "linear"
points = 4

@test_case(points=None, hidden=False)
def test_linear_forward(linear_forward, np):
    from nn_checks import expect_close, expect_tuple
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    W = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -1.0], [0.0, 2.0, 1.0, 0.0]])
    b = np.array([0.1, -0.2, 0.3, 0.0])
    out, _ = expect_tuple(linear_forward(x, W, b), 2, 'linear_forward', 'out, cache')
    expected = np.array([[2.1, 7.8, 2.3, 0.0], [-0.65, 4.3, 3.3, -2.5]])
    expect_close(out, expected, 'linear_forward', 'out', hints={'Add the bias b.': x @ W})

@test_case(points=None, hidden=False)
def test_linear_backward(linear_forward, linear_backward, np):
    from nn_checks import LINEAR_SHAPE_HINTS, expect_gradient, expect_tuple, expect_unchanged
    from nn_checks import numerical_gradient as numeric
    rng = np.random.default_rng(1)
    x, W, b = (rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3))
    dout = rng.standard_normal((4, 3))
    before = {'x': x.copy(), 'W': W.copy(), 'b': b.copy()}
    dout_before = dout.copy()
    _, cache = expect_tuple(linear_forward(x, W, b), 2, 'linear_forward', 'out, cache')
    expect_unchanged(before, [x, W, b], 'linear_forward')
    grads = expect_tuple(linear_backward(dout, cache), 3, 'linear_backward', 'dx, dW, db')
    expect_unchanged({'dout': dout_before}, [dout], 'linear_backward')
    expect_unchanged(before, [x, W, b], 'linear_forward', by='linear_backward')
    x, W, b, dout = (before['x'], before['W'], before['b'], dout_before)
    definitions = {'dx': (lambda v: v @ W + b, x), 'dW': (lambda v: x @ v + b, W), 'db': (lambda v: x @ W + v, b)}
    for (name, (forward, value)), actual in zip(definitions.items(), grads):
        hints = {'It ignores the upstream gradient dout.': numeric(forward, value.copy(), np.ones_like(dout))}
        if name == 'db':
            hints['db is a mean over the batch; it must be the sum.'] = dout.mean(axis=0)
        expected = numeric(forward, value.copy(), dout)
        expect_gradient(actual, expected, 'linear_backward', name, hints, len(x), LINEAR_SHAPE_HINTS[name])

@test_case(points=None, hidden=False)
def test_linear_backward_speed(linear_forward, linear_backward, np):
    import time
    from nn_checks import directional_check, expect_fast_backward, expect_tuple, finite_difference_seconds
    rng = np.random.default_rng(2)
    x, W, b = (rng.standard_normal((16, 1200)), rng.standard_normal((1200, 200)), rng.standard_normal(200))
    dout = rng.standard_normal((16, 200))
    _, cache = expect_tuple(linear_forward(x, W, b), 2, 'linear_forward', 'out, cache')
    started = time.perf_counter()
    grads = expect_tuple(linear_backward(dout, cache), 3, 'linear_backward', 'dx, dW, db')
    seconds = time.perf_counter() - started
    finite_differences = finite_difference_seconds(lambda *a: linear_forward(*a)[0], (x, W, b), dout)
    sizes = 'x (16, 1200), W (1200, 200), b (200,)'
    expect_fast_backward('linear_backward', sizes, seconds, finite_differences)
    definitions = {'dx': (lambda v: v @ W + b, x), 'dW': (lambda v: x @ v + b, W), 'db': (lambda v: x @ W + v, b)}
    for (name, (forward, value)), actual in zip(definitions.items(), grads):
        directional_check(actual, forward, value, dout, 'linear_backward', f'{name} for {sizes}')

