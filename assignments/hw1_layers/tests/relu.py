from otter.test_files import test_case

OK_FORMAT = False

name = "relu"
points = 2

@test_case(points=None, hidden=False)
def test_relu(relu_forward, relu_backward, np):
    x = np.array([[-2.0, -0.5, 0.5], [1.5, -1.0, 3.0]])
    result = relu_forward(x)
    assert isinstance(result, tuple) and len(result) == 2, 'relu_forward must return (out, cache)'
    out, cache = result
    assert np.allclose(out, [[0.0, 0.0, 0.5], [1.5, 0.0, 3.0]]), f'relu_forward gave {out}'
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    dx = relu_backward(dout, cache)
    assert np.shape(dx) == x.shape, f'dx has shape {np.shape(dx)}, expected {x.shape}'
    assert np.allclose(dx, [[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]]), f'relu_backward gave {dx}: pass dout through where x > 0'

