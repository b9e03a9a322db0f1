"""training.model: the DBN of Su et al. as a layer table, its size, and the identity it starts as."""
import torch

from training.model import DBN, DBNConfig, fold_batchnorm, layer_names, layer_table, main, parameter_count
from vs_dvd.network import with_gate


def test_the_layer_table_follows_the_paper():
    rows = {r["name"]: r for r in layer_table(DBN(DBNConfig(width=64)))}
    assert list(rows) == layer_names() and len(rows) == 22
    assert (rows["F0"]["in"], rows["F0"]["out"], rows["F0"]["kernel"]) == (15, 64, 5)
    assert [rows[n]["stride"] for n in ("D1", "D2", "D3")] == [2, 2, 2]
    assert [rows[n]["out"] for n in ("D1", "D2", "D3")] == [64, 256, 512]
    assert all(rows[n]["kind"] == "up-conv" and not rows[n]["relu"] for n in ("U1", "U2", "U3"))
    assert (rows["F6_2"]["out"], rows["F6_2"]["relu"]) == (3, False)


def test_the_full_width_model_has_15_300_409_parameters():
    model = DBN(DBNConfig(width=64))
    assert parameter_count(model) == 15_300_409
    assert sum(r["params"] for r in layer_table(model)) == 15_300_409


def test_the_untrained_residual_dbn_is_the_identity_on_the_centre_frame():
    model = DBN(DBNConfig(width=4))
    frames = torch.rand(2, 15, 16, 24)
    for mode in (True, False):  # batch statistics or running ones: F6_2 starts at zero either way
        assert torch.equal(model.train(mode)(frames), frames[:, 6:9])


def test_the_cli_prints_the_table_and_the_total(capsys):
    main(["--width", "64"])
    text = capsys.readouterr().out
    assert text.splitlines()[1].startswith("F0 ") and "15,300,409" in text.splitlines()[-1]


def test_a_new_gate_passes_the_change_and_a_shut_one_returns_the_centre_frame():
    torch.manual_seed(0)
    model = DBN(DBNConfig(width=4)).eval()
    torch.nn.init.normal_(model.F6_2.bn.weight)  # a DBN that changes its input
    gated, frames = with_gate(fold_batchnorm(model)).eval(), torch.rand(2, 15, 16, 24)
    change = model(frames) - frames[:, 6:9]
    assert change.abs().max() > 0.1
    assert torch.allclose(gated(frames), frames[:, 6:9] + 0.9933 * change, atol=1e-4)
    torch.nn.init.constant_(gated.gate.G5.conv.bias, -100.0)
    assert torch.equal(gated(frames), frames[:, 6:9])
    rows = layer_table(gated)
    assert [r["name"] for r in rows[-6:]] == [f"gate.G{i}" for i in range(6)] == layer_names(gate=True)[-6:]
    assert sum(r["params"] for r in rows) == parameter_count(gated)


def test_flops_counts_two_per_multiply_add_of_every_convolution_and_scale_with_the_pixels():
    from torch import nn

    from vs_dvd.network import flops

    layers = nn.Sequential(nn.Conv2d(15, 8, 3, padding=1), nn.ConvTranspose2d(8, 4, 4, 2, 1))
    per_pixel = 2 * 15 * 8 * 9 + 2 * 8 * 4 * 16  # the transposed one: each input pixel meets every weight
    assert flops(layers, 16, 24) == per_pixel * 16 * 24
    assert flops(DBN(), 64, 64) * 4 == flops(DBN(), 128, 128)
