#!/usr/bin/env python
"""Speed and memory benchmarks: inference, the roofline against matmul, training and tf.data.

    python benchmarks/bench.py                  # everything (about 30 min on 2 cores), writes
                                                # docs/benchmarks.md and benchmarks/results.json
    python benchmarks/bench.py --only training  # one part: inference, overhead, training, data,
                                                # precision
    python benchmarks/bench.py --only precision --update   # re-run a part, keep the others
    python benchmarks/bench.py --quick          # tiny sizes: checks the script works (no files)

Every configuration runs in its own subprocess, so its peak RSS (``resource.getrusage``) is its
own.  Each subprocess also measures dense matmul GFLOP/s in its own precision right before and
after its timing, so a conv/matmul ratio compares numbers taken under the same machine load;
the ``precision`` part also times that matmul alone in a fresh process, and runs float32 and
bfloat16 side by side (inference and a training step).  Models are randomly initialised at
their paper sizes: speed does not depend on the weight values.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results.json"
DIV2K_SIZE = (1356, 2040)  # height, width of a typical DIV2K validation image


# ----------------------------------------------------------------------------------------------
# Children: one configuration each, printing one RESULT line of JSON


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


MATMUL_SIZE = 2048


def _matmul_gflops(dtype: str = "float32", n: int = MATMUL_SIZE, reps: int = 5) -> float:
    """Dense ``n`` x ``n`` matmul GFLOP/s in ``dtype``: median of ``reps`` calls after 2 warm-ups.

    The same function times the matmul alone (``child_matmul``, a fresh process) and around each
    configuration's timing, so the two can be compared.
    """
    import tensorflow as tf

    a = tf.cast(tf.random.uniform([n, n]), dtype)
    b = tf.cast(tf.random.uniform([n, n]), dtype)
    fn = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    for _ in range(2):  # trace, then one more: oneDNN creates its primitive on first use
        fn(a, b).numpy()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(a, b).numpy()
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / sorted(times)[len(times) // 2] / 1e9


def _load() -> float:
    """1-minute load average (the machine is shared: other work slows every number)."""
    return os.getloadavg()[0]


def child_matmul(cfg: dict) -> dict:
    """The matmul roofline alone in a fresh process (nothing else loaded), and the machine."""
    import tensorflow as tf

    from sr_tf.precision import bfloat16_native

    load_before = _load()
    # Three rounds, the two dtypes alternating, median per dtype: the first seconds of a fresh
    # process (clock ramp-up, page faults) otherwise lower whichever dtype runs first.
    rounds = {"float32": [], "bfloat16": []}
    for _ in range(3):
        for dtype in rounds:
            rounds[dtype].append(_matmul_gflops(dtype, cfg["size"]))
    rates = {dtype: sorted(values)[1] for dtype, values in rounds.items()}
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        **cfg,
        "float32_gflops": rates["float32"],
        "bfloat16_gflops": rates["bfloat16"],
        "rounds": rounds,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "bfloat16_native": bfloat16_native(),
        "tensorflow": tf.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "load": [load_before, _load()],
    }


def _photo(height: int, width: int):
    """Real photographic content at any size: Set14 monarch resized (bicubic) with PIL."""
    import numpy as np
    from PIL import Image

    with Image.open(DATA / "Set14" / "monarch.png") as img:
        return np.asarray(img.convert("RGB").resize((width, height), Image.BICUBIC))


def child_inference(cfg: dict) -> dict:
    import keras
    import numpy as np

    from sr_tf.imageio import write_image
    from sr_tf.inference import TiledUpscaler
    from sr_tf.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model(cfg["model"], cfg["scale"])
    image = _photo(cfg["height"], cfg["width"])
    budget = cfg.get("max_memory")
    if cfg["mode"] == "whole":
        budget = "1000GB"  # never tile
    precision = cfg.get("precision", "float32")
    up = TiledUpscaler(
        model, cfg["scale"], tile=cfg.get("tile"), max_memory=budget, precision=precision
    )
    plan = up.plan(cfg["height"], cfg["width"])
    up.upscale_uint8(image[:32, :32])  # trace the tf.function (shape-polymorphic: traced once)
    rss_loaded = _rss_mb()

    def run():
        if cfg["mode"] == "whole":
            # The reference: the model on the whole image in one call, upsampler not in strips.
            sr = up.run_batch(image[None].astype(np.float32) / 255.0, 1, strip_rows=cfg["height"])
            return np.clip(np.round(sr[0] * 255.0), 0, 255).astype(np.uint8)
        return up.upscale_uint8(image)

    cold_seconds = None
    if cfg.get("steady"):
        # oneDNN builds (JIT-compiles) a kernel for every new tensor shape on its first call; a
        # photo cut into many equal tiles pays that once.  Time the first call at this size
        # apart, then the steady state.
        t0 = time.perf_counter()
        run()
        cold_seconds = time.perf_counter() - t0
    load_before = _load()
    matmul_before = _matmul_gflops(precision)
    times = []
    # Steady state: the best of three calls (on a shared machine, other work only adds time).
    for _ in range(3 if cfg.get("steady") else 1):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    if cfg["mode"] == "whole":
        plan = dataclasses.replace(plan, strip_rows=cfg["height"] if plan.strip_rows else 0)
    matmul_after = _matmul_gflops(precision)
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        write_image(Path(tmp) / "out.png", result)
        write_seconds = time.perf_counter() - t1
    cost = up.cost
    lr_pixels = cfg["height"] * cfg["width"]
    executed_pixels = plan.count * plan.tile_h * plan.tile_w
    executed_flops = cost.flops_per_lr_pixel * executed_pixels
    if up.split_costs is not None:  # the upsampler also repeats its strips' margin rows
        from sr_tf.upsampler_split import strip_windows

        body, tail = up.split_costs
        windows = strip_windows(plan.tile_h, plan.strip_rows, up.split.radius)
        tail_rows = sum(last - first for first, last, _, _ in windows)
        executed_flops = (
            plan.count
            * plan.tile_w
            * (body.flops_per_lr_pixel * plan.tile_h + tail.flops_per_lr_pixel * tail_rows)
        )
    out_mp = result.shape[0] * result.shape[1] / 1e6
    return {
        **cfg,
        "tile_h": plan.tile_h,
        "tile_w": plan.tile_w,
        "tiles": plan.count,
        "estimated_gb": plan.estimated_bytes / 2**30,
        "seconds": seconds,
        "cold_seconds": cold_seconds,
        "calls_seconds": times,
        "write_seconds": write_seconds,
        "output_mp": out_mp,
        "mp_per_s": out_mp / seconds,
        "flops_per_output_pixel": cost.flops_per_lr_pixel / cfg["scale"] ** 2,
        "bytes_per_lr_pixel": cost.bytes_per_lr_pixel,
        "executed_pixel_overhead": executed_pixels / lr_pixels - 1,
        "useful_gflops": cost.flops_per_lr_pixel * lr_pixels / seconds / 1e9,
        "executed_gflops": executed_flops / seconds / 1e9,
        "executed_flop_overhead": executed_flops / (cost.flops_per_lr_pixel * lr_pixels) - 1,
        "strip_rows": plan.strip_rows,
        "matmul_gflops": (matmul_before + matmul_after) / 2,
        "matmul_before_after": [matmul_before, matmul_after],
        "load": [load_before, _load()],
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": _rss_mb(),
        "checksum": int(np.asarray(result, np.int64).sum() % 1_000_003),
    }


def child_training(cfg: dict) -> dict:
    """An EDSR-baseline training step (L1, Adam) written out here with plain Keras/TensorFlow.

    ``precision`` ``bfloat16``: the Keras policy ``mixed_bfloat16`` (float32 variables, bfloat16
    compute; the loss in float32; bfloat16 needs no loss scaling).
    """
    import keras
    import tensorflow as tf

    from sr_tf.inference import model_cost
    from sr_tf.models import build_model

    precision = cfg.get("precision", "float32")
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    keras.utils.set_random_seed(0)
    scale, batch, lr_patch = cfg["scale"], cfg["batch_size"], cfg["lr_patch"]
    model = build_model("edsr-baseline", scale)
    optimizer = keras.optimizers.Adam(1e-4)
    lr = tf.random.uniform([batch, lr_patch, lr_patch, 3])
    hr = tf.random.uniform([batch, lr_patch * scale, lr_patch * scale, 3])

    @tf.function
    def step(lr, hr):
        with tf.GradientTape() as tape:
            sr = tf.cast(model(lr, training=True), tf.float32)
            loss = tf.reduce_mean(tf.abs(hr - sr))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    for _ in range(cfg.get("warmup", 1)):  # the first call traces and builds the optimizer
        step(lr, hr).numpy()
    load_before = _load()
    matmul_before = _matmul_gflops(precision)
    t0 = time.perf_counter()
    for _ in range(cfg["steps"]):
        step(lr, hr).numpy()
    seconds = time.perf_counter() - t0
    matmul_after = _matmul_gflops(precision)
    keras.config.set_dtype_policy("float32")
    forward = model_cost(model).flops_per_lr_pixel * lr_patch * lr_patch * batch
    return {
        **cfg,
        "seconds": seconds,
        "step_seconds": seconds / cfg["steps"],
        "steps_per_s": cfg["steps"] / seconds,
        "patches_per_s": cfg["steps"] * batch / seconds,
        # Backward costs about twice the forward pass (gradients for inputs and for weights).
        "approx_gflops": 3 * forward * cfg["steps"] / seconds / 1e9,
        "matmul_gflops": (matmul_before + matmul_after) / 2,
        "load": [load_before, _load()],
        "peak_rss_mb": _rss_mb(),
    }


def child_data(cfg: dict) -> dict:
    from sr_tf.data import folder_source, training_dataset

    source = folder_source(DATA / "T91")
    ds = training_dataset(
        source,
        cfg["scale"],
        cfg["lr_patch"] * cfg["scale"],
        cfg["batch_size"],
        seed=0,
        cache=cfg["cache"],
    )
    it = iter(ds)
    for _ in range(cfg["warmup"]):
        next(it)
    t0 = time.perf_counter()
    for _ in range(cfg["batches"]):
        next(it)
    seconds = time.perf_counter() - t0
    return {
        **cfg,
        "seconds": seconds,
        "patches_per_s": cfg["batches"] * cfg["batch_size"] / seconds,
        "images": len(source),
        "peak_rss_mb": _rss_mb(),
    }


CHILDREN = {
    "inference": child_inference,
    "training": child_training,
    "data": child_data,
    "matmul": child_matmul,
}


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def run_child(kind: str, cfg: dict) -> dict:
    """Run one configuration in a fresh Python process and return its result."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, __file__, "--child", json.dumps({"kind": kind, **cfg})]
    print(f"  running {kind} {cfg} ...", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.splitlines()[-5:])
        return {**cfg, "kind": kind, "error": f"exit {proc.returncode}: {tail}"}
    result = json.loads(lines[-1][len("RESULT ") :])
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
    result["commit"] = _commit()
    print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    return result


