"""Training progress: a bar on a terminal, plain log lines otherwise (nohup, CI).

Shown from the first step (its line says how long tracing and compiling took), with no
value before it exists (no ``val_psnr=nan`` before the first validation) and no time left
before the rate can be measured.
"""

from __future__ import annotations

import math
import sys
import time

import keras


def duration(seconds: float) -> str:
    """``1h02m03s``; ``?`` when not finite."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


class Progress:
    """The progress display of a run from step ``start`` to ``total``."""

    def __init__(
        self,
        total: int,
        start: int,
        every: int,
        stateful: tuple[str, ...] = (),
        show: bool = True,
        stream=None,
    ):
        self.total, self.start, self.every, self.show = total, start, every, show
        self.stream = stream or sys.stdout
        self.t0 = time.perf_counter()
        # The rate is measured from the end of the first step: that one also traces and compiles.
        self.t_first: float | None = None
        shown = ["loss", "steps/s", "lr", "val_psnr", *stateful]  # shown as is, not averaged
        self.bar = (
            keras.utils.Progbar(total, stateful_metrics=shown)
            if show and self.stream.isatty()
            else None
        )
        if self.bar is not None:
            self.bar.update(start)

    def steps_per_second(self, step: int) -> float:
        if self.t_first is None or step <= self.start + 1:
            return (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        return (step - self.start - 1) / max(time.perf_counter() - self.t_first, 1e-9)

    def update(self, step: int, values: dict[str, float]) -> None:
        first = self.t_first is None
        if first:
            self.t_first = time.perf_counter()
        values = {k: v for k, v in values.items() if math.isfinite(v)}
        if not first:
            values["steps/s"] = self.steps_per_second(step)
        if self.bar is not None:
            self.bar.update(step, list(values.items()))
            return
        if not self.show or not (first or step % self.every == 0 or step == self.total):
            return
        text = " ".join(f"{k}={v:.4g}" for k, v in values.items())
        if first:
            took = self.t_first - self.t0
            tail = f"(first step, with tracing and compiling: {took:.1f} s)"
        else:
            tail = f"eta={duration((self.total - step) / values['steps/s'])}"
        print(f"step {step}/{self.total} {text} {tail}", file=self.stream, flush=True)


__all__ = ["Progress", "duration"]
