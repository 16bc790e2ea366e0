"""sr_tf.inference.tiling: tile layout and blending weights."""

import numpy as np
import pytest

from sr_tf.errors import UserError
from sr_tf.inference import (
    blend_weights,
    check_tiling,
    tile_starts,
)


def test_tile_layout_covers_with_equal_tiles_and_enough_shared_context():
    for length, tile, overlap in [
        (96, 48, 12),
        (100, 40, 8),
        (2040, 296, 16),
        (37, 64, 16),
        (50, 11, 5),
    ]:
        size, starts = tile_starts(length, tile, overlap)
        assert size <= max(tile, 0) or starts == [0]
        assert starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - 2 * overlap for a, b in zip(starts, starts[1:], strict=False))
        for scale in (2, 3):
            weights = blend_weights(length, size, starts, overlap, scale)
            total = np.zeros(length * scale)
            for start, w in zip(starts, weights, strict=True):
                assert w.shape == (size * scale,) and w.min() >= 0
                # A tile contributes only where it has at least overlap/2 pixels of context.
                used = np.nonzero(w)[0] / scale
                if start > 0:
                    assert used.min() >= overlap / 2 - 1 / scale
                if start + size < length:
                    assert size - used.max() >= overlap / 2
                total[start * scale : (start + size) * scale] += w
            np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_bad_tile_settings_are_one_line_user_errors():
    for tile, overlap in [(0, 4), (-8, 4), (16, 8), (10, 16), (32, -1)]:
        with pytest.raises(UserError) as err:
            check_tiling(tile, overlap)
        assert "\n" not in str(err.value)
