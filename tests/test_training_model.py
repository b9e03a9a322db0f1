"""training.model: the DBN of Su et al. as a layer table, its size, and the identity it starts as."""
import torch

from training.model import DBN, DBNConfig, layer_names, layer_table, main, parameter_count


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
