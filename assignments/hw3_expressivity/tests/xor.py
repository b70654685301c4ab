from otter.test_files import test_case

OK_FORMAT = False

name = "xor"
points = 2

@test_case(points=None, hidden=False)
def test_best_linear_accuracy(best_linear_accuracy, answer_xor_linear, np):
    from nn_checks import expect_number
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    ties = best_linear_accuracy(corners[[0, 2, 1]], np.array([0, 1, 0]), np.array([0.0, 1.0]))
    hint = 'Many scores here are exactly 0: a classifier says 1 only where w1 x1 + w2 x2 + b > 0 (0 where it is exactly 0).'
    expect_number(ties, 1.0, 'best_linear_accuracy((0, 0), (1, 0), (0, 1) labelled 0, 1, 0, grid [0., 1.])', hint)
    grid = np.linspace(-2, 2, 17)
    for name, labels, expected in (('XOR', [0, 1, 1, 0], 0.75), ('AND', [0, 0, 0, 1], 1.0)):
        value = best_linear_accuracy(corners, np.array(labels), grid)
        expect_number(value, expected, f'best_linear_accuracy(the corners, {name} labels, np.linspace(-2, 2, 17))')
    rng = np.random.default_rng(4)
    x, y, grid = (rng.uniform(-1, 1, (12, 2)), rng.integers(0, 2, 12), np.linspace(-1, 1, 9))
    w1, w2, b = (a.reshape(-1) for a in np.meshgrid(grid, grid, grid, indexing='ij'))
    accuracies = np.mean((np.outer(x[:, 0], w1) + np.outer(x[:, 1], w2) + b > 0) == (y[:, None] == 1), axis=0)
    value = best_linear_accuracy(x, y, grid)
    hint = ''
    if value == accuracies.min():
        hint = "That is the worst classifier's accuracy: take the best one (the maximum)."
    expect_number(value, accuracies.max(), 'best_linear_accuracy on 12 random points, np.linspace(-1, 1, 9)', hint)
    expect_number(answer_xor_linear, 0.75, 'answer_xor_linear')

@test_case(points=None, hidden=False)
def test_xor_params(xor_params, np):
    from nn_checks import CheckFailed, expect_array
    shapes = {'W1': (2, 2), 'b1': (2,), 'W2': (2, 1), 'b2': (1,)}
    if not isinstance(xor_params, dict) or set(xor_params) != set(shapes):
        raise CheckFailed(f'xor_params must be a dict with keys {sorted(shapes)}.')
    p = {key: expect_array(xor_params[key], shape, 'xor_params', f'xor_params[{key!r}]') for key, shape in shapes.items()}

    def predict(x):
        hidden = (x @ p['W1'] + p['b1'] > 0).astype(float)
        return (hidden @ p['W2'] + p['b2'] > 0)[:, 0].astype(int)
    corners, labels = (np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([0, 1, 1, 0]))
    got = predict(corners)
    if not np.array_equal(got, labels):
        raise CheckFailed(f'xor_params: the network predicts {got.tolist()} for the corners (0,0), (0,1), (1,0), (1,1); XOR is [0, 1, 1, 0] ({int(np.sum(got == labels))} of 4 right).')
    rng = np.random.default_rng(5)
    near = np.repeat(corners, 25, axis=0) + rng.uniform(-0.1, 0.1, (100, 2))
    wrong = np.flatnonzero(predict(near) != np.repeat(labels, 25))
    if len(wrong):
        point, corner = (near[wrong[0]], corners[wrong[0] // 25])
        raise CheckFailed(f'xor_params: the corners are right, but {len(wrong)} of 100 points within 0.1 of a corner are not, for instance ({point[0]:.3f}, {point[1]:.3f}) near ({corner[0]:g}, {corner[1]:g}): a threshold sits on or next to a corner. Put each threshold halfway between the values it separates.')

