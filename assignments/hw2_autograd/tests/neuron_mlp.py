from otter.test_files import test_case

OK_FORMAT = False

name = "neuron_mlp"
points = 2

@test_case(points=None, hidden=False)
def test_mlp_parameters_and_output(MLP, Layer):
    from nn_checks import CheckFailed
    model = MLP(3, [4, 4, 1])
    count = len(model.parameters())
    if count != 41:
        raise CheckFailed(f'MLP(3, [4, 4, 1]).parameters() has {count} items, expected 41 (every neuron: its weights and its bias).')
    out = model([1.0, -2.0, 0.5])
    if not isinstance(out, list) or len(out) != 1:
        raise CheckFailed(f"MLP(3, [4, 4, 1])([1.0, -2.0, 0.5]) returned a {type(out).__name__}, expected a list of 1 Value: calling an MLP returns the list of the last layer's outputs, even when there is one (the notebook).")
    out = Layer(3, 1)([1.0, -2.0, 0.5])
    if not isinstance(out, list) or len(out) != 1:
        raise CheckFailed(f"Layer(3, 1)([1.0, -2.0, 0.5]) returned a {type(out).__name__}, expected a list of 1 Value: calling a Layer returns the list of its neurons' outputs, even when there is one (the notebook).")

@test_case(points=None, hidden=False)
def test_mlp_initialisation(MLP):
    import random
    from nn_checks import CheckFailed
    rng, expected = (random.Random(0), [])
    for fan_in, fan_out in ((2, 3), (3, 1)):
        for _ in range(fan_out):
            expected += [rng.uniform(-1, 1) for _ in range(fan_in)] + [0.0]
    actual = [p.data for p in MLP(2, [3, 1], seed=0).parameters()]
    if len(actual) != len(expected):
        raise CheckFailed(f'MLP(2, [3, 1]).parameters() has {len(actual)} items, expected {len(expected)}.')

    def same(a, b):
        return len(a) == len(b) and all((abs(u - v) <= 1e-12 for u, v in zip(a, b)))
    orders = {"each neuron's bias before its weights": [p for k in range(0, 9, 3) for p in [expected[k + 2], *expected[k:k + 2]]] + [expected[12], *expected[9:12]], "all of a layer's weights, then all its biases": [expected[k] for k in (0, 1, 3, 4, 6, 7, 2, 5, 8)] + expected[9:]}
    for order, candidate in orders.items():
        if same(actual, candidate):
            raise CheckFailed(f"MLP(2, [3, 1], seed=0).parameters() has the right numbers in another order: {order}. The notebook: parameters() lists layer by layer, neuron by neuron, each neuron's weights, then its bias.")
    for k, (a, e) in enumerate(zip(actual, expected)):
        if abs(a - e) > 1e-12:
            raise CheckFailed(f"MLP(2, [3, 1], seed=0).parameters(): parameter {k} is {a:.6g}, expected {e:.6g}. The notebook's initialisation: MLP makes one random.Random(seed) and hands it to each Layer, which hands it to each Neuron in turn; each neuron draws its nin weights with rng.uniform(-1, 1), in order; every bias is 0.")

@test_case(points=None, hidden=False)
def test_mlp_forward(MLP):
    import math
    from nn_checks import expect_number
    model = MLP(2, [2, 1])
    values = [0.5, -1.0, 0.25, 0.75, 0.5, -0.5, 1.5, -2.0, 0.3]
    for p, v in zip(model.parameters(), values):
        p.data = v
    x = [0.8, -0.4]
    hidden = [math.tanh(values[3 * j] * x[0] + values[3 * j + 1] * x[1] + values[3 * j + 2]) for j in range(2)]
    expected = values[6] * hidden[0] + values[7] * hidden[1] + values[8]
    expect_number(model(x)[0].data, expected, 'MLP output 0', '(MLP(2, [2, 1]) with these parameter values, in parameters() order: tanh in every layer but the last).')
    for p in model.parameters():
        p.grad = 0.0
    out = model(x)[0]
    out.backward()
    grads = [p.grad for p in model.parameters()]
    if all((g == 0 for g in grads)) and out.grad == 0:
        hint = "Every parameter's grad is 0, and so is the output's own: backward() must set the root's grad to 1."
    elif all((g == 0 for g in grads)):
        hint = "Every parameter's grad is 0 after backward() on the output: the MLP's forward must compute with Values (w * x + b and tanh() on Values, not on their .data) so that backward() reaches the parameters."
    else:
        hint = 'The output layer is linear: d(out)/d(its weight j) is hidden output j, d(out)/d(its bias) is 1.'
    for k, wanted in ((6, hidden[0]), (7, hidden[1]), (8, 1.0)):
        expect_number(grads[k], wanted, f'MLP: grad of parameter {k} after model(x)[0].backward()', hint)

