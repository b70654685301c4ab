from otter.test_files import test_case

OK_FORMAT = False

name = "training"
points = 3

@test_case(points=None, hidden=False)
def test_train_xor(train, np):
    xs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    ys = [-1.0, 1.0, 1.0, -1.0]
    result = train(xs, ys, nouts=(8, 1), steps=150, learning_rate=0.1, seed=0)
    assert isinstance(result, tuple) and len(result) == 2, 'train must return (parameter_values, loss_history)'
    values, losses = result
    assert len(values) == 33, f'an MLP(2, [8, 1]) has 33 parameters, got {len(values)} values'
    assert len(losses) == 150 and losses[-1] < losses[0], 'the loss must go down over the 150 steps'

