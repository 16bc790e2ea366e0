"""sr_tf.checkpoints: finding ckpt-N by its files, telling an intact one from a damaged one."""

from __future__ import annotations

import tensorflow as tf

from sr_tf.checkpoints import (
    checkpoint_damage,
    find_checkpoints,
    set_aside,
    state_file_names,
    write_state_file,
)


def _save(folder, steps=(1, 2, 3)):
    value = tf.Variable(tf.range(4096, dtype=tf.float32))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=value), str(folder), 10)
    for step in steps:
        value.assign_add(tf.ones_like(value))
        manager.save(checkpoint_number=step)


def test_checkpoints_are_found_by_their_files_newest_first(tmp_path):
    _save(tmp_path)
    (tmp_path / "checkpoint").write_text("junk")
    (tmp_path / "ckpt-9_temp").mkdir()  # what a save killed half-way leaves: not a checkpoint
    found = find_checkpoints(tmp_path)
    assert [c.step for c in found] == [3, 2, 1]
    assert found[0].prefix == tmp_path / "ckpt-3"
    assert {p.name for p in found[0].files} == {"ckpt-3.index", "ckpt-3.data-00000-of-00001"}
    assert find_checkpoints(tmp_path / "absent") == []


def test_damage_is_found_before_anything_is_restored(tmp_path):
    _save(tmp_path)
    assert checkpoint_damage(tmp_path / "ckpt-3") is None
    data = tmp_path / "ckpt-3.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    assert checkpoint_damage(tmp_path / "ckpt-3")
    (tmp_path / "ckpt-2.index").unlink()
    assert checkpoint_damage(tmp_path / "ckpt-2") == "ckpt-2.index is missing"
    (tmp_path / "ckpt-1.index").write_bytes(b"\x00" * 10)
    assert checkpoint_damage(tmp_path / "ckpt-1")


def test_set_aside_keeps_the_files_and_the_reason(tmp_path):
    _save(tmp_path, steps=(1,))
    (checkpoint,) = find_checkpoints(tmp_path)
    folder = set_aside(checkpoint, "test reason")
    assert find_checkpoints(tmp_path) == []
    assert sorted(p.name for p in folder.iterdir()) == [
        "REASON.txt",
        "ckpt-1.data-00000-of-00001",
        "ckpt-1.index",
    ]
    assert (folder / "REASON.txt").read_text() == "ckpt-1: test reason\n"


def test_state_file_is_read_and_rewritten(tmp_path):
    _save(tmp_path)
    assert state_file_names(tmp_path) == "ckpt-3"
    (tmp_path / "checkpoint").write_bytes(b"\xff\xfe junk")
    assert state_file_names(tmp_path) is None
    write_state_file(tmp_path, find_checkpoints(tmp_path)[1])
    assert state_file_names(tmp_path) == "ckpt-2"
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-2")
    assert len(list(tmp_path.glob("checkpoint.damaged-*"))) == 1
