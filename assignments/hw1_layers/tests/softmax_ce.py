from otter.test_files import test_case

OK_FORMAT = False

name = "softmax_ce"
points = 4

@test_case(points=None, hidden=False)
def test_softmax_ce(softmax_cross_entropy, np):
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    y = np.array([2, 0])
    result = softmax_cross_entropy(scores, y)
    assert isinstance(result, tuple) and len(result) == 2, 'softmax_cross_entropy must return (loss, dscores)'
    loss, dscores = result
    assert np.ndim(loss) == 0, 'loss must be a single number'
    assert np.isclose(loss, 0.7531091), f'loss is {loss}, expected 0.7531091'
    assert np.shape(dscores) == scores.shape, f'dscores has shape {np.shape(dscores)}, expected {scores.shape}'
    assert np.allclose(dscores.sum(axis=1), 0), 'each row of dscores must sum to 0 (p minus a one-hot row)'

@test_case(points=None, hidden=False)
def test_softmax_ce_large_scores(softmax_cross_entropy, np):
    scores = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    loss, dscores = softmax_cross_entropy(scores, np.array([2, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(dscores)), 'not finite for scores around 1000: subtract the row max before exp'

