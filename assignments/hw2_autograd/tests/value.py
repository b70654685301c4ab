from otter.test_files import test_case

OK_FORMAT = False

name = "value"
points = 4

@test_case(points=None, hidden=False)
def test_value_lecture_example(Value, np):
    x, y, z = (Value(-2.0), Value(5.0), Value(-4.0))
    f = (x + y) * z
    f.backward()
    assert np.isclose(f.data, -12.0), f'f.data is {f.data}, expected -12'
    assert np.allclose([x.grad, y.grad, z.grad], [-4.0, -4.0, 3.0]), f'grads are {[x.grad, y.grad, z.grad]}'

@test_case(points=None, hidden=False)
def test_value_ops(Value, np):
    a = Value(1.5)
    b = (2 * a - 1) / (a ** 2 + 1) + a.exp().log() + a.tanh() * a.relu() + (1 - a.sigmoid())
    b.backward()
    expected = (2 * 1.5 - 1) / (1.5 ** 2 + 1) + 1.5 + np.tanh(1.5) * 1.5 + (1 - 1 / (1 + np.exp(-1.5)))
    assert np.isclose(b.data, expected), f'b.data is {b.data}, expected {expected}'
    h = 1e-06

    def f(v):
        return (2 * v - 1) / (v ** 2 + 1) + v + np.tanh(v) * v + (1 - 1 / (1 + np.exp(-v)))
    numeric = (f(1.5 + h) - f(1.5 - h)) / (2 * h)
    assert np.isclose(a.grad, numeric, rtol=1e-05), f'a.grad is {a.grad}, expected {numeric}'

@test_case(points=None, hidden=False)
def test_value_shared_node(Value, np):
    x = Value(3.0)
    y = x * x + x
    y.backward()
    assert np.isclose(x.grad, 7.0), f'd(x*x + x)/dx at 3 is 7, got {x.grad}: gradients must accumulate (+=)'

