from otter.test_files import test_case

OK_FORMAT = False

name = "training"
points = 4

@test_case(points=None, hidden=False)
def test_two_layer_net_loss(init_two_layer_net, two_layer_net_loss, np):
    rng = np.random.default_rng(0)
    params = init_two_layer_net(4, 5, 3, seed=0)
    x, y = (rng.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2]))
    result = two_layer_net_loss(params, x, y)
    assert isinstance(result, tuple) and len(result) == 2, 'two_layer_net_loss must return (loss, grads)'
    loss, grads = result
    assert np.ndim(loss) == 0 and np.isfinite(loss), 'loss must be a single finite number'
    assert isinstance(grads, dict) and set(grads) == {'W1', 'b1', 'W2', 'b2'}, 'grads must be a dict with keys W1, b1, W2, b2'
    for key in params:
        assert np.shape(grads[key]) == params[key].shape, f'grads[{key!r}] has shape {np.shape(grads[key])}, expected {params[key].shape}'

@test_case(points=None, hidden=False)
def test_train_xor(train_two_layer_net, predict, np):
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    params, loss_history = train_two_layer_net(x, y, hidden_size=8, learning_rate=0.5, epochs=300, batch_size=4, seed=0)
    assert len(loss_history) == 300, 'loss_history must hold one value per epoch'
    assert loss_history[-1] < loss_history[0], 'the loss did not go down'
    assert np.all(predict(params, x) == y), 'the trained network does not solve XOR'

