from otter.test_files import test_case

OK_FORMAT = False

name = "param_count"
points = 2

@test_case(points=None, hidden=False)
def test_param_count(mlp_param_count, answer_one_hidden, answer_two_hidden, np):
    assert mlp_param_count([2, 3, 1]) == 13, f'mlp_param_count([2, 3, 1]) is {mlp_param_count([2, 3, 1])}, expected 13 (6 + 3 weights and biases, then 3 + 1)'
    for name, answer in [('answer_one_hidden', answer_one_hidden), ('answer_two_hidden', answer_two_hidden)]:
        assert isinstance(answer, (int, np.integer)), f'{name} must be a whole number, not {type(answer).__name__}'

