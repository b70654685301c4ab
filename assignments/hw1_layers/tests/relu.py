from otter.test_files import test_case

OK_FORMAT = False

name = "relu"
points = 2

@test_case(points=None, hidden=False)
def test_relu(relu_forward, relu_backward, np):
    from nn_checks import expect_close, expect_gradient, expect_relu_exact_near_zero, expect_tuple, expect_unchanged, relu_hints
    from nn_checks import numerical_gradient as numeric

    def hints(x, dout):
        return {**relu_hints(x, dout), 'It passes dout at x = 0 too: the derivative at exactly 0 is 0 (1 only where x > 0).': dout * (x >= 0), 'At x = 0 it gives dout / 2, which is what centered differences give at the kink: the derivative at exactly 0 is 0 (1 only where x > 0).': dout * ((x > 0) + 0.5 * (x == 0))}
    near_exact = 'That is close to the exact derivative but not equal to it, as finite differences of the forward are: compute the derivative itself with the chain rule (the notebook allows a relative error of 1e-13).'
    x = np.array([[-2.0, 0.0, 0.5], [1.5, -1.0, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x_before, dout_before = (x.copy(), dout.copy())
    out, cache = expect_tuple(relu_forward(x), 2, 'relu_forward', 'out, cache')
    expect_unchanged({'x': x_before}, [x], 'relu_forward')
    expect_close(out, [[0.0, 0.0, 0.5], [1.5, 0.0, 3.0]], 'relu_forward', 'out')
    dx = relu_backward(dout, cache)
    expect_close(dx, [[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]], 'relu_backward', 'dx', hints=hints(x_before, dout_before))
    expect_unchanged({'dout': dout_before}, [dout], 'relu_backward')
    expect_unchanged({'x': x_before}, [x], 'relu_forward', by='relu_backward')
    rng = np.random.default_rng(3)
    x = rng.uniform(0.05, 2.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    dout = rng.standard_normal((4, 5))
    _, cache = expect_tuple(relu_forward(x.copy()), 2, 'relu_forward', 'out, cache')
    dx = relu_backward(dout.copy(), cache)
    expected = numeric(lambda v: np.maximum(v, 0.0), x.copy(), dout)
    expect_gradient(dx, expected, 'relu_backward', 'dx', hints=hints(x, dout))
    exact = dout * (x > 0)
    expect_close(dx, exact, 'relu_backward', 'dx', rtol=1e-13, hints={near_exact: exact})
    x = np.array([[1e-300, -1e-300, 1e-09], [-1e-09, 5e-324, 2.0]])
    dout = np.array([[1.5, -2.0, 0.5], [1.0, -1.0, 3.0]])
    _, cache = expect_tuple(relu_forward(x.copy()), 2, 'relu_forward', 'out, cache')
    expect_relu_exact_near_zero(relu_backward(dout.copy(), cache), x, dout, hints=hints(x, dout))

