from otter.test_files import test_case

OK_FORMAT = False

name = "bumps"
points = 3

@test_case(points=None, hidden=False)
def test_bump_network(bump_network, np):
    from nn_checks import CheckFailed, expect_array, expect_tuple

    def f(x):
        return np.cos(2 * np.pi * x) + x
    rng = np.random.default_rng(3)
    xs = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, 999)]))
    grid = np.linspace(0.0, 1.0, 2001)
    fine = np.linspace(0.0, 1.0, 20001)
    L = np.max(np.abs(np.diff(f(fine)) / np.diff(fine)))
    for n in (5, 10, 20, 40, 80):
        call = f'bump_network(x_samples, f_samples, {n}) for f(x) = cos(2 pi x) + x'
        W1, b1, W2, b2 = expect_tuple(bump_network(xs, f(xs), n), 4, 'bump_network', 'W1, b1, W2, b2')
        units = 'Two hidden units per bump: 2 * n_bumps.'
        W1 = expect_array(W1, (1, 2 * n), call, 'W1', units)
        b1 = expect_array(b1, (2 * n,), call, 'b1', units)
        W2 = expect_array(W2, (2 * n, 1), call, 'W2', units)
        b2 = expect_array(b2, (1,), call, 'b2')
        z = grid[:, None] @ W1 + b1
        e = np.exp(-np.abs(z))
        net = (np.where(z >= 0, 1 / (1 + e), e / (1 + e)) @ W2 + b2)[:, 0]
        error = np.abs(net - f(grid))
        allowed = 1.5 * L / n
        if not error.max() <= allowed:
            k = int(np.argmax(error))
            hint = ''
            inner = (grid >= 1 / n) & (grid <= 1 - 1 / n)
            steps = -b1 / np.where(W1[0] == 0, np.nan, W1[0])
            ends = steps[(np.abs(steps) < 0.1 / n) | (np.abs(steps - 1) < 0.1 / n)]
            if len(ends) and error[inner].max() <= allowed:
                hint = f' Away from the ends (more than 1/n from 0 and 1) the error is within the bound, and a hidden unit steps at x = {ends[0]:.3g}: a step at 0 or 1 is only half up there. Move the outermost steps outside [0, 1].'
            raise CheckFailed(f"{call}: the network's largest error on [0, 1] is {error.max():.3g} at x = {grid[k]:.4g} (network {net[k]:.4g}, f {f(grid[k]):.4g}); allowed 1.5 L / n = {allowed:.3g} (L = max |f'| = {L:.3g}).{hint}")

