from otter.test_files import test_case

OK_FORMAT = False

name = "depth_width"
points = 3

@test_case(points=None, hidden=False)
def test_param_count(mlp_param_count, answer_deep_params, answer_wide_params, np):
    from nn_checks import CheckFailed, expect_int
    counted = mlp_param_count([2, 3, 1])
    try:
        expect_int(counted, 'mlp_param_count', 13, 'mlp_param_count([2, 3, 1])')
    except CheckFailed as failure:
        hint = ' It counts the weights but not the biases.' if counted == 9 else ''
        raise CheckFailed(f'{failure} (2 * 3 weights and 3 biases, then 3 * 1 and 1.){hint}') from None
    for name, answer in [('answer_deep_params', answer_deep_params), ('answer_wide_params', answer_wide_params)]:
        if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
            raise CheckFailed(f'{name} must be a whole number (an int), not {type(answer).__name__}.')

@test_case(points=None, hidden=False)
def test_sawtooth_networks(deep_sawtooth, wide_sawtooth, sawtooth, np):
    from nn_checks import CheckFailed, describe, expect_array, expect_tuple
    k, x = (3, np.linspace(0.0, 1.0, 1001)[:, None])
    layers = deep_sawtooth(k)
    if not isinstance(layers, (list, tuple)) or len(layers) != k + 1:
        raise CheckFailed(f'deep_sawtooth({k}) returned {describe(layers)}; expected a list of {k + 1} (W, b) layers.')
    shapes = [((1, 2), (2,))] + [((2, 2), (2,))] * (k - 1) + [((2, 1), (1,))]
    h = x
    for index, (layer, (w_shape, b_shape)) in enumerate(zip(layers, shapes)):
        W, b = expect_tuple(layer, 2, f'deep_sawtooth({k})', f'layer {index}: (W, b)')
        h = h @ expect_array(W, w_shape, f'deep_sawtooth({k})', f'layer {index} W') + expect_array(b, b_shape, f'deep_sawtooth({k})', f'layer {index} b')
        h = np.maximum(h, 0.0) if index < k else h
    error = np.abs(h[:, 0] - sawtooth(x[:, 0], k))
    if not error.max() <= 1e-08:
        i = int(np.argmax(error))
        raise CheckFailed(f'deep_sawtooth({k}): at x = {x[i, 0]:.4g} the network gives {h[i, 0]:.6g}, sawtooth gives {sawtooth(x[i, 0], k):.6g} (ReLU after every layer but the last).')
    W1, b1, W2, b2 = expect_tuple(wide_sawtooth(k), 4, f'wide_sawtooth({k})', 'W1, b1, W2, b2')
    units = 2 ** k
    W1 = expect_array(W1, (1, units), f'wide_sawtooth({k})', 'W1', 'One hidden unit per linear piece: 2**k.')
    b1 = expect_array(b1, (units,), f'wide_sawtooth({k})', 'b1')
    W2 = expect_array(W2, (units, 1), f'wide_sawtooth({k})', 'W2')
    b2 = expect_array(b2, (1,), f'wide_sawtooth({k})', 'b2')
    out = (np.maximum(x @ W1 + b1, 0.0) @ W2 + b2)[:, 0]
    error = np.abs(out - sawtooth(x[:, 0], k))
    if not error.max() <= 1e-08:
        i = int(np.argmax(error))
        raise CheckFailed(f'wide_sawtooth({k}): at x = {x[i, 0]:.4g} the network gives {out[i]:.6g}, sawtooth gives {sawtooth(x[i, 0], k):.6g}.')

