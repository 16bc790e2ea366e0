"""sr_tf.progress: the training progress lines (as written by nohup or CI, not a terminal)."""

from __future__ import annotations

import io
import math

from sr_tf.progress import Progress, duration


def test_progress_shows_the_first_step_and_no_value_before_it_exists():
    stream = io.StringIO()
    progress = Progress(total=100, start=0, every=50, stream=stream)
    progress.update(1, {"loss": 0.5, "lr": 1e-4, "val_psnr": math.nan})
    for step in range(2, 51):
        progress.update(step, {"loss": 0.4, "lr": 1e-4, "val_psnr": math.nan})
    progress.update(51, {"loss": 0.4, "lr": 1e-4, "val_psnr": 30.0})
    progress.update(100, {"loss": 0.3, "lr": 1e-4, "val_psnr": 31.0})
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/100", "50/100", "100/100"]
    assert "first step, with tracing and compiling" in lines[0]
    assert "eta" not in lines[0] and "steps/s" not in lines[0]
    assert "nan" not in stream.getvalue()
    assert "val_psnr" not in lines[1] and "val_psnr=31" in lines[2]
    assert "eta=" in lines[1] and "steps/s=" in lines[1]


def test_a_resumed_run_counts_from_where_it_resumed():
    stream = io.StringIO()
    progress = Progress(total=40, start=30, every=10, stream=stream)
    for step in range(31, 41):
        progress.update(step, {"loss": 0.1})
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["31/40", "40/40"]


def test_duration():
    assert duration(3723.9) == "1h02m03s"
    assert duration(math.inf) == "?"
