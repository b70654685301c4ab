from otter.test_files import test_case

OK_FORMAT = False

name = "mse"
points = 2

@test_case(points=None, hidden=False)
def test_mse(mse_loss, np):
    from nn_checks import expect_close, expect_gradient, expect_scalar, expect_tuple, expect_unchanged, mse_gradient_hints
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.5, 2.0], [2.0, 5.0]])
    before = {'pred': pred.copy(), 'y': y.copy()}
    loss, dpred = expect_tuple(mse_loss(pred, y), 2, 'mse_loss', 'loss, dpred')
    expect_unchanged(before, [pred, y], 'mse_loss')
    loss = expect_scalar(loss, 'mse_loss', 'loss')
    hints = {'It is the sum, 4x the mean: the loss is the mean over all K = 4 elements (divide the sum by the number of elements).': np.array(0.5625 * 4), 'It is the sum over all elements divided by the number of rows (2): the loss is the mean over all K = 4 elements (divide by the number of elements).': np.array(0.5625 * 2), "It has an extra 1/2: this homework's loss is the plain mean of squared errors.": np.array(0.5625 / 2)}
    expect_close(np.array(loss), np.array(0.5625), 'mse_loss', 'loss', hints=hints)
    hints = mse_gradient_hints(before['pred'], before['y'])
    expected = [[-0.25, 0.0], [0.5, -0.5]]
    expect_gradient(dpred, expected, 'mse_loss', 'dpred', hints=hints, shape_hint='dpred has the shape of pred.')