# ----------------------------------------------------------------------------------------------
# The parent: configurations and the report


ALL_PARTS = {"inference", "overhead", "training", "data", "precision"}
PRECISION_NAMES = ("float32", "bfloat16")
# The precision part: a 384x256 input (1.6 MP out), one tile with the default budget.
PRECISION_SIZE = (256, 384)


def _cpu_has_bfloat16() -> bool:
    """The CPU flags sr_tf.precision reads (without loading TensorFlow in the parent)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # unknown: time the same number of steps as float32
    return any(flag in text.split() for flag in ("avx512_bf16", "amx_bf16", "bf16"))


def plan_runs(quick: bool, only: set[str]) -> list[tuple[str, str, dict]]:
    h, w = (68, 102) if quick else DIV2K_SIZE
    runs = []
    if "inference" in only:
        for model in ("edsr-baseline", "srresnet"):
            runs.append(
                (
                    "inference",
                    f"{model} x4, {w}x{h}, tiled (default --max-memory 2GB)",
                    {"model": model, "scale": 4, "height": h, "width": w, "mode": "auto"},
                )
            )
    if "overhead" in only:
        # Tiling overhead: an image that fits whole in this machine's RAM (a quarter of a DIV2K
        # image; whole, EDSR-baseline x4 needs 5.3 GB of activations), run whole in one call and
        # the way resolve_image.py runs it (default 2 GB budget: tiles, upsampler in strips).
        oh, ow = (48, 64) if quick else (678, 1020)
        base = {"model": "edsr-baseline", "scale": 4, "height": oh, "width": ow, "part": "overhead"}
        runs.append(("inference", f"edsr-baseline x4, {ow}x{oh}, whole", {**base, "mode": "whole"}))
        runs.append(
            (
                "inference",
                f"edsr-baseline x4, {ow}x{oh}, default tiling",
                {**base, "mode": "auto"},
            )
        )
    if "training" in only:
        cfg = {
            "scale": 4,
            "batch_size": 2 if quick else 16,
            "lr_patch": 48,
            "steps": 1 if quick else 3,
        }
        runs.append(("training", "EDSR-baseline x4 train step, batch 16, 48x48 LR", cfg))
    if "precision" in only:
        native = _cpu_has_bfloat16()
        runs.append(("matmul", f"{MATMUL_SIZE}x{MATMUL_SIZE} matmul alone", {"size": MATMUL_SIZE}))
        ph, pw = (48, 64) if quick else PRECISION_SIZE
        for precision in PRECISION_NAMES:
            base = {"model": "edsr-baseline", "scale": 4, "height": ph, "width": pw}
            base.update(part="precision", precision=precision, steady=True)
            for mode, label in (("whole", "whole"), ("auto", "default tiling")):
                runs.append(
                    (
                        "inference",
                        f"edsr-baseline x4, {pw}x{ph}, {label}, {precision}",
                        {**base, "mode": mode},
                    )
                )
            cfg = {"scale": 4, "batch_size": 2 if quick else 16, "lr_patch": 24}
            # Emulated bfloat16 training steps are slow (12x float32 on an AVX2 CPU): time one.
            steps = 1 if quick or (precision == "bfloat16" and not native) else 3
            cfg.update(steps=steps, warmup=1 if steps == 1 else 2)
            cfg.update(part="precision", precision=precision)
            runs.append(
                ("training", f"EDSR-baseline x4 train step, batch 16, 24x24 LR, {precision}", cfg)
            )
    if "data" in only:
        for cache in (False, True):
            cfg = {
                "scale": 4,
                "batch_size": 16,
                "lr_patch": 48,
                "cache": cache,
                "warmup": 2 if quick else 8,  # > 1 epoch of T91: the cache is full
                "batches": 3 if quick else 30,
            }
            runs.append(("data", f"tf.data T91 x4, batch 16, 48x48 LR, cache={cache}", cfg))
    return runs


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def _pick(rows: list[dict], **match) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _precision_section(ok: list[dict], matmul: dict | None) -> list[str]:
    """float32 and bfloat16 side by side (issue 14), each against its own matmul roofline."""
    runs = {}
    for p in PRECISION_NAMES:
        common = {"part": "precision", "precision": p}
        runs[p] = {
            "whole": _pick(ok, kind="inference", mode="whole", **common),
            "tiled": _pick(ok, kind="inference", mode="auto", **common),
            "train": _pick(ok, kind="training", **common),
        }
    if not matmul and not any(r for p in runs.values() for r in p.values()):
        return []
    native = matmul.get("bfloat16_native") if matmul else None
    lines = ["## float32 and bfloat16 side by side", ""]
    if matmul:
        lines += [
            f"CPU: **{matmul['cpu']}**, {matmul['cores']} cores, TensorFlow "
            f"{matmul['tensorflow']}; native bfloat16 arithmetic (AVX512_BF16, AMX or Arm BF16, "
            f"`sr_tf.precision.bfloat16_native()`): **{'yes' if native else 'no'}**, so "
            f"`--precision auto` picks **{'bfloat16' if native else 'float32'}** here.",
            "",
        ]
    t = {p: runs[p]["tiled"] for p in PRECISION_NAMES}
    w = {p: runs[p]["whole"] for p in PRECISION_NAMES}
    tr = {p: runs[p]["train"] for p in PRECISION_NAMES}
    size = next((f"{r['width']}x{r['height']}" for r in t.values() if r), "?")

    def row(label: str, fn) -> str:
        cells = []
        for p in PRECISION_NAMES:
            try:
                cells.append(fn(p))
            except (TypeError, KeyError, ZeroDivisionError):
                cells.append("-")
        return f"| {label} | " + " | ".join(cells) + " |"

    def overhead(p: str) -> float:
        return t[p]["seconds"] / w[p]["seconds"] - 1

    lines += [
        "| | float32 | bfloat16 |",
        "| --- | --- | --- |",
        row(
            f"{MATMUL_SIZE}x{MATMUL_SIZE} matmul alone, fresh process (GFLOP/s)",
            lambda p: f"{matmul[p + '_gflops']:.1f}",
        ),
        row(
            "same matmul in the tiled-inference process, before / after its timing",
            lambda p: " / ".join(f"{x:.1f}" for x in t[p]["matmul_before_after"]),
        ),
        row(
            f"**x4 EDSR-baseline, {size} input, default tiling** (`resolve_image.py`): output MP/s",
            lambda p: f"**{t[p]['mp_per_s']:.3f}**",
        ),
        row(
            "tiles (pixel overhead), upsampler strip rows",
            lambda p: (
                f"{t[p]['tiles']} of {t[p]['tile_w']}x{t[p]['tile_h']} "
                f"(+{t[p]['executed_pixel_overhead']:.0%}), {t[p]['strip_rows']}"
            ),
        ),
        row(
            "conv GFLOP/s executed (counted FLOPs) / fraction of its own matmul rate",
            lambda p: (
                f"{t[p]['executed_gflops']:.1f} / "
                f"{t[p]['executed_gflops'] / t[p]['matmul_gflops']:.0%}"
            ),
        ),
        row(
            "useful GFLOP/s (output pixels only) / fraction",
            lambda p: (
                f"{t[p]['useful_gflops']:.1f} / {t[p]['useful_gflops'] / t[p]['matmul_gflops']:.0%}"
            ),
        ),
        row(
            "time: whole image in one call / default tiling",
            lambda p: f"{w[p]['seconds']:.2f} s / {t[p]['seconds']:.2f} s",
        ),
        row(
            "first call at this size (oneDNN builds its kernels): whole / default tiling",
            lambda p: f"{w[p]['cold_seconds']:.2f} s / {t[p]['cold_seconds']:.2f} s",
        ),
        row("tiling overhead (tiled / whole - 1)", lambda p: f"{overhead(p):+.1%}"),
        row(
            "peak RSS: whole / default tiling",
            lambda p: f"{w[p]['peak_rss_mb'] / 1024:.2f} GB / {t[p]['peak_rss_mb'] / 1024:.2f} GB",
        ),
        row(
            "training step, batch 16, 24x24 LR (s; steps timed)",
            lambda p: f"{tr[p]['step_seconds']:.2f} ({tr[p]['steps']})",
        ),
        row(
            "training step speed-up over float32",
            lambda p: f"{tr['float32']['step_seconds'] / tr[p]['step_seconds']:.2f}x",
        ),
        row(
            "training: ~GFLOP/s (3 x forward) / its matmul rate",
            lambda p: f"{tr[p]['approx_gflops']:.1f} / {tr[p]['matmul_gflops']:.1f}",
        ),
        row(
            "1-minute load average (tiled run, start / end)",
            lambda p: " / ".join(f"{x:.1f}" for x in t[p]["load"]),
        ),
        "",
        "bfloat16 runs the model under Keras' `mixed_bfloat16` policy "
        "(`sr_tf.precision.model_in_precision`: float32 variables, bfloat16 arithmetic; the "
        "mean-shift layers at the model's ends stay float32). Its activations take half the "
        "bytes, so under the same 2 GB budget its tiles are larger. The training step is a plain "
        "Keras/TensorFlow step written out in `benchmarks/bench.py` (L1, Adam), under the global "
        "policy `mixed_bfloat16` for bfloat16. Inference times are the steady state, the best of "
        "three calls (all three are in results.json; on a shared machine other work only adds "
        "time): each configuration first runs once on the same image (the *first call* row), "
        "because oneDNN "
        "builds a kernel for every new tensor shape on its first call, which a photo cut into "
        "many equal tiles pays once.",
        "",
    ]
    targets = ["| target (issue 14) | measured | met |", "| --- | --- | --- |"]
    try:
        mp = t["bfloat16"]["mp_per_s"]
        flops_1mp = t["bfloat16"]["flops_per_output_pixel"] * 1e6 / 1e9  # GFLOP per output MP
        frac = flops_1mp / t["bfloat16"]["matmul_gflops"]
        targets.append(
            f"| bfloat16 tiled inference >= 1.0 MP/s of output | {mp:.3f} MP/s "
            f"(1.0 MP/s would be {flops_1mp:.0f} GFLOP/s, {frac:.0%} of this machine's bfloat16 "
            f"matmul rate) | {'yes' if mp >= 1.0 else f'no ({mp:.2f}x of it)'} |"
        )
    except (TypeError, KeyError):
        pass
    for p in PRECISION_NAMES:
        if t[p] and w[p]:
            targets.append(
                f"| tiling overhead <= 10%, {p} | {overhead(p):+.1%} | "
                f"{'yes' if overhead(p) <= 0.10 else 'no'} |"
            )
    if tr["float32"] and tr["bfloat16"]:
        speedup = tr["float32"]["step_seconds"] / tr["bfloat16"]["step_seconds"]
        targets.append(
            f"| bfloat16 training step >= 1.6x float32 | {speedup:.2f}x | "
            f"{'yes' if speedup >= 1.6 else 'no'} |"
        )
    inside_rates = [
        x for r in (t["float32"], w["float32"]) if r for x in r.get("matmul_before_after", [])
    ]
    if matmul and inside_rates:
        # One 0.1 s matmul moves by +-20% from call to call on a shared machine: compare medians.
        inside = sorted(inside_rates)[len(inside_rates) // 2]
        alone = matmul.get("rounds", {}).get("float32") or [matmul["float32_gflops"]]
        spread = sorted(inside_rates + alone)
        ratio = inside / matmul["float32_gflops"]
        targets.append(
            "| the benchmark's float32 matmul agrees with the matmul timed alone (within 15%; "
            "medians) | "
            f"{ratio:.2f}x ({inside:.0f} vs {matmul['float32_gflops']:.0f} GFLOP/s; all "
            f"{len(spread)} timings {spread[0]:.0f}-{spread[-1]:.0f}) | "
            f"{'yes' if abs(ratio - 1) <= 0.15 else 'no'} |"
        )
    lines += targets + [""]
    if native is False:
        lines += [
            "**Why the bfloat16 targets are missed here.** This CPU has no bfloat16 arithmetic "
            "(no AVX512_BF16, no AMX): TensorFlow/oneDNN emulate bfloat16 by converting to "
            "float32 and back, so a bfloat16 matmul runs at the float32 rate (the first row) "
            "and a bfloat16 model can only be as fast as float32, or slower where the "
            "conversions are not fused. The targets of issue 14 were set on a CPU with "
            "AVX512_BF16. **Numbers from the issue, measured on that machine, not re-measured "
            "here:** 2048x2048 matmul float32 175-195 GFLOP/s, bfloat16 364 GFLOP/s; `edsr-x4` "
            "on a 512x384 input in one call: float32 11.8 s, `mixed_bfloat16` 3.0 s (3.9x); "
            "float32 tiled 0.39 MP/s of output; EDSR-baseline x4 training step (batch 16, 24x24 "
            "LR): float32 0.75 s, `mixed_bfloat16` 0.43 s (1.7x). On such a CPU `--precision "
            "auto` picks bfloat16, and this benchmark measures it against that CPU's own "
            "bfloat16 matmul rate.",
            "",
        ]
    lines += [
        "**The matmul figure.** Every process times the same function "
        f"(`_matmul_gflops`: a {MATMUL_SIZE}x{MATMUL_SIZE} `tf.matmul` in a `tf.function`, two "
        "warm-up calls, median of five): alone in a fresh process (three rounds, float32 and "
        "bfloat16 alternating, median) and again around each configuration's timing. Issue 14 "
        "reported that this benchmark's figure (78 GFLOP/s) was half of a plain 2048x2048 "
        "`tf.matmul` timed alone (175-195 GFLOP/s). The cause was the machine, not the "
        "function: that report ran on an AMD EPYC with AVX2 only, which does 63-80 GFLOP/s "
        "idle in any 2048x2048 float32 matmul, while 175-195 was measured on an EPYC with "
        "AVX-512 and AVX512_BF16 (both report only `AMD EPYC` as their model name, and the old "
        "report recorded neither the CPU nor its flags). On the AVX-512 machine a plain "
        "matmul, this function in a fresh process and the same function inside the benchmark "
        "processes all gave 120-200 GFLOP/s float32 from one call to the next (2026-12-02, "
        "four runs of `--only precision`): single 0.1 s calls on a shared machine move by "
        "+-20%, which is why the agreement row compares medians, and why it can still miss "
        "15% in one run and meet it in the next. The function does one float32 "
        "matmul per call (its `reduce_sum` adds 0.1%) with TensorFlow's default threads. The "
        "report now names the CPU and whether it has bfloat16 arithmetic, and records the load "
        "average next to every timing.",
        "",
    ]
    loads = [x for p in PRECISION_NAMES for r in (t[p], w[p], tr[p]) if r for x in r["load"]]
    if loads and max(loads) > 1.5 * (os.cpu_count() or 1):
        lines += [
            f"**Load.** These rows ran at a 1-minute load average of {min(loads):.0f} to "
            f"{max(loads):.0f} on {os.cpu_count()} cores (other sessions' tests and trainings "
            "on the shared machine), so each process got a small share of the CPU: absolute "
            "rates are far below an idle run, and ratios *between* processes (bfloat16 against "
            "float32 MP/s, tiling overhead, the matmul-agreement row) move with the load from "
            "one process to the next. What holds under load: the fraction of the matmul rate "
            "measured around each timing in the same process, and gaps far larger than the "
            "load swings (the bfloat16 training step).",
            "",
        ]
    return lines


def report(results: list[dict], command: str) -> str:
    """docs/benchmarks.md from the results of one run."""
    ok = [r for r in results if "error" not in r]
    inf = [r for r in ok if r.get("kind") == "inference"]
    big = [r for r in inf if r["mode"] == "auto" and r.get("part") is None]
    whole = next((r for r in inf if r["mode"] == "whole" and r.get("part") == "overhead"), None)
    tiled = next((r for r in inf if r["mode"] == "auto" and r.get("part") == "overhead"), None)
    train = next(
        (r for r in ok if r.get("kind") == "training" and r.get("part") != "precision"), None
    )
    matmul = next((r for r in ok if r.get("kind") == "matmul"), None)
    data = [r for r in results if r.get("kind") == "data" and "error" not in r]
    errors = [r for r in results if "error" in r]
    cpu = matmul["cpu"] if matmul else platform.processor() or platform.machine()
    lines = [
        "# Benchmarks",
        "",
        f"Measured with {command} on {cpu}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}. When and at which "
        "commit each row was measured is listed at the end."
        + (
            " Rows without a load average were measured by earlier runs, which did not record "
            "the CPU model either."
            if any("load" not in r for r in ok)
            else ""
        ),
        "",
    ]
    lines += [
        "**The machine is shared.** Rows measured before 2026-11-22 02:00 (training and tf.data, "
        "see When) ran while a long training job and other work loaded the 2 cores (load "
        "average 4 to 7); the inference and tiling-overhead rows ran on an otherwise idle "
        "machine. Absolute speeds are noisy; the ratios are more meaningful because each "
        "subprocess measured matmul GFLOP/s right before and after its own timing, under the "
        "same load. Each configuration ran once (the precision part's inference rows: the best of "
        "three calls after a first call at the same size). "
        "Models are randomly initialised at paper size; speed does not depend on weight values.",
        "",
    ]
    lines += _precision_section(ok, matmul)
    if big:
        lines += [
            "## Inference: x4 of a 2040x1356 photo (8160x5424 out)",
            "",
            "`python resolve_image.py photo.png` path: `TiledUpscaler.upscale_uint8`, default "
            "`--max-memory 2GB` (a budget for the whole process), default `--tile-overlap 16`. "
            "Peak RSS is the whole process, PNG writing included "
            "(TensorFlow, the model, the image buffers, the tiles). Whole-image inference does not "
            "fit: the counted activation peak alone is 8192 bytes per input pixel for EDSR-baseline "
            "x4 (12288 for SRResNet x4), 21 GB (32 GB) for this image.",
            "",
            "| model | tiles | output MP/s | time | peak RSS | RSS after loading | "
            "FLOPs / output px | conv GFLOP/s (executed) | matmul GFLOP/s | ratio |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in big:
            ratio = r["executed_gflops"] / r["matmul_gflops"]
            lines.append(
                f"| {r['model']} x{r['scale']} | {r['tiles']} of {r['tile_w']}x{r['tile_h']} "
                f"(+{r['executed_pixel_overhead']:.0%} pixels) | {_fmt(r['mp_per_s'])} | "
                f"{r['seconds']:.0f} s | {r['peak_rss_mb'] / 1024:.2f} GB | "
                f"{r['rss_after_load_mb'] / 1024:.2f} GB | "
                f"{r['flops_per_output_pixel'] / 1e3:.0f} k | {r['executed_gflops']:.1f} | "
                f"{r['matmul_gflops']:.1f} | {ratio:.0%} |"
            )
        lines += [
            "",
            "FLOPs are counted from the traced graph (`sr_tf.inference.model_cost`: 2 x "
            "multiply-adds of every convolution; bias adds, activations and the pixel shuffle "
            "are not counted). *Executed* GFLOP/s counts the overlap work the tiles repeat; the "
            "useful rate is lower by the pixel overhead in the tiles column. The PNG encode of the "
            "35 MB output is not in the time "
            + ", ".join(f"({r['model']}: {r['write_seconds']:.0f} s)" for r in big)
            + ".",
            "",
        ]
    if whole and tiled:
        ratio = tiled["seconds"] / whole["seconds"]
        lines += [
            "## Tiling overhead",
            "",
            f"EDSR-baseline x4 on a {whole['width']}x{whole['height']} input (a quarter of a "
            "DIV2K image) that fits whole in this machine's RAM: *whole* is the model on the whole "
            "image in one call (upsampler not in strips, unbounded memory); *default tiling* is "
            "what `resolve_image.py` does with its default 2 GB budget.",
            "",
            "| run | tiles | upsampler strips | FLOPs run | time | output MP/s | peak RSS |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in (whole, tiled):
            strips = f"{r['strip_rows']} rows" if r.get("strip_rows") else "-"
            lines.append(
                f"| {'whole' if r is whole else 'default tiling'} | "
                f"{r['tiles']} of {r['tile_w']}x{r['tile_h']} | {strips} | "
                f"+{r.get('executed_flop_overhead', r['executed_pixel_overhead']):.1%} | "
                f"{r['seconds']:.1f} s | {_fmt(r['mp_per_s'])} | {r['peak_rss_mb'] / 1024:.2f} GB |"
            )
        lines += [
            "",
            f"Tiled / whole time: **{ratio:.3f}** (overhead {ratio - 1:+.1%}; target <= +10%). "
            "The repeated work is each tile's 16 pixels of context on its inner sides (through the "
            "whole model) and each upsampler strip's margin rows (through the upsampler only)."
            + (
                " The tiled run is nevertheless faster: run whole, the model's activations (8192 "
                "bytes per input pixel, over 5 GB here) stream through main memory, while a "
                "tile's body and one upsampler strip keep a much smaller working set."
                if ratio < 1
                else ""
            ),
            "",
        ]
    if train or data:
        lines += ["## Training and the input pipeline", ""]
    if train:
        lines += [
            f"EDSR-baseline x4 training step (L1, Adam), batch {train['batch_size']}, "
            f"{train['lr_patch']}x{train['lr_patch']} LR patches, on a fixed in-memory batch: "
            f"**{train['steps_per_s']:.3f} steps/s** = {train['patches_per_s']:.2f} patches/s "
            f"({train['steps']} steps in {train['seconds']:.0f} s, peak RSS "
            f"{train['peak_rss_mb'] / 1024:.2f} GB). About {train['approx_gflops']:.1f} GFLOP/s "
            f"(3 x counted forward FLOPs), matmul {train['matmul_gflops']:.1f} GFLOP/s.",
            "",
        ]
    if data:
        lines += [
            "`sr_tf.data.training_dataset` alone on ../shared/data/T91 (91 images, LR made on the "
            "fly with the MATLAB bicubic degradation, random crops and flips), same batch and "
            "patch size:",
            "",
            "| cache | patches/s | ratio to what training consumes | peak RSS |",
            "| --- | --- | --- | --- |",
        ]
        for r in data:
            ratio = r["patches_per_s"] / train["patches_per_s"] if train else float("nan")
            lines.append(
                f"| {r['cache']} | {r['patches_per_s']:.0f} | {ratio:.0f}x | "
                f"{r['peak_rss_mb'] / 1024:.2f} GB |"
            )
        lines += [
            "",
            "Target: the pipeline delivers >= 3x what training consumes. Both were measured "
            "separately, each with both cores; during training they share the cores.",
            "",
        ]
    lines += ["## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for r in big:
        lines.append(
            f"| peak RSS <= 2 GB, {r['model']} x4 on 2040x1356 | {r['peak_rss_mb'] / 1024:.2f} GB | "
            f"{'yes' if r['peak_rss_mb'] <= 2048 else 'no'} |"
        )
    for r in big + ([whole] if whole else []):
        ratio = r["executed_gflops"] / r["matmul_gflops"]
        lines.append(
            f"| conv >= 70% of matmul GFLOP/s, {r['model']} {r['mode']} | {ratio:.0%} | "
            f"{'yes' if ratio >= 0.7 else 'no'} |"
        )
    if whole and tiled:
        ratio = tiled["seconds"] / whole["seconds"]
        lines.append(
            f"| tiling overhead <= 10% | {ratio - 1:+.0%} | {'yes' if ratio <= 1.1 else 'no'} |"
        )
    if train and data:
        best = max(r["patches_per_s"] for r in data) / train["patches_per_s"]
        worst = min(r["patches_per_s"] for r in data) / train["patches_per_s"]
        lines.append(
            f"| tf.data >= 3x training consumption | {worst:.0f}x to {best:.0f}x | "
            f"{'yes' if worst >= 3 else 'no'} |"
        )
    if errors:
        lines += ["", "## Failed configurations", ""]
        lines += [f"- {r.get('kind')} {r}: {r['error']}" for r in errors]
    lines += [
        "",
        "## Reading the numbers",
        "",
        "- **Memory against overhead.** With 16 pixels of context on each inner side of a "
        "tile, at most 10% repeated work needs large tiles, but run whole EDSR-baseline x4 holds "
        "8192 bytes of activations per input pixel (12288 for SRResNet x4), almost all of it in "
        "the x4 upsampler. `sr_tf.upsampler_split` therefore runs a tile through the residual "
        "body whole (1024 bytes per pixel) and the upsampler, whose reach is only 2-3 input "
        "pixels, in strips of rows with that margin; the result is the model's own (tests: "
        "within 1e-5 of the whole model for EDSR and SRResNet at x2/x3/x4). Under the same 2 GB "
        "budget the tiles grew from 283x297 (first version) to 534x474 on a 2040x1356 input.",
        "- **Few-filter output layers.** oneDNN runs a convolution with 3 output channels at a "
        "fraction of its speed; `FewFilterConv2D` (used for inference only) computes it as a 1xk "
        "convolution to 3k channels plus k row sums, same result. The first version of this "
        "benchmark ran SRResNet x4 at 48% of the matmul rate, held back by its 9x9 64->3 output "
        "layer at 4x resolution (11% of its FLOPs).",
        "- **Peak RSS includes about 0.64 GB that is TensorFlow and the model** before any image "
        "(the 'after loading' column). The first run of this benchmark (commit 266812a, budget "
        "1.5 GB for the work alone) peaked at 2.29 GB for EDSR-baseline x4: freed activations "
        "stayed in glibc's heap. Since then `TiledUpscaler` sets glibc's mmap threshold to "
        "4 MB and keeps only one row of tiles in its float accumulator; with a 2 GB budget for "
        "the whole process the peak is the one in the table.",
        "- **Training** is compute-bound by a wide margin: even uncached, the pipeline makes "
        "patches two orders of magnitude faster than the step consumes them.",
    ]
    lines += ["", "## When", ""]
    lines += [
        f"- {r['title']}: {r.get('measured_at', '?')}, commit {r.get('commit', '?')}"
        for r in results
    ]
    lines += ["", "Raw numbers: `benchmarks/results.json`.", ""]
    return "\n".join(lines)


def _key(result: dict) -> tuple:
    """What identifies a configuration across runs (titles may change)."""
    names = (
        "kind", "model", "mode", "height", "width", "tile", "cache", "batch_size", "lr_patch",
        "precision",
    )  # fmt: skip
    return tuple(result.get(name) for name in names)


# Sections of docs/benchmarks.md written by other scripts (serving_memory.py) start here; a
# rewrite by this script keeps them.
KEPT_FROM = "## Serving:"


def _write(path: Path, text: str) -> None:
    if path.name == "benchmarks.md" and path.exists():
        old = path.read_text()
        if KEPT_FROM in old and KEPT_FROM not in text:
            text = text.rstrip("\n") + "\n\n" + old[old.index(KEPT_FROM) :]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", default=",".join(sorted(ALL_PARTS)), help="comma-separated parts")
    p.add_argument("--quick", action="store_true", help="tiny sizes; prints, writes no files")
    p.add_argument("--update", action="store_true", help="keep results of parts not run now")
    p.add_argument(
        "--report-only", action="store_true", help="rewrite docs/benchmarks.md from results.json"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        cfg = json.loads(args.child)
        kind = cfg.pop("kind")
        print("RESULT " + json.dumps({"kind": kind, **CHILDREN[kind](cfg)}))
        return 0
    if not (DATA / "Set14").is_dir():
        print(f"benchmark data not found at {DATA}", file=sys.stderr)
        return 2
    if args.report_only:
        command = (
            "`python benchmarks/bench.py`, parts re-run with `--only PART --update` (see When)"
        )
        _write(REPO / "docs" / "benchmarks.md", report(json.loads(RESULTS.read_text()), command))
        return 0
    only = {part.strip() for part in args.only.split(",")}
    if not only <= ALL_PARTS:
        p.error(
            f"unknown --only part(s) {', '.join(sorted(only - ALL_PARTS))}; "
            f"choose from {', '.join(sorted(ALL_PARTS))}"
        )
    t0 = time.perf_counter()
    results = []
    for kind, title, cfg in plan_runs(args.quick, only):
        print(title, flush=True)
        results.append({"title": title, **run_child(kind, cfg)})
    print(f"all runs: {(time.perf_counter() - t0) / 60:.0f} min", flush=True)
    command = "`python benchmarks/bench.py`"
    if args.update and RESULTS.exists():
        fresh = {_key(r) for r in results}
        # Old results are kept only for configurations this script still runs.
        current = {_key({"kind": k, **cfg}) for k, _, cfg in plan_runs(False, ALL_PARTS)}
        old = [
            r
            for r in json.loads(RESULTS.read_text())
            if _key(r) not in fresh and _key(r) in current
        ]
        results = old + results
        command += f" (then `--only {args.only} --update`)"
    elif args.only != p.get_default("only"):
        command = f"`python benchmarks/bench.py --only {args.only}`"
    text = report(results, command)
    if args.quick:
        print(text)
        print(json.dumps(results, indent=1))
        return 0
    _write(RESULTS, json.dumps(results, indent=1) + "\n")
    _write(REPO / "docs" / "benchmarks.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
