from otter.test_files import test_case

OK_FORMAT = False

name = "graph_by_hand"
points = 3

@test_case(points=None, hidden=False)
def test_add_mul(add_mul):
    from nn_checks import CheckFailed, expect_number, expect_tuple
    result = expect_tuple(add_mul(-2.0, 5.0, -4.0), 4, 'add_mul', 'f, df_dx, df_dy, df_dz')
    for name, value, expected in zip(('f', 'df_dx', 'df_dy', 'df_dz'), result, (-12.0, -4.0, -4.0, 3.0)):
        expect_number(value, expected, f'add_mul(-2, 5, -4): {name}')
        if value != expected:
            raise CheckFailed(f'add_mul(-2, 5, -4): {name} is {value!r}, but the chain rule gives {expected!r} exactly: close, but not equal, as a numerical derivative is. The notebook: one line per gradient, upstream times local.')

@test_case(points=None, hidden=False)
def test_cubic(cubic):
    from nn_checks import CheckFailed, expect_number, expect_tuple
    g, d1, d2 = expect_tuple(cubic(2.0, 3.0), 3, 'cubic', 'g, dg_dw1, dg_dw2')
    expect_number(g, 30.0, 'cubic(2, 3): g')
    hint = 'dg/dw1 is the sum over both paths of upstream times local: dg/da * da/dw1 + dg/dc * dc/dw1.'
    if d1 == 36.0:
        hint = 'That is the path through a = w1**3 alone: w1 also reaches g through c = 3*w1; add both paths.'
    elif d1 == 15.0:
        hint = 'That is 3*w1**2 + 3, without the factor w2: along the a path, dg/da = w2 (mul swaps its inputs).'
    expect_number(d1, 39.0, 'cubic(2, 3): dg_dw1', hint)
    expect_number(d2, 8.0, 'cubic(2, 3): dg_dw2')
    if (d1, d2) != (39.0, 8.0):
        raise CheckFailed(f'cubic(2, 3): (dg_dw1, dg_dw2) is {(d1, d2)!r}, but the chain rule gives (39.0, 8.0) exactly: close, but not equal, as a numerical derivative is. The notebook: one line per gradient, upstream times local.')

@test_case(points=None, hidden=False)
def test_sigmoid_neuron(sigmoid_neuron):
    from nn_checks import CheckFailed, describe, expect_number, expect_tuple
    L, grads = expect_tuple(sigmoid_neuron(2.0, -1.0, -3.0, -2.0, -3.0), 2, 'sigmoid_neuron', 'L, grads')
    at = 'sigmoid_neuron(2, -1, -3, -2, -3)'
    expect_number(L, 0.7310585786300049, f'{at}: L')
    names = ['w0', 'x0', 'w1', 'x1', 'w2']
    if not isinstance(grads, dict) or set(grads) != set(names):
        raise CheckFailed(f'sigmoid_neuron: grads must be a dict with keys {names}, got {describe(grads)}.')
    local = 0.7310585786300049 * (1 - 0.7310585786300049)
    expected = {'w0': -local, 'x0': 2 * local, 'w1': -2 * local, 'x1': -3 * local, 'w2': local}
    for name in names:
        expect_number(grads[name], expected[name], f'{at}: grads[{name!r}]')
        if abs(grads[name] - expected[name]) > 1e-12:
            raise CheckFailed(f'{at}: grads[{name!r}] is {grads[name]!r}, but the chain rule gives {expected[name]!r}: close, but not equal, as a numerical derivative is. The notebook: one line per gradient, upstream times local.')

@test_case(points=None, hidden=False)
def test_lecture_answers(answer_add_mul, answer_cubic):
    from nn_checks import expect_number, expect_tuple
    values = expect_tuple(answer_add_mul, 4, 'answer_add_mul', 'f, df_dx, df_dy, df_dz')
    for name, value, expected in zip(('f', 'df_dx', 'df_dy', 'df_dz'), values, (-12, -4, -4, 3)):
        expect_number(value, expected, f'answer_add_mul: {name}')
    values = expect_tuple(answer_cubic, 3, 'answer_cubic', 'g, dg_dw1, dg_dw2')
    for name, value, expected in zip(('g', 'dg_dw1', 'dg_dw2'), values, (30, 39, 8)):
        expect_number(value, expected, f'answer_cubic: {name}')

