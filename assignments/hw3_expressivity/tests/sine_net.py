from otter.test_files import test_case

OK_FORMAT = False

name = "sine_net"
points = 4

@test_case(points=None, hidden=False)
def test_sine_net_loss(init_sine_net, sine_net_loss, np):
    from nn_checks import CheckFailed, expect_array, expect_close, expect_gradient, expect_scalar, expect_tuple, expect_unchanged
    from nn_checks import numerical_gradient as numeric
    rng = np.random.default_rng(6)
    params = init_sine_net(6, seed=1)
    x = rng.uniform(-3, 3, (7, 1))
    y = np.sin(x)
    before = {**{key: value.copy() for key, value in params.items()}, 'x': x.copy(), 'y': y.copy()}
    loss, grads = expect_tuple(sine_net_loss(params, x, y), 2, 'sine_net_loss', 'loss, grads')
    expect_unchanged(before, [params['W1'], params['b1'], params['W2'], params['b2'], x, y], 'sine_net_loss')

    def definition(p):
        y_hat = np.maximum(x @ p['W1'] + p['b1'], 0) @ p['W2'] + p['b2']
        return 0.5 * np.sum((y_hat - y) ** 2)
    expected = definition(params)
    hints = {"It is a mean; this loss is 0.5 * the sum of squares (the lecture's).": np.array(expected / 7), "It is the mean squared error; this loss is 0.5 * the sum of squares (the lecture's).": np.array(expected / 3.5), 'The 0.5 is missing: the loss is 0.5 * the sum of squares.': np.array(2 * expected)}
    loss = expect_scalar(loss, 'sine_net_loss', 'loss')
    expect_close(np.array(loss), np.array(expected), 'sine_net_loss', 'loss', hints=hints)
    if not isinstance(grads, dict) or set(grads) != set(params):
        raise CheckFailed(f'sine_net_loss: grads must be a dict with keys {sorted(params)}.')
    for key in ('W2', 'b2', 'W1', 'b1'):
        expect_array(grads[key], params[key].shape, 'sine_net_loss', f'grads[{key!r}]', 'The gradient has the shape of its variable.')
        numerical = numeric(lambda v, key=key: definition({**params, key: v}), params[key].copy())
        expect_gradient(grads[key], numerical, 'sine_net_loss', f'grads[{key!r}]', batch_size=7)

    def complex_step(key):
        exact = np.zeros_like(params[key])
        for i in np.ndindex(exact.shape):
            p = {k: v.astype(complex) for k, v in params.items()}
            p[key][i] += 1e-30j
            s = x @ p['W1'] + p['b1']
            y_hat = np.where(s.real > 0, s, 0) @ p['W2'] + p['b2']
            exact[i] = np.sum(0.5 * (y_hat - y) ** 2).imag / 1e-30
        return exact
    near = 'That is close to the exact gradient but not equal to it, as finite differences of the loss are: '
    near += 'compute it with the chain rule (the notebook allows a relative error of 1e-12).'
    for key in ('W2', 'b2', 'W1', 'b1'):
        exact = complex_step(key)
        expect_close(grads[key], exact, 'sine_net_loss', f'grads[{key!r}]', rtol=1e-12, hints={near: exact})

@test_case(points=None, hidden=False)
def test_sine_net_loss_speed(init_sine_net, sine_net_loss, np):
    import time
    from nn_checks import directional_check, expect_fast_backward, expect_tuple, finite_difference_seconds
    rng = np.random.default_rng(7)
    params = init_sine_net(1000, seed=2)
    x = rng.uniform(-np.pi, np.pi, (300, 1))
    y = np.sin(x)
    started = time.perf_counter()
    _, grads = expect_tuple(sine_net_loss(params, x, y), 2, 'sine_net_loss', 'loss, grads')
    seconds = time.perf_counter() - started

    def forward(W1, b1, W2, b2):
        return np.maximum(x @ W1 + b1, 0) @ W2 + b2
    inputs = (params['W1'], params['b1'], params['W2'], params['b2'])
    finite_differences = finite_difference_seconds(forward, inputs, np.ones((300, 1)))
    expect_fast_backward('sine_net_loss', '1,000 hidden units and 300 points', seconds, finite_differences)
    for key in ('W1', 'b1', 'W2', 'b2'):

        def loss_of(value, key=key):
            p = {**params, key: value}
            return 0.5 * np.sum((np.maximum(x @ p['W1'] + p['b1'], 0) @ p['W2'] + p['b2'] - y) ** 2)
        directional_check(grads[key], loss_of, params[key], None, 'sine_net_loss', f'grads[{key!r}] with 1,000 units')

