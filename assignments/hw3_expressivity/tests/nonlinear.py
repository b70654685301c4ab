from otter.test_files import test_case

OK_FORMAT = False

name = "nonlinear"
points = 3

@test_case(points=None, hidden=False)
def test_tanh(tanh_forward, tanh_backward, np):
    from nn_checks import expect_close, expect_gradient, expect_tuple, expect_unchanged
    from nn_checks import numerical_gradient as numeric
    x = np.array([[-1.0, 0.0, 0.5], [2.0, -3.0, 1000.0], [-1000.0, 20.0, -0.25]])
    x_before = x.copy()
    out, cache = expect_tuple(tanh_forward(x), 2, 'tanh_forward', 'out, cache')
    expect_unchanged({'x': x_before}, [x], 'tanh_forward')
    expect_close(out, np.tanh(x_before), 'tanh_forward', 'out')
    dout = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0], [0.5, 2.0, 1.5]])
    dout_before = dout.copy()
    dx = tanh_backward(dout, cache)
    expect_unchanged({'dout': dout_before}, [dout], 'tanh_backward')
    expect_unchanged({'x': x_before}, [x], 'tanh_forward', by='tanh_backward')
    t = np.tanh(x_before)
    hints = {'It ignores the upstream gradient dout.': 1 - t ** 2, 'It uses x where tanh(x) belongs: the derivative is 1 - tanh(x)**2.': dout_before * (1 - x_before ** 2), 'The square is missing: the derivative is 1 - tanh(x)**2.': dout_before * (1 - t)}
    expect_close(dx, dout_before * (1 - t ** 2), 'tanh_backward', 'dx', hints=hints)
    near = 'That is close to the exact derivative but not equal to it, as finite differences of the forward are: '
    near += 'compute the derivative itself with the chain rule (the notebook allows a relative error of 1e-13).'
    exact = dout_before * (1 - t ** 2)
    dx = np.where(np.abs(dx - exact) <= 1e-15, exact, dx)
    expect_close(dx, exact, 'tanh_backward', 'dx', rtol=1e-13, hints={near: exact})
    rng = np.random.default_rng(0)
    x, dout = (rng.uniform(-3, 3, (4, 5)), rng.standard_normal((4, 5)))
    _, cache = expect_tuple(tanh_forward(x.copy()), 2, 'tanh_forward', 'out, cache')
    expect_gradient(tanh_backward(dout.copy(), cache), numeric(np.tanh, x.copy(), dout), 'tanh_backward', 'dx')

@test_case(points=None, hidden=False)
def test_tanh_backward_speed(tanh_forward, tanh_backward, np):
    import time
    from nn_checks import directional_check, expect_fast_backward, expect_tuple, finite_difference_seconds
    rng = np.random.default_rng(1)
    x, dout = (rng.uniform(-3, 3, (100, 200)), rng.standard_normal((100, 200)))
    _, cache = expect_tuple(tanh_forward(x), 2, 'tanh_forward', 'out, cache')
    started = time.perf_counter()
    dx = tanh_backward(dout, cache)
    seconds = time.perf_counter() - started
    finite_differences = finite_difference_seconds(lambda v: tanh_forward(v)[0], (x,), dout)
    expect_fast_backward('tanh_backward', 'x of shape (100, 200)', seconds, finite_differences)
    directional_check(dx, np.tanh, x, dout, 'tanh_backward', 'dx for x of shape (100, 200)')

