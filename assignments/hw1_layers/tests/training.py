from otter.test_files import test_case

OK_FORMAT = False

name = "training"
points = 4

@test_case(points=None, hidden=False)
def test_two_layer_net_loss(init_two_layer_net, two_layer_net_loss, np):
    from nn_checks import expect_array, expect_close, expect_gradient, expect_scalar, expect_tuple
    from nn_checks import numerical_gradient as numeric
    rng = np.random.default_rng(0)
    params = init_two_layer_net(4, 5, 3, seed=0)
    params['b1'] = rng.uniform(0.1, 0.5, 5)
    x, y = (rng.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2]))
    loss, grads = expect_tuple(two_layer_net_loss(params, x, y), 2, 'two_layer_net_loss', 'loss, grads')
    loss = expect_scalar(loss, 'two_layer_net_loss', 'loss')

    def definition(p):
        scores = np.maximum(x @ p['W1'] + p['b1'], 0) @ p['W2'] + p['b2']
        probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        return -np.mean(np.log(probabilities[np.arange(len(y)), y]))
    expect_close(np.array(loss), np.array(definition(params)), 'two_layer_net_loss', 'loss')
    if not isinstance(grads, dict) or set(grads) != set(params):
        raise AssertionError(f'two_layer_net_loss: grads must be a dict with keys {sorted(params)}.')
    for key in ('W2', 'b2', 'W1', 'b1'):
        expect_array(grads[key], params[key].shape, 'two_layer_net_loss', f'grads[{key!r}]')
        expected = numeric(lambda v, key=key: definition({**params, key: v}), params[key].copy())
        expect_gradient(grads[key], expected, 'two_layer_net_loss', f'grads[{key!r}]', batch_size=6)

@test_case(points=None, hidden=False)
def test_train_xor(train_two_layer_net, predict, np):
    from nn_checks import CheckFailed, expect_tuple
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    result = train_two_layer_net(x, y, hidden_size=8, learning_rate=0.5, epochs=300, batch_size=4, seed=0)
    params, history = expect_tuple(result, 2, 'train_two_layer_net', 'params, loss_history')
    if not hasattr(history, '__len__') or len(history) != 300:
        raise CheckFailed('train_two_layer_net: loss_history must hold one number per epoch (300).')
    trend = f'train_two_layer_net on XOR: the loss went from {history[0]:.3g} to {history[-1]:.3g}'
    if not history[-1] < history[0]:
        raise CheckFailed(f'{trend}; it must go down.')
    if not np.all(predict(params, x) == y):
        raise CheckFailed(f'{trend}, but the trained network predicts {predict(params, x)} for XOR, not {y}.')

