from otter.test_files import test_case

OK_FORMAT = False

name = "softmax_ce"
points = 4

@test_case(points=None, hidden=False)
def test_softmax_ce(softmax_cross_entropy, np):
    from nn_checks import CheckFailed, expect_close, expect_gradient, expect_scalar, expect_tuple, expect_unchanged, softmax_gradient_hints
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
    y = np.array([1, 0, 1])
    try:
        loss, dscores = expect_tuple(softmax_cross_entropy(scores, y), 2, 'softmax_cross_entropy', 'loss, dscores')
        loss = expect_scalar(loss, 'softmax_cross_entropy', f'loss for y = {y.tolist()}')
        expected_loss = -np.mean(np.log(p[np.arange(3), y]))
        expect_close(np.array(loss), np.array(expected_loss), 'softmax_cross_entropy', f'loss for y = {y.tolist()}')
        expected = (p - np.eye(3)[y]) / 3
        expect_gradient(dscores, expected, 'softmax_cross_entropy', f'dscores for y = {y.tolist()}', hints, 3, shape_hint)
    except Exception as failure:
        text = str(failure) if isinstance(failure, CheckFailed) else f'softmax_cross_entropy raised {failure!r}'
        raise CheckFailed(f"{text.rstrip('.')}. It is right when a label is 2, the largest class, but not when no label is (here y.max() + 1 = 2 while scores has C = 3 columns): take the number of classes C from scores.shape[1], not from the labels (y.max() + 1).") from None

@test_case(points=None, hidden=False)
def test_softmax_ce_large_scores(softmax_cross_entropy, np):
    from nn_checks import CheckFailed, expect_stable_softmax
    small = np.array([[1.0, 2.0, 30.0, -20.0], [5.0, 1.0, -40.0, 2.0], [-3.0, 25.0, 0.0, 1.0]])
    y = np.array([2, 3, 0])
    scores = small + np.array([[1000.0], [-1000.0], [1000.0]])
    p = np.exp(small) / np.exp(small).sum(axis=1, keepdims=True)
    expected_loss = -np.mean(np.log(p[np.arange(3), y]))
    expected_dscores = (p - np.eye(4)[y]) / 3
    try:
        expect_stable_softmax(softmax_cross_entropy, scores, y, expected_loss, expected_dscores)
    except CheckFailed as failure:

        def right(rows):
            try:
                p_rows = p[rows]
                expect_stable_softmax(softmax_cross_entropy, scores[rows], y[rows], -np.mean(np.log(p_rows[np.arange(len(rows)), y[rows]])), (p_rows - np.eye(4)[y[rows]]) / len(rows))
            except Exception:
                return False
            return True
        hint = ''
        if right([0, 2]) and right([1]):
            hint = " The rows around +1000 alone and the row around -1000 alone, each in a call of its own, give the right answer, but not together: the rows' results depend on each other, as when all rows are shifted by one maximum, the whole array's (scores.max()). Shift each row by its own maximum, scores.max(axis=1, keepdims=True)."
        raise CheckFailed(f'{failure}{hint}') from None

