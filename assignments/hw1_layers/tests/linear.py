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
    from nn_checks import LINEAR_SHAPE_HINTS, CheckFailed, expect_gradient, expect_tuple, expect_unchanged
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
    W2, b2 = (rng.standard_normal((3, 6)), rng.standard_normal(6))
    try:
        _, cache1 = expect_tuple(linear_forward(x.copy(), W.copy(), b.copy()), 2, 'linear_forward', 'out, cache')
        _, cache2 = expect_tuple(linear_forward(x @ W + b, W2, b2), 2, 'linear_forward', 'out, cache')
        linear_backward(rng.standard_normal((4, 6)), cache2)
        again = expect_tuple(linear_backward(dout.copy(), cache1), 3, 'linear_backward', 'dx, dW, db')
        for (name, (forward, value)), actual in zip(definitions.items(), again):
            expect_gradient(actual, numeric(forward, value.copy(), dout), 'linear_backward', name)
    except Exception as failure:
        text = str(failure) if isinstance(failure, CheckFailed) else f'linear_backward raised {type(failure).__name__}: {failure}'
        raise CheckFailed(f"linear_backward (called as in a network: another linear_forward call between its own linear_forward and it): {text.rstrip('.')}. Called right after its own linear_forward, linear_backward is right; with another linear_forward call in between (as in a network: every layer's forward first, then the backwards in reverse order, each with its own cache) it is not: it must take x and W from its cache, not from anything the latest linear_forward call left behind (a global variable).") from None

@test_case(points=None, hidden=False)
def test_linear_backward_speed(linear_forward, linear_backward, np):
    import signal
    import threading
    import time
    from nn_checks import CheckFailed, best_seconds, directional_check, expect_close, expect_fast_backward, expect_tuple
    rng = np.random.default_rng(2)
    x, W, b = (rng.standard_normal((2, 200000)), rng.standard_normal((200000, 3)), rng.standard_normal(3))
    dout = rng.standard_normal((2, 3))
    sizes = 'x (2, 200000), W (200000, 3), b (3,)'
    copies_of_x, copies_of_W = (np.tile(x, (8, 1)), np.tile(W, (1, 8)))
    single = best_seconds(lambda: x @ W + b)
    per_x = min(single, best_seconds(lambda: copies_of_x @ W + b) / 8)
    per_W = min(single, best_seconds(lambda: x @ copies_of_W) / 8)
    finite_differences = 200000 * (per_x + per_W)
    limit = 1.5 * min(0.1 * finite_differences, 30.0) + 2.0

    def stop(signum, frame):
        raise CheckFailed(f'linear_backward did not finish within {limit:.3g} s for {sizes}; the cheapest finite differences would take about {finite_differences:.3g} s on this machine just now, and a backward must stay under a tenth of that (at most 30 s): compute the gradient with the chain rule.')
    out, cache = expect_tuple(linear_forward(x, W, b), 2, 'linear_forward', 'out, cache')
    expect_close(out, x @ W + b, 'linear_forward', f'out for {sizes}')
    alarm = hasattr(signal, 'setitimer') and threading.current_thread() is threading.main_thread()
    if alarm:
        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        started = time.perf_counter()
        grads = expect_tuple(linear_backward(dout, cache), 3, 'linear_backward', 'dx, dW, db')
        seconds = time.perf_counter() - started
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    expect_fast_backward('linear_backward', sizes, seconds, finite_differences)
    definitions = {'dx': (lambda v: v @ W + b, x), 'dW': (lambda v: x @ v + b, W), 'db': (lambda v: x @ W + v, b)}
    for (name, (forward, value)), actual in zip(definitions.items(), grads):
        directional_check(actual, forward, value, dout, 'linear_backward', f'{name} for {sizes}', h=1.0)

