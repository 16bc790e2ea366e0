"""scripts/gan_study.py: one train.py command per objective, other train.py options passed on."""

from __future__ import annotations

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def gan_study():
    return load_script("gan_study")


def test_every_objective_gets_the_same_command_but_its_loss(gan_study):
    args = gan_study.parse_args(["--output", "out", "--precision", "float32"])
    commands = {name: gan_study.training_command(name, args) for name in gan_study.OBJECTIVES}
    for name, command in commands.items():
        assert command[command.index("--gan-loss") + 1] == name
        assert command[-2:] == ["--output", f"out/{name}"]
        assert command[command.index("--adv-weight") + 1] == "2.5e-4"
    shared = [
        c[: c.index("--gan-loss")] + c[c.index("--gan-loss") + 2 : -2] for c in commands.values()
    ]
    assert all(c == shared[0] for c in shared)


def test_other_train_options_reach_every_run_and_override_the_study(gan_study):
    from sr_tf.cli.train import parse_args as train_args

    argv = ["--precision", "float32", "--d-arch", "fourier", "--freeze-batch-norm"]
    argv += ["--batch-size", "16", "--gradmag-cap", "3", "--content-loss", "mse+5*gradmag"]
    args = gan_study.parse_args(argv)
    assert args.train_options == argv[2:9]  # all but --precision and the study's --content-loss
    command = gan_study.training_command("hinge", args)
    parsed = train_args(command[2:])  # what train.py will see
    assert parsed.d_arch == "fourier" and parsed.freeze_batch_norm
    assert parsed.batch_size == 16  # the study's 8 overridden
    assert parsed.gradmag_cap == 3.0 and parsed.content_loss == "mse+5*gradmag"
    with pytest.raises(SystemExit):
        gan_study.parse_args(["stray"])


def test_the_control_is_the_same_run_without_the_adversarial_term(gan_study):
    from sr_tf.cli.train import parse_args as train_args

    argv = ["--precision", "float32", "--adv-ratio", "0.19", "--control", "--seed", "3"]
    args = gan_study.parse_args(argv)
    control = train_args(gan_study.training_command(gan_study.CONTROL, args)[2:])
    modified = train_args(gan_study.training_command("modified", args)[2:])
    assert control.adv_weight == "0" and control.adv_ratio == 0 and control.seed == 3
    assert control.gan_loss == "modified" and control.output.endswith(gan_study.CONTROL)
    differs = {k for k, v in vars(control).items() if vars(modified)[k] != v}
    assert differs == {"adv_weight", "adv_ratio", "output"}
