from otter.test_files import test_case

OK_FORMAT = False

name = "neuron_mlp"
points = 2

@test_case(points=None, hidden=False)
def test_mlp_parameters(MLP, np):
    model = MLP(3, [4, 4, 1])
    assert len(model.parameters()) == 41, f'MLP(3, [4, 4, 1]) has 41 parameters, got {len(model.parameters())}'
    out = model([1.0, -2.0, 0.5])
    assert isinstance(out, list) and len(out) == 1, 'an MLP returns the list of its outputs'

