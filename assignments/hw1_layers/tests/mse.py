from otter.test_files import test_case

OK_FORMAT = False

name = "mse"
points = 2

@test_case(points=None, hidden=False)
def test_mse(mse_loss, np):
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.5, 2.0], [2.0, 5.0]])
    result = mse_loss(pred, y)
    assert isinstance(result, tuple) and len(result) == 2, 'mse_loss must return (loss, dpred)'
    loss, dpred = result
    assert np.ndim(loss) == 0, 'loss must be a single number'
    assert np.isclose(loss, 0.5625), f'loss is {loss}, expected 0.5625 (the mean of the squared errors)'
    assert np.shape(dpred) == pred.shape, f'dpred has shape {np.shape(dpred)}, expected {pred.shape}'
    assert np.allclose(dpred, [[-0.25, 0.0], [0.5, -0.5]]), f'dpred is {dpred}'

