from otter.test_files import test_case

OK_FORMAT = False

name = "sigmoid"
points = 2

@test_case(points=None, hidden=False)
def test_sigmoid(sigmoid_forward, sigmoid_backward, np):
    from nn_checks import expect_close, expect_gradient, expect_tuple, expect_unchanged, sigmoid_hints
    from nn_checks import numerical_gradient as numeric
    x = np.array([[0.0, 2.0, -1.0], [0.5, -3.0, 1.0]])
    x_before = x.copy()
    out, cache = expect_tuple(sigmoid_forward(x), 2, 'sigmoid_forward', 'out, cache')
    expect_unchanged({'x': x_before}, [x], 'sigmoid_forward')
    s = 1 / (1 + np.exp(-x_before))
    expect_close(out, s, 'sigmoid_forward', 'out')
    dout = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]])
    dout_before = dout.copy()
    dx = sigmoid_backward(dout, cache)
    expect_unchanged({'dout': dout_before}, [dout], 'sigmoid_backward')
    expect_unchanged({'x': x_before}, [x], 'sigmoid_forward', by='sigmoid_backward')
    expected = numeric(lambda v: 1 / (1 + np.exp(-v)), x_before.copy(), dout_before)
    hints = sigmoid_hints(x_before, dout_before, s)
    expect_gradient(dx, expected, 'sigmoid_backward', 'dx', hints=hints, shape_hint='dx has the shape of x.')
    exact = dout_before * s * (1 - s)
    near_exact = 'That is close to the exact derivative but not equal to it, as finite differences of the forward are: compute the derivative itself with the chain rule (the notebook allows a relative error of 1e-13).'
    expect_close(dx, exact, 'sigmoid_backward', 'dx', rtol=1e-13, hints={near_exact: exact})

@test_case(points=None, hidden=False)
def test_sigmoid_large_inputs(sigmoid_forward, np):
    from nn_checks import expect_close, expect_tuple
    x = np.array([[-1000.0, -710.0, -50.0, 0.0, 50.0, 710.0, 1000.0]])
    out, _ = expect_tuple(sigmoid_forward(x), 2, 'sigmoid_forward', 'out, cache')
    expected = [[0.0, 4.47628622567513e-309, 1.9287498479639178e-22, 0.5, 1.0, 1.0, 1.0]]
    expect_close(out, expected, 'sigmoid_forward', 'out')

