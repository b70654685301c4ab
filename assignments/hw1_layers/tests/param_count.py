from otter.test_files import test_case

OK_FORMAT = False

name = "param_count"
points = 2

@test_case(points=None, hidden=False)
def test_param_count(mlp_param_count, answer_one_hidden, answer_two_hidden, np):
    from nn_checks import CheckFailed, expect_int
    counted = mlp_param_count([2, 3, 1])
    try:
        expect_int(counted, 'mlp_param_count', 13, 'mlp_param_count([2, 3, 1])')
    except CheckFailed as failure:
        hint = ' It counts the weights but not the biases.' if counted == 9 else ''
        raise CheckFailed(f'{failure} (2 * 3 weights and 3 biases, then 3 * 1 and 1.){hint}') from None
    for name, answer in [('answer_one_hidden', answer_one_hidden), ('answer_two_hidden', answer_two_hidden)]:
        if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
            raise CheckFailed(f'{name} must be a whole number (an int), not {type(answer).__name__}.')

