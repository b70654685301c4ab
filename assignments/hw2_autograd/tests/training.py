from otter.test_files import test_case

OK_FORMAT = False

name = "training"
points = 3

@test_case(points=None, hidden=False)
def test_train_first_steps(train):
    import math
    import random
    from nn_checks import CheckFailed, describe, expect_tuple
    xs, ys = ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [-1.0, 1.0, 1.0, -1.0])
    rng, p0 = (random.Random(0), [])
    for fan_in, fan_out in ((2, 8), (8, 1)):
        for _ in range(fan_out):
            p0 += [rng.uniform(-1, 1) for _ in range(fan_in)] + [0.0]

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
    for steps, wanted, wanted_losses in ((1, p1, [loss(p0)]), (2, p2, [loss(p0), loss(p1)])):
        call = f'train(XOR, nouts=(8, 1), steps={steps}, learning_rate=0.1, seed=0)'
        values, losses = expect_tuple(train(xs, ys, nouts=(8, 1), steps=steps, learning_rate=0.1, seed=0), 2, 'train', 'parameter_values, loss_history')
        if not isinstance(values, list) or len(values) != 33:
            raise CheckFailed(f'train: parameter_values must be a list of 33 floats, got {describe(values)}.')
        if not isinstance(losses, list) or len(losses) != steps:
            raise CheckFailed(f'train: loss_history must be a list of {steps} floats (one per step), got {describe(losses)}.')
        for k, (a, e) in enumerate(zip(losses, wanted_losses)):
            if abs(a - e) > 1e-06 * max(1.0, e):
                raise CheckFailed(f"{call}: loss_history[{k}] is {a:.6g}, but after {k} steps of full-batch gradient descent from the initial parameters the loss is {e:.6g} (record each step's loss before its update).")
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

