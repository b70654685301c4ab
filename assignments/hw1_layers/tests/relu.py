from otter.test_files import test_case

OK_FORMAT = False

name = "relu"
points = 2

@test_case(points=None, hidden=False)
def test_relu(relu_forward, relu_backward, np):
    from nn_checks import expect_close, expect_gradient, expect_tuple, expect_unchanged, relu_hints
    from nn_checks import numerical_gradient as numeric
    x = np.array([[-2.0, -0.5, 0.5], [1.5, -1.0, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x_before, dout_before = (x.copy(), dout.copy())
    out, cache = expect_tuple(relu_forward(x), 2, 'relu_forward', 'out, cache')
    expect_unchanged({'x': x_before}, [x], 'relu_forward')
    expect_close(out, [[0.0, 0.0, 0.5], [1.5, 0.0, 3.0]], 'relu_forward', 'out')
    dx = relu_backward(dout, cache)
    expect_close(dx, [[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]], 'relu_backward', 'dx', hints=relu_hints(x_before, dout_before))
    expect_unchanged({'dout': dout_before}, [dout], 'relu_backward')
    expect_unchanged({'x': x_before}, [x], 'relu_forward', by='relu_backward')
    rng = np.random.default_rng(3)
    x = rng.uniform(0.05, 2.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    dout = rng.standard_normal((4, 5))
    _, cache = expect_tuple(relu_forward(x.copy()), 2, 'relu_forward', 'out, cache')
    expected = numeric(lambda v: np.maximum(v, 0.0), x.copy(), dout)
    expect_gradient(relu_backward(dout.copy(), cache), expected, 'relu_backward', 'dx', hints=relu_hints(x, dout))

