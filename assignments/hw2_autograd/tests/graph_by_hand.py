from otter.test_files import test_case

OK_FORMAT = False

name = "graph_by_hand"
points = 3

@test_case(points=None, hidden=False)
def test_add_mul(add_mul, np):
    result = add_mul(-2.0, 5.0, -4.0)
    assert isinstance(result, tuple) and len(result) == 4, 'add_mul must return (f, df_dx, df_dy, df_dz)'
    assert np.allclose(result, (-12.0, -4.0, -4.0, 3.0)), f'add_mul(-2, 5, -4) gave {result}'

@test_case(points=None, hidden=False)
def test_cubic_and_neuron(cubic, sigmoid_neuron, np):
    result = cubic(2.0, 3.0)
    assert isinstance(result, tuple) and len(result) == 3, 'cubic must return (g, dg_dw1, dg_dw2)'
    assert np.allclose(result, (30.0, 39.0, 8.0)), f'cubic(2, 3) gave {result}'
    L, grads = sigmoid_neuron(2.0, -1.0, -3.0, -2.0, -3.0)
    assert np.isclose(L, 0.7310585786), f'L is {L}'
    assert set(grads) == {'w0', 'x0', 'w1', 'x1', 'w2'}, 'grads needs the keys w0, x0, w1, x1, w2'
    assert np.isclose(grads['w2'], 0.19661193), f"dL/dw2 is {grads['w2']}"