@test_case(points=None, hidden=False)
def test_train_sine_net(init_sine_net, train_sine_net, np):
    from nn_checks import CheckFailed, describe, expect_array, expect_tuple
    rng = np.random.default_rng(8)
    x = rng.uniform(-np.pi, np.pi, (64, 1))
    y = np.sin(x)

    def loss_and_gradients(p):

        def loss(q):
            return 0.5 * np.sum((np.maximum(x @ q['W1'] + q['b1'], 0) @ q['W2'] + q['b2'] - y) ** 2)
        grads = {}
        for key in p:
            grads[key] = np.zeros_like(p[key])
            for i in np.ndindex(p[key].shape):
                plus, minus = ({k: v.copy() for k, v in p.items()}, {k: v.copy() for k, v in p.items()})
                plus[key][i] += 1e-06
                minus[key][i] -= 1e-06
                grads[key][i] = (loss(plus) - loss(minus)) / 2e-06
        return (loss(p), grads)
    keys = ('W1', 'b1', 'W2', 'b2')

    def replay(sign):
        p, losses = (init_sine_net(8, seed=0), [])
        for _ in range(2):
            loss, grads = loss_and_gradients(p)
            losses.append(loss)
            p = {key: p[key] - sign * 0.0002 * grads[key] for key in keys}
        return (p, losses)
    p, wanted_losses = replay(1.0)
    call = 'train_sine_net(x, y, hidden_size=8, learning_rate=2e-4, steps=2, seed=0)'
    params, history = expect_tuple(train_sine_net(x, y, 8, 0.0002, 2, 0), 2, 'train_sine_net', 'params, loss_history')
    if not isinstance(history, (list, tuple, np.ndarray)) or len(history) != 2:
        raise CheckFailed(f'{call}: loss_history must hold one float per step (2), got {describe(history)}.')
    for k in range(2):
        after = ''
        if k == 0 and abs(float(history[0]) - wanted_losses[1]) <= 1e-06 * max(1.0, wanted_losses[1]):
            after = " That is the loss after the first update: record each step's loss before its update."
        if not abs(float(history[k]) - wanted_losses[k]) <= 1e-06 * max(1.0, wanted_losses[k]):
            raise CheckFailed(f'{call}: loss_history[{k}] is {float(history[k]):.6g}, but after {k} steps of full-batch gradient descent from init_sine_net(8, 0) the loss is {wanted_losses[k]:.6g}.{after}')
    if not isinstance(params, dict) or set(params) != set(keys):
        raise CheckFailed(f'{call}: params must be a dict with keys {sorted(keys)}.')
    for key in keys:
        value = expect_array(params[key], p[key].shape, 'train_sine_net', f'params[{key!r}]')
        if not np.allclose(value, p[key], rtol=1e-06, atol=1e-09):
            hint = ''
            start = init_sine_net(8, seed=0)[key]
            if np.allclose(value, start, rtol=1e-12, atol=0):
                hint = f' {key} never changed: update every parameter, param -= learning_rate * grad.'
            elif np.allclose(value, replay(-1.0)[0][key], rtol=1e-06, atol=1e-09):
                hint = ' It moved uphill: the update is param -= learning_rate * grad (minus, not plus).'
            raise CheckFailed(f'{call}: the returned params[{key!r}] differ from 2 steps of full-batch gradient descent (param -= learning_rate * grad on the loss over all the points).{hint}')
    params, history = train_sine_net(x, y)
    x_test = np.linspace(-np.pi, np.pi, 400)[:, None]
    y_test = np.maximum(x_test @ params['W1'] + params['b1'], 0) @ params['W2'] + params['b2']
    error = float(np.mean((y_test - np.sin(x_test)) ** 2))
    if not (len(history) == 1000 and history[-1] < history[0] and (error <= 0.05)):
        raise CheckFailed(f"train_sine_net(x, y) with the defaults: the loss went from {history[0]:.3g} to {history[-1]:.3g} and the trained network's mean squared error on 400 points of [-pi, pi] is {error:.3g} (needs at most 0.05).")

