"""sr_tf.inference.cost: memory sizes and a model's bytes and FLOPs counted from its graph."""

import platform

import pytest

from sr_tf.errors import UserError
from sr_tf.inference import (
    MB,
    model_cost,
    parse_memory,
    release_memory_promptly,
)
from sr_tf.models import build_model


def test_model_cost_is_counted_from_the_graph():
    cost = model_cost(build_model("edsr-baseline", 4))
    # 64-channel 3x3 convs: 33 at LR, the x2 upsampler conv (64 -> 256), the x4 one at 2x, the
    # 3-channel tail at 4x: 2 * 9 * (33 * 64 * 64 + 64 * 3 + 64 * 256 + 4 * 64 * 256 + 16 * 64 * 3)
    assert cost.flops_per_lr_pixel == 2 * 9 * (33 * 64 * 64 + 64 * 3 + 5 * 64 * 256 + 16 * 64 * 3)
    # The x4 pixel shuffle holds 256 channels at x2 and 64 channels at x4: 2 * 4096 bytes.
    assert cost.bytes_per_lr_pixel == 8192


def test_memory_sizes_are_read_or_refused_in_one_line():
    for bad in ("lots", "-1GB", "0", "1.5XB"):
        with pytest.raises(UserError) as err:
            parse_memory(bad)
        assert "\n" not in str(err.value)
    assert parse_memory("1.5GB") == parse_memory("1.5g") == 3 << 29
    assert parse_memory("800MB") == 800 * MB and parse_memory(1000) == 1000


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_freed_tile_memory_goes_back_to_the_os():
    assert release_memory_promptly() and release_memory_promptly()  # once, then remembered
