import hashlib

import numpy as np
import pytest

from sr_tf.fileio import atomic_output, sha256_of, write_bytes_atomic, write_text_atomic


def test_success_renames_with_normal_permissions(tmp_path):
    path = write_text_atomic(tmp_path / "sub" / "a.json", "{}\n")
    assert path.read_text() == "{}\n" and path.stat().st_mode & 0o044 == 0o044
    assert write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "sub"]


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "c.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["c.txt"]


def test_sha256_of_reads_a_file_larger_than_its_block_whole(tmp_path):
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 5)
    path = tmp_path / "w.weights.h5"
    path.write_bytes(data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert sha256_of(path) != hashlib.sha256(data).hexdigest()
