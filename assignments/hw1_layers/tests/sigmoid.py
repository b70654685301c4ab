from otter.test_files import test_case

OK_FORMAT = False

name = "sigmoid"
points = 2

@test_case(points=None, hidden=False)
def test_sigmoid(sigmoid_forward, sigmoid_backward, numerical_gradient, np):
    x = np.array([[0.0, 2.0, -1.0], [0.5, -3.0, 1.0]])
    result = sigmoid_forward(x)
    assert isinstance(result, tuple) and len(result) == 2, 'sigmoid_forward must return (out, cache)'
    out, cache = result
    assert np.allclose(out[0, 0], 0.5), 'sigmoid(0) must be 0.5'
    assert np.allclose(out, 1 / (1 + np.exp(-x))), f'sigmoid_forward gave {out}'
    dout = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]])
    dx = sigmoid_backward(dout, cache)
    assert np.shape(dx) == x.shape, f'dx has shape {np.shape(dx)}, expected {x.shape}'
    assert np.allclose(dx, numerical_gradient(lambda v: sigmoid_forward(v)[0], x.copy(), dout)), 'sigmoid_backward is wrong'

