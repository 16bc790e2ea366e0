import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_tf.errors import UserError
from sr_tf.models import build_model
from sr_tf.weights import (
    init_from_other_scale,
    load_generator_weights,
    save_weights_atomic,
    transfer_matching,
    weights_equal,
)

TINY = {"num_blocks": 1, "num_features": 8}


def test_weights_file_roundtrip_is_atomic(tmp_path):
    model = build_model("edsr-baseline", 2, **TINY)
    path = save_weights_atomic(model, tmp_path / "m.weights.h5")
    assert [p.name for p in tmp_path.iterdir()] == ["m.weights.h5"]
    other = build_model("edsr-baseline", 2, **TINY)
    assert not weights_equal(model, other)
    assert load_generator_weights(other, path).startswith("weights")
    assert weights_equal(model, other)


def test_load_from_a_training_checkpoint_folder(tmp_path):
    model = build_model("srresnet", 2, **TINY)
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)  # variables then live under the optimizer's path
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    tf.train.CheckpointManager(checkpoint, str(tmp_path / "checkpoints"), 2).save()
    other = build_model("srresnet", 2, **TINY)
    assert load_generator_weights(other, tmp_path).startswith("checkpoint")
    assert weights_equal(model, other)


def test_mismatches_are_user_errors(tmp_path):
    path = save_weights_atomic(build_model("edsr-baseline", 2, **TINY), tmp_path / "m.weights.h5")
    with pytest.raises(UserError, match="do not fit"):
        load_generator_weights(build_model("edsr-baseline", 2, num_blocks=2, num_features=8), path)
    with pytest.raises(UserError, match="no such"):
        load_generator_weights(
            build_model("edsr-baseline", 2, **TINY), tmp_path / "nope.weights.h5"
        )
    (tmp_path / "bad.weights.h5").write_bytes(b"garbage")
    with pytest.raises(UserError):
        load_generator_weights(build_model("edsr-baseline", 2, **TINY), tmp_path / "bad.weights.h5")


def test_x4_initialised_from_x2_copies_everything_but_the_upsampler(tmp_path):
    x2 = build_model("edsr-baseline", 2, **TINY)
    path = save_weights_atomic(x2, tmp_path / "x2.weights.h5")
    x4 = build_model("edsr-baseline", 4, **TINY)
    up1_before = x4.get_layer("up1_conv").get_weights()[0].copy()
    message = init_from_other_scale(x4, path, "edsr-baseline", **TINY)
    assert "from x2" in message
    for name in ("head", "block0_conv1", "body_tail", "up0_conv", "tail"):
        assert all(
            np.array_equal(a, b)
            for a, b in zip(x2.get_layer(name).get_weights(), x4.get_layer(name).get_weights())
        )
    assert np.array_equal(x4.get_layer("up1_conv").get_weights()[0], up1_before)
    assert transfer_matching(x2, build_model("edsr-baseline", 3, **TINY)) == 5  # up0 differs at x3


def test_checkpoint_of_another_scale_is_a_user_error_and_inits_x4(tmp_path):
    x2 = build_model("edsr-baseline", 2, **TINY)
    optimizer = keras.optimizers.Adam()
    optimizer.build(x2.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=x2, optimizer=optimizer)
    tf.train.CheckpointManager(checkpoint, str(tmp_path / "checkpoints"), 1).save()
    with pytest.raises(UserError, match="fits"):
        load_generator_weights(build_model("edsr-baseline", 4, **TINY), tmp_path)
    x4 = build_model("edsr-baseline", 4, **TINY)
    assert "from x2" in init_from_other_scale(x4, tmp_path, "edsr-baseline", **TINY)
    assert np.array_equal(
        x4.get_layer("head").get_weights()[0], x2.get_layer("head").get_weights()[0]
    )


def test_damaged_weights_file_is_named_in_one_line(tmp_path):
    model = build_model("edsr-baseline", 2, **TINY)
    path = save_weights_atomic(model, tmp_path / "m.weights.h5")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UserError, match=r"weights file .*m\.weights\.h5 is damaged") as err:
        load_generator_weights(build_model("edsr-baseline", 2, **TINY), path)
    assert "\n" not in str(err.value)


def test_damaged_checkpoint_is_named_with_the_newest_intact_one(tmp_path):
    model = build_model("edsr-baseline", 2, **TINY)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(generator=model), str(tmp_path / "checkpoints"), 5
    )
    manager.save(checkpoint_number=1)
    manager.save(checkpoint_number=2)
    data = next((tmp_path / "checkpoints").glob("ckpt-2.data-*"))
    data.write_bytes(data.read_bytes()[:64])
    other = build_model("edsr-baseline", 2, **TINY)
    with pytest.raises(UserError, match=r"checkpoint .*ckpt-2 is damaged .*newest intact.*ckpt-1"):
        load_generator_weights(other, tmp_path)  # a run folder
    with pytest.raises(UserError, match=r"ckpt-2 is damaged"):
        load_generator_weights(other, tmp_path / "checkpoints" / "ckpt-2")  # a prefix
    (tmp_path / "checkpoints" / "checkpoint").write_text("junk")  # the state file is not needed
    assert load_generator_weights(other, tmp_path / "checkpoints" / "ckpt-1").startswith("check")
    assert weights_equal(model, other)
