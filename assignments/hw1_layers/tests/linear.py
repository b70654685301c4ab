from otter.test_files import test_case

OK_FORMAT = False

name = "linear"
points = 4

@test_case(points=None, hidden=False)
def test_linear_forward(linear_forward, np):
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    W = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -1.0], [0.0, 2.0, 1.0, 0.0]])
    b = np.array([0.1, -0.2, 0.3, 0.0])
    result = linear_forward(x, W, b)
    assert isinstance(result, tuple) and len(result) == 2, 'linear_forward must return (out, cache)'
    out = result[0]
    assert isinstance(out, np.ndarray) and out.shape == (2, 4), 'out must be an array of shape (N, M) = (2, 4)'
    expected = np.array([[2.1, 7.8, 2.3, 0.0], [-0.65, 4.3, 3.3, -2.5]])
    assert np.allclose(out, expected), f'out is {out}, expected {expected}'

@test_case(points=None, hidden=False)
def test_linear_backward(linear_forward, linear_backward, numerical_gradient, np):
    rng = np.random.default_rng(1)
    x, W, b = (rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2))
    dout = rng.standard_normal((3, 2))
    out, cache = linear_forward(x, W, b)
    result = linear_backward(dout, cache)
    assert isinstance(result, tuple) and len(result) == 3, 'linear_backward must return (dx, dW, db)'
    dx, dW, db = result
    assert np.shape(dx) == x.shape, f'dx has shape {np.shape(dx)}, expected {x.shape} (the shape of x)'
    assert np.shape(dW) == W.shape, f'dW has shape {np.shape(dW)}, expected {W.shape} (the shape of W)'
    assert np.shape(db) == b.shape, f'db has shape {np.shape(db)}, expected {b.shape} (the shape of b)'
    assert np.allclose(dx, numerical_gradient(lambda v: linear_forward(v, W, b)[0], x, dout)), 'dx is wrong'
    assert np.allclose(dW, numerical_gradient(lambda v: linear_forward(x, v, b)[0], W, dout)), 'dW is wrong'
    assert np.allclose(db, numerical_gradient(lambda v: linear_forward(x, W, v)[0], b, dout)), 'db is wrong'

