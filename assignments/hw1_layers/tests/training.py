from otter.test_files import test_case

OK_FORMAT = False

name = "training"
points = 4

@test_case(points=None, hidden=False)
def test_training(linear_forward, linear_backward, relu_forward, relu_backward, softmax_cross_entropy, init_two_layer_net, two_layer_net_loss, train_two_layer_net, np):
    from nn_checks import CheckFailed, describe, expect_array, expect_close, expect_gradient, expect_scalar, expect_tuple, relative_errors, with_noise
    from nn_checks import numerical_gradient as numeric

    def layers_first():
        """As the autograder does when training fails: "" when the layers two_layer_net_loss uses pass
        their own checks, else which one fails."""
        rng = np.random.default_rng(7)
        x, W, b = (rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3))
        dout = rng.standard_normal((4, 3))
        h = rng.uniform(0.05, 2.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
        h[1, 2] = 0.0
        dh = rng.standard_normal((4, 5))
        scores, labels = (rng.standard_normal((6, 4)), rng.integers(0, 3, 6))

        def linear():
            out, cache = expect_tuple(linear_forward(x, W, b), 2, 'linear_forward', 'out, cache')
            expect_close(out, x @ W + b, 'linear_forward', 'out')
            grads = expect_tuple(linear_backward(dout, cache), 3, 'linear_backward', 'dx, dW, db')
            for name, forward, value, actual in zip(('dx', 'dW', 'db'), (lambda v: v @ W + b, lambda v: x @ v + b, lambda v: x @ W + v), (x, W, b), grads):
                expect_gradient(actual, numeric(forward, value.copy(), dout), 'linear_backward', name)
            _, first = linear_forward(x, W, b)
            _, second = linear_forward(x @ W + b, np.ones((3, 2)), np.zeros(2))
            linear_backward(np.ones((4, 2)), second)
            try:
                grads = expect_tuple(linear_backward(dout, first), 3, 'linear_backward', 'dx, dW, db')
                for name, forward, value, actual in zip(('dx', 'dW', 'db'), (lambda v: v @ W + b, lambda v: x @ v + b, lambda v: x @ W + v), (x, W, b), grads):
                    expect_gradient(actual, numeric(forward, value.copy(), dout), 'linear_backward', name)
            except Exception as failure:
                text = str(failure) if isinstance(failure, CheckFailed) else f'{type(failure).__name__}: {failure}'
                raise CheckFailed(f"linear_backward (called as in a network: another linear_forward call between its own linear_forward and it): {text.rstrip('.')}; called right after its own linear_forward it is right: it must take x and W from its cache") from None

        def relu():
            out, cache = expect_tuple(relu_forward(h.copy()), 2, 'relu_forward', 'out, cache')
            expect_close(out, np.maximum(h, 0.0), 'relu_forward', 'out')
            expect_close(relu_backward(dh.copy(), cache), dh * (h > 0), 'relu_backward', 'dx', rtol=1e-13)

        def softmax_ce():
            loss, dscores = expect_tuple(softmax_cross_entropy(scores, labels), 2, 'softmax_cross_entropy', 'loss, dscores')
            p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
            expected_loss = -np.mean(np.log(p[np.arange(6), labels]))
            expect_close(np.array(expect_scalar(loss, 'softmax_cross_entropy', 'loss')), np.array(expected_loss), 'softmax_cross_entropy', 'loss')
            expect_gradient(dscores, (p - np.eye(4)[labels]) / 6, 'softmax_cross_entropy', 'dscores')
        for question, check in (('linear', linear), ('relu', relu), ('softmax_ce', softmax_ce)):
            try:
                check()
            except Exception as failure:
                text = str(failure) if isinstance(failure, CheckFailed) else f'{type(failure).__name__}: {failure}'
                function = text.split(':')[0].split()[0] if isinstance(failure, CheckFailed) else question
                return f"two_layer_net_loss uses your {function}, which fails its own checks ({text.rstrip('.')}): fix {question} first."
        return ''

    def loss_and_gradients():
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
            raise CheckFailed(f'two_layer_net_loss: grads must be a dict with keys {sorted(params)}, got {describe(grads)}.')
        for key in ('W2', 'b2', 'W1', 'b1'):
            expect_array(grads[key], params[key].shape, 'two_layer_net_loss', f'grads[{key!r}]')
            expected = numeric(lambda v, key=key: definition({**params, key: v}), params[key].copy())
            expect_gradient(grads[key], expected, 'two_layer_net_loss', f'grads[{key!r}]', batch_size=6)

    def procedure():
        x = np.random.default_rng(0).standard_normal((10, 2))
        y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
        call = 'train_two_layer_net(x, y, hidden_size=4, learning_rate=0.3, epochs=3, batch_size=4, seed=1)'
        expected_history = [1.03696193545, 0.96325798044, 0.971463576923]
        expected = {'W1': np.array([0.315809588158, 0.684523288371, 0.134770299731, -0.851923908245, 0.681999219423, 0.452565533604, -0.538676703215, 0.538411992632]).reshape(2, 4), 'b1': np.array([0.0100826499119, 0.163386172896, 0.172282662141, -0.0479859949876]), 'W2': np.array([0.385567945433, 0.0653865803287, -0.107390958683, 0.495786526377, -0.418814218859, -0.253297831709, -0.309280442693, 0.423281587611, -0.0357766411995, -0.00653165379203, -0.495760272862, -0.163486800317]).reshape(4, 3), 'b2': np.array([-0.00912315058266, 0.0553249639521, -0.0462018133695])}
        mistakes = {'the update param += learning_rate * grad: the update is param -= learning_rate * grad (minus, not plus)': [0.965975733981, 1.07206484352, 1.11797193873], 'parameters that never change: are the parameters really updated in every step, param -= learning_rate * grad kept in params': [1.00187506405, 1.00721256985, 1.03493085925], "batches taken in the data's own order in every epoch: each epoch starts with order = rng.permutation(N) and takes the batches in that order": [1.0284392253, 0.986532733273, 0.944934183153], 'every epoch taking its batches in the same order (as a new np.random.default_rng(seed) in every epoch, or one order = rng.permutation(N) drawn before the first epoch, gives): make rng once, before the first epoch, and draw a new order = rng.permutation(N) at the start of every epoch': [1.03696193545, 0.958610215419, 0.910685918136], 'a learning rate of 0.5 (the default) whatever learning_rate is passed: use the learning_rate argument': [1.05923056, 0.950151455165, 0.93237240376], "skipping each epoch's last, smaller batch: the last batch holds the points that are left": [1.08152423711, 1.09014566301, 1.01400411713], "one loss_history entry per batch: loss_history holds one number per epoch, the mean of that epoch's batch losses": [1.11420307681, 1.04884539741, 0.947837332138, 1.02415349022, 1.12168591299, 0.74393453811, 0.882630117966, 0.988236552457, 1.04352406035], "loss_history holding each epoch's last batch loss: record the mean of all that epoch's batch losses": [0.947837332138, 0.74393453811, 1.04352406035], "each epoch's batch losses weighted by batch size: the mean counts every batch once, the last, smaller one too": [1.05478685612, 1.00712266891, 0.957051480239], 'the loss on the whole training set after each epoch: record the mean of the batch losses computed during the epoch, each before its update': [0.995837472611, 0.952353945376, 0.916330217882], 'params = init_two_layer_net(D, hidden_size, C) without the seed (so always its default, seed=0): pass seed, init_two_layer_net(D, hidden_size, C, seed)': [1.18949156486, 1.06472105321, 1.04305541251], 'x[batch] with the labels y[start : start + batch_size] (x shuffled, y not): take both with the same indices, x[batch] and y[batch]': [1.02190774416, 1.20247992521, 1.10402289155]}
        params, history = expect_tuple(train_two_layer_net(x, y, hidden_size=4, learning_rate=0.3, epochs=3, batch_size=4, seed=1), 2, 'train_two_layer_net', 'params, loss_history')
        _, history_again = expect_tuple(train_two_layer_net(x, y, hidden_size=4, learning_rate=0.3, epochs=3, batch_size=4, seed=1), 2, 'train_two_layer_net', 'params, loss_history')
        try:
            repeated = np.array_equal(np.array(history, dtype=float), np.array(history_again, dtype=float))
        except (TypeError, ValueError):
            repeated = True
        if not repeated:
            raise CheckFailed(f'{call}, called twice, gave two different runs (loss_history {list(history)}, then {list(history_again)}): every random draw must come from generators seeded with seed (init_two_layer_net(D, hidden_size, C, seed) and one rng = np.random.default_rng(seed)).')
        if not isinstance(history, (list, tuple, np.ndarray)) or not all((isinstance(v, (int, float, np.floating, np.integer)) for v in history)):
            raise CheckFailed(f'{call}: loss_history must be a list of numbers (one float per epoch), got {describe(history)}.')
        hint = next((f" It matches the notebook's procedure with this mistake: {words}." for words, values in mistakes.items() if len(history) == len(values) and np.max(relative_errors(np.array(history, dtype=float), np.array(values))) <= 1e-06), '')
        if len(history) != 3:
            raise CheckFailed(f'{call}: loss_history has {len(history)} entries; it must hold one number per epoch (3).{hint}')
        errors = relative_errors(np.array(history, dtype=float), np.array(expected_history))
        for k in range(3):
            if not errors[k] <= 1e-06:
                raise CheckFailed(f"{call}: loss_history[{k}] is {history[k]:.6g}, but the notebook's procedure gives {expected_history[k]:.6g} for epoch {k}.{hint}")
        if not isinstance(params, dict) or set(params) != set(expected):
            raise CheckFailed(f'train_two_layer_net: params must be a dict with keys {sorted(expected)}, got {describe(params)}.')
        for key, value in expected.items():
            expect_close(params[key], value, 'train_two_layer_net', f'params[{key!r}] after {call}')

    def replaced(caller, name, stand_in, function):
        """Run function() with the global `name` that `caller` sees replaced by stand_in(original), as
        the autograder does to see which functions call which (restored afterwards)."""
        names = caller.__globals__
        original = names[name]
        names[name] = stand_in(original)
        try:
            return function()
        finally:
            names[name] = original

    def noisy(position, seed, scale):
        """A stand-in maker: the function with its output `position` (None: its only output; a list:
        those) changed by small random amounts, as the autograder changes it (nn_checks.with_noise,
        which counts the calls in `.calls`)."""
        return lambda original: with_noise(original, position, seed, scale)

    def layer_followed(name, outputs, calls, words, follow, params, x, y):
        """ "" when two_layer_net_loss calls `name` `calls` times and its gradients `follow` what it
        returns (changed a little), else what was seen."""
        stand_ins = []

        def stand_in(original):
            stand_ins.append(noisy(outputs, 2, 1 / 6)(original))
            return stand_ins[-1]
        _, grads = replaced(two_layer_net_loss, name, stand_in, lambda: two_layer_net_loss(params, x, y))
        if stand_ins[0].calls != calls:
            inputs = f'{stand_ins[0].calls} different input' + 's' * (stand_ins[0].calls != 1)
            return f'your {name} was called with {inputs}; the network needs it {words}'
        same = [key for key in follow if np.allclose(grads[key], numeric(lambda value: two_layer_net_loss(params, x, y)[0], params[key]), rtol=0.0001, atol=1e-06)]
        if same:
            return f"with what your {name} returns changed a little, {', '.join(same)} stayed the loss's gradient"
        return ''

    def uses_the_layers():
        rng = np.random.default_rng(1)
        layers = {'softmax_cross_entropy': (1, 1, 'once: it gives the loss and dscores', ('W2', 'b2', 'W1', 'b1')), 'linear_backward': ([0, 1, 2], 2, 'twice: once per linear layer', ('W2', 'b2', 'W1', 'b1')), 'relu_backward': (None, 1, 'once: one ReLU layer', ('W1', 'b1'))}
        for name, (outputs, calls, words, follow) in layers.items():
            params = init_two_layer_net(4, 5, 3, seed=0)
            params['b1'] = rng.uniform(0.1, 0.5, 5)
            x, y = (rng.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2]))
            problem = layer_followed(name, outputs, calls, words, follow, params, x, y)
            if problem:
                raise CheckFailed(f"two_layer_net_loss's gradients do not come from your layers: in one call, {problem}. The notebook: two_layer_net_loss uses your layer functions, called by their names, each once per layer (the autograder changes what they return and checks that the gradients carry the changes exactly as backpropagation says).")

    def loop_uses_net_loss():
        x = np.random.default_rng(0).standard_normal((10, 2))
        y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])

        def run():
            return train_two_layer_net(x, y, hidden_size=4, learning_rate=0.3, epochs=3, batch_size=4, seed=1)
        plain = run()
        again = replaced(train_two_layer_net, 'two_layer_net_loss', noisy(1, 3, 0.01), run)
        if np.allclose(np.array(again[1], dtype=float), np.array(plain[1], dtype=float), rtol=1e-12, atol=0):
            raise CheckFailed(f'train_two_layer_net: with small random noise added to the grads two_layer_net_loss returns, loss_history stayed {list(plain[1])}: the loop does not step with those grads. The notebook: for each batch, loss, grads = two_layer_net_loss(params, x[batch], y[batch]), then param -= learning_rate * grad (the autograder replays your run with the same noise).')
    for check in (loss_and_gradients, uses_the_layers, procedure, loop_uses_net_loss):
        try:
            check()
        except Exception as failure:
            text = str(failure) if isinstance(failure, CheckFailed) else f'{type(failure).__name__}: {failure}'
            dependency = layers_first()
            raise CheckFailed(f'{dependency} {text}' if dependency else text) from None
    dependency = layers_first()
    if dependency:
        raise CheckFailed(f"{dependency} Training's checks give no points while a layer two_layer_net_loss uses gives wrong values or gradients in its own checks (the notebook).")

