from otter.test_files import test_case

OK_FORMAT = False

name = "training"
points = 3

@test_case(points=None, hidden=False)
def test_train_first_steps(train, Value, MLP, Layer):
    import math
    import random
    from nn_checks import CheckFailed, describe, expect_tuple
    xs, ys = ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [-1.0, 1.0, 1.0, -1.0])
    rng, p0 = (random.Random(0), [])
    for fan_in, fan_out in ((2, 8), (8, 1)):
        for _ in range(fan_out):
            p0 += [rng.uniform(-1, 1) for _ in range(fan_in)] + [0.0]

    def public_checks(question, names):
        import importlib.util
        import inspect
        import pathlib
        path = pathlib.Path('tests') / f'{question}.py'
        if not path.exists():
            return ''
        spec = importlib.util.spec_from_file_location(f'public_{question}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for case in list(vars(module).values()):
            function = getattr(case, 'test_func', None)
            if callable(function):
                try:
                    function(**{name: names.get(name) for name in inspect.signature(function).parameters})
                except Exception as error:
                    return f'{type(error).__name__}: {error}'
        return ''
    try:
        a, b, c = (Value(-2.0), Value(5.0), Value(-4.0))
        ((a + b) * c).backward()
        engine = '' if [a.grad, b.grad, c.grad] == [-4.0, -4.0, 3.0] else '((a + b) * c).backward(): wrong gradients'
        engine = engine or public_checks('value', {'Value': Value})
    except Exception as error:
        engine = f'{type(error).__name__}: {error}'
    if engine:
        raise CheckFailed(f'train uses your Value, which fails its own checks ({engine}; run grader.check("value")): fix value first. Training points need value and neuron_mlp to pass their own checks (the notebook).')
    try:
        mlp_ok = all((abs(q.data - e) <= 1e-12 for q, e in zip(MLP(2, [8, 1], seed=0).parameters(), p0, strict=True)))
        mlp_ok = mlp_ok and (not public_checks('neuron_mlp', {'MLP': MLP, 'Layer': Layer}))
    except Exception:
        mlp_ok = False
    if not mlp_ok:
        raise CheckFailed('train starts from your MLP, which fails its own checks (run grader.check("neuron_mlp")): fix neuron_mlp first. Training points need value and neuron_mlp to pass their own checks (the notebook).')

    def loss(p):
        total = 0.0
        for x, y in zip(xs, ys):
            hidden = [math.tanh(sum((p[3 * j + i] * x[i] for i in range(2))) + p[3 * j + 2]) for j in range(8)]
            score = sum((p[24 + j] * hidden[j] for j in range(8))) + p[32]
            total += (score - y) ** 2
        return total / len(xs)

    def gradient(p):
        grads = []
        for k in range(len(p)):
            plus, minus = (list(p), list(p))
            plus[k] += 1e-06
            minus[k] -= 1e-06
            grads.append((loss(plus) - loss(minus)) / 2e-06)
        return grads

    def same(a, b):
        return len(a) == len(b) and all((abs(u - v) <= 1e-06 * max(1.0, abs(v)) for u, v in zip(a, b)))
    g0 = gradient(p0)
    p1 = [p - 0.1 * g for p, g in zip(p0, g0)]
    g1 = gradient(p1)
    p2 = [p - 0.1 * g for p, g in zip(p1, g1)]
    after = [loss(p1), loss(p2)]
    for steps, wanted, wanted_losses in ((1, p1, [loss(p0)]), (2, p2, [loss(p0), loss(p1)])):
        call = f'train(XOR, nouts=(8, 1), steps={steps}, learning_rate=0.1, seed=0)'
        values, losses = expect_tuple(train(xs, ys, nouts=(8, 1), steps=steps, learning_rate=0.1, seed=0), 2, 'train', 'parameter_values, loss_history')
        if not isinstance(values, list) or len(values) != 33 or (not all((isinstance(v, (int, float)) for v in values))):
            raise CheckFailed(f'train: parameter_values must be a list of 33 floats, got {describe(values)} (floats: p.data, not the Value).')
        if not isinstance(losses, list) or len(losses) != steps or (not all((isinstance(v, (int, float)) for v in losses))):
            raise CheckFailed(f'train: loss_history must be a list of {steps} floats (one per step), got {describe(losses)} (floats: loss.data, not the Value).')
        for k, (a, e) in enumerate(zip(losses, wanted_losses)):
            if abs(a - e) > 1e-06 * max(1.0, e):
                if abs(a - after[k]) <= 1e-06 * max(1.0, after[k]):
                    why = "That is the loss after the step's update: record each step's loss before its update (the loss at the parameters the step starts from)."
                elif abs(a - len(xs) * e) <= 1e-06 * max(1.0, len(xs) * e):
                    why = f'That is {len(xs)} times the loss, the number of points: L is the mean of the squared errors over the points (divide the sum by N), not their sum.'
                elif k == 0:
                    why = "train starts from MLP(2, [8, 1], seed=0) (tanh hidden layers, a linear last layer) and records L = mean of (score - y)**2 over the points: check the network's forward and the loss."
                else:
                    why = "loss_history[0] agrees: check the update of step 0 (the returned parameters' check says more)."
                raise CheckFailed(f'{call}: loss_history[{k}] is {a:.6g}, but after {k} steps of full-batch gradient descent from the initial parameters the loss is {e:.6g}. {why}')
        if not same(values, wanted):
            hint = ''
            if same(values, [p + 0.1 * g for p, g in zip(p0, g0)]):
                hint = ' That is the update p.data += learning_rate * p.grad: minus, not plus.'
            elif steps == 2 and same(values, [p - 0.1 * (a + b) for p, a, b in zip(p1, g0, g1)]):
                hint = " That is what grads that are never set to 0 give: set every parameter's grad to 0 before each backward()."
            elif same(values, p0[:24] + p1[24:]):
                hint = ' Only the last layer changed: update every parameter of model.parameters().'
            j = next((j for j in range(33) if abs(values[j] - wanted[j]) > 1e-06 * max(1.0, abs(wanted[j]))))
            raise CheckFailed(f'{call}: the returned parameter {j} is {values[j]:.6g}, expected {wanted[j]:.6g} after {steps} step(s) of full-batch gradient descent (p.data -= learning_rate * p.grad on the mean loss over all the points) from the initial parameters.{hint}')