@test_case(points=None, hidden=False)
def test_leaky_relu(leaky_relu_forward, leaky_relu_backward, np):
    from nn_checks import expect_close, expect_gradient, expect_tuple, expect_unchanged
    from nn_checks import numerical_gradient as numeric
    x = np.array([[-2.0, 0.0, 0.5], [1.5, -1.0, 3.0]])
    x_before = x.copy()
    out, cache = expect_tuple(leaky_relu_forward(x, 0.1), 2, 'leaky_relu_forward', 'out, cache')
    expect_unchanged({'x': x_before}, [x], 'leaky_relu_forward')
    hints = {'The slope is applied on the wrong side: x where x > 0, slope * x elsewhere.': np.where(x > 0, 0.1 * x, x), 'It uses the default slope 0.01, not the slope passed in.': np.where(x > 0, x, 0.01 * x)}
    expect_close(out, [[-0.2, 0.0, 0.5], [1.5, -0.1, 3.0]], 'leaky_relu_forward(x, slope=0.1)', 'out', hints=hints)
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    dout_before = dout.copy()
    dx = leaky_relu_backward(dout, cache)
    expect_unchanged({'dout': dout_before}, [dout], 'leaky_relu_backward')
    expect_unchanged({'x': x_before}, [x], 'leaky_relu_forward', by='leaky_relu_backward')
    hints = {'The slope is applied on the wrong side: dout where x > 0, slope * dout elsewhere.': dout * np.where(x > 0, 0.1, 1.0), 'It uses the default slope 0.01, not the slope given to leaky_relu_forward (keep it in the cache).': dout * np.where(x > 0, 1.0, 0.01), 'It ignores the upstream gradient dout.': np.where(x > 0, 1.0, 0.1), 'At exactly 0 the derivative is the slope, as for every x <= 0 (the notebook).': dout * np.where(x >= 0, 1.0, 0.1)}
    expected = [[0.1, 0.2, 3.0], [4.0, 0.5, 6.0]]
    expect_close(dx, expected, 'leaky_relu_backward (slope 0.1)', 'dx', hints=hints)
    rng = np.random.default_rng(2)
    x = rng.uniform(0.05, 2.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    dout = rng.standard_normal((4, 5))
    _, cache = expect_tuple(leaky_relu_forward(x.copy(), 0.25), 2, 'leaky_relu_forward', 'out, cache')
    expected = numeric(lambda v: np.where(v > 0, v, 0.25 * v), x.copy(), dout)
    dx = leaky_relu_backward(dout.copy(), cache)
    expect_gradient(dx, expected, 'leaky_relu_backward (slope 0.25)', 'dx')
    near = 'That is close to the exact derivative but not equal to it, as finite differences of the forward are: '
    near += 'compute the derivative itself with the chain rule (the notebook allows a relative error of 1e-13).'
    exact = dout * np.where(x > 0, 1.0, 0.25)
    expect_close(dx, exact, 'leaky_relu_backward (slope 0.25)', 'dx', rtol=1e-13, hints={near: exact})

@test_case(points=None, hidden=False)
def test_step(step_forward, step_backward, np):
    from nn_checks import expect_close, expect_tuple, expect_unchanged
    x = np.array([[-1.5, 0.0, 0.3], [2.0, -0.2, 1e-09]])
    x_before = x.copy()
    out, cache = expect_tuple(step_forward(x), 2, 'step_forward', 'out, cache')
    expect_unchanged({'x': x_before}, [x], 'step_forward')
    expect_close(out, [[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]], 'step_forward', 'out')
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    hints = {"That passes dout through unchanged, a 'gradient' of 1: the step is flat, its derivative is 0.": dout, "That is ReLU's derivative (1 where x > 0); the step is flat on both sides, its derivative is 0.": dout * (x > 0)}
    expect_close(step_backward(dout.copy(), cache), np.zeros((2, 3)), 'step_backward', 'dx', hints=hints)

@test_case(points=None, hidden=False)
def test_steepness(steepness_for, answer_step_gradient, answer_steepness, np):
    import math
    from nn_checks import expect_number
    value = steepness_for(0.01, 0.05)
    hint = 'sigmoid(-w * margin) = tolerance gives w = ln((1 - tolerance) / tolerance) / margin.'
    expect_number(value, math.log(99) / 0.05, 'steepness_for(0.01, 0.05)', hint)
    expect_number(steepness_for(0.2, 0.5), math.log(4) / 0.5, 'steepness_for(0.2, 0.5)', hint)
    hint = ''
    if answer_step_gradient == 1.0:
        hint = "That is what a step 'gradient' of 1 gives: the step's derivative is 0."
    expect_number(answer_step_gradient, 0.0, 'answer_step_gradient', hint)
    expect_number(answer_steepness, math.log(99) / 0.05, 'answer_steepness', rtol=0.001)

