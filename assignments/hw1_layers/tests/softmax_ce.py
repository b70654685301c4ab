from otter.test_files import test_case

OK_FORMAT = False

name = "softmax_ce"
points = 4

@test_case(points=None, hidden=False)
def test_softmax_ce(softmax_cross_entropy, np):
    from nn_checks import expect_close, expect_gradient, expect_scalar, expect_tuple, expect_unchanged, softmax_gradient_hints
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.5, -1.0, 2.0]])
    y = np.array([2, 0, 1])
    before = {'scores': scores.copy(), 'y': y.copy()}
    loss, dscores = expect_tuple(softmax_cross_entropy(scores, y), 2, 'softmax_cross_entropy', 'loss, dscores')
    expect_unchanged(before, [scores, y], 'softmax_cross_entropy')
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected_loss = -np.mean(np.log(p[np.arange(3), y]))
    hints = {'It is the sum over the batch; the loss is the mean.': np.array(3 * expected_loss)}
    loss = expect_scalar(loss, 'softmax_cross_entropy', 'loss')
    expect_close(np.array(loss), np.array(expected_loss), 'softmax_cross_entropy', 'loss', hints=hints, batch_size=3)
    expected = (p - np.eye(3)[y]) / 3
    hints = softmax_gradient_hints(scores, p, y)
    shape_hint = 'dscores has the shape of scores, (N, C).'
    expect_gradient(dscores, expected, 'softmax_cross_entropy', 'dscores', hints, 3, shape_hint)

@test_case(points=None, hidden=False)
def test_softmax_ce_large_scores(softmax_cross_entropy, np):
    from nn_checks import expect_stable_softmax
    small = np.array([[1.0, 2.0, 30.0, -20.0], [5.0, 1.0, -40.0, 2.0], [-3.0, 25.0, 0.0, 1.0]])
    y = np.array([2, 3, 0])
    scores = small + np.array([[1000.0], [-1000.0], [1000.0]])
    p = np.exp(small) / np.exp(small).sum(axis=1, keepdims=True)
    expected_loss = -np.mean(np.log(p[np.arange(3), y]))
    expect_stable_softmax(softmax_cross_entropy, scores, y, expected_loss, (p - np.eye(4)[y]) / 3)

