#!/usr/bin/env python
"""Report the tensorflow-gan objective study: one `train.py --stage gan` run folder per objective.

    python scripts/gan_report.py runs/gan_study --output docs/gan_study

For every run folder below the study folder (one per `--gan-loss`) and for its stage-1 generator
(the runs' `--init`, or `--stage1`): Set5/Set14 PSNR, SSIM and NIQE through
`sr_tf.evaluation.evaluate_folder` (bicubic and HR NIQE too), the full-reference artefact
measures (Cb/Cr PSNR, grid spread, texture, spectrum excess), the discriminator's d_real/d_fake
from the TensorBoard logs with a stable/saturated verdict, steps and training wall time.  Writes
into --output: report.md (the tables), perception_distortion.png (PSNR against NIQE),
texture_fidelity.png (Set14 texture against Y-PSNR and Cb/Cr PSNR), d_curves.png (d_real/d_fake per objective), grid.png (bicubic | stage 1 | each objective | HR on
two Set14 crops) and scores.json, a cache keyed by weights file, size and modification time, so
a rerun only scores what changed.  Plots are drawn with PIL (no matplotlib needed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = ("Set5", "Set14")
LATE = 0.2  # the verdict looks at the last 20% of logged steps
# d_real - d_fake at which the discriminator separates real from generated perfectly, per loss
# (probabilities for minimax/modified/relativistic; least-squares targets 1/0; hinge margins +-1).
SATURATED_GAP = {
    "minimax": 0.9,
    "modified": 0.9,
    "relativistic": 0.9,
    "least-squares": 0.9,
    "hinge": 2.0,
}
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
COLOURS += [(140, 86, 75), (227, 119, 194), (23, 190, 207)]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("study", help="folder holding one GAN run folder per objective")
    p.add_argument("--output", required=True, help="folder for report.md, the PNGs, scores.json")
    p.add_argument(
        "--stage1",
        help="the stage-1 generator: a shipped name (srresnet-x4) or a weights file "
        "(default: the --init recorded in the runs)",
    )
    p.add_argument(
        "--weights",
        choices=["last", "best"],
        default="last",
        help="which GAN generator to score: last.weights.h5 (default; best.weights.h5 is the "
        "highest validation PSNR, the least adversarial one)",
    )
    p.add_argument("--benchmarks", default=str(BENCHMARKS), help="folder holding Set5/ and Set14/")
    p.add_argument(
        "--grid-images",
        default="zebra.png,baboon.png",
        help="two Set14 images for the picture grid (default: zebra.png,baboon.png)",
    )
    return p.parse_args(argv)


# ---- run folders and their logs ----------------------------------------------------------------


def find_runs(study: Path) -> list[tuple[str, Path, dict]]:
    """(objective, folder, run.json) for every GAN run below ``study``, in --gan-loss order."""
    from sr_tf.losses import GAN_LOSSES

    runs = []
    for record_path in sorted(study.glob("*/run.json")):
        record = json.loads(record_path.read_text())
        if record.get("stage") != "gan":
            continue
        label = "content only" if record.get("adv_weight") == 0 else record["gan_loss"]
        runs.append((label, record_path.parent, record))
    if not runs:
        raise UserError(f"no GAN run folders (*/run.json with stage gan) in {study}")
    order = {name: i for i, name in enumerate(GAN_LOSSES)}
    runs.sort(key=lambda r: (order.get(r[0], len(order)), r[1].name))
    names = [name for name, _, _ in runs]
    if len(set(names)) != len(names):  # two runs of one objective: tell them apart by folder
        runs = [(f"{name} ({folder.name})", folder, rec) for name, folder, rec in runs]
    return runs


def read_logs(folder: Path) -> tuple[dict[str, list[tuple[int, float]]], float]:
    """Scalars per tag as sorted (step, value), and the training wall time in seconds.

    A resumed run writes one event file per session; the wall time is the sum of each file's
    first-to-last event span (pauses between sessions are not counted).
    """
    import tensorflow as tf

    scalars: dict[str, dict[int, float]] = {}
    wall = 0.0
    for path in sorted((folder / "logs").glob("events.out.tfevents.*")):
        times = []
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            times.append(event.wall_time)
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue
                scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
        if len(times) > 1:
            wall += max(times) - min(times)
    return {tag: sorted(values.items()) for tag, values in scalars.items()}, wall


def trained_steps(folder: Path, logs: dict) -> int:
    """The step of the newest checkpoint (else the last logged step)."""
    import tensorflow as tf

    newest = tf.train.latest_checkpoint(str(folder / "checkpoints"))
    if newest:
        return int(newest.rsplit("-", 1)[1])
    return max([s for s, _ in logs.get("train/g_loss", [])] or [0])


def verdict(gan_loss: str, d_real: list[float], d_fake: list[float]) -> tuple[str, dict]:
    """Stable or not, from the last 20% of the logged d_real/d_fake (rule in report.md)."""
    import numpy as np

    if not d_real or not d_fake:
        return "no d_real/d_fake logged", {}
    n = max(1, int(round(len(d_real) * LATE)))
    real, fake = np.array(d_real[-n:]), np.array(d_fake[-n:])
    gap = real - fake
    stats = {
        "d_real": float(real.mean()),
        "d_fake": float(fake.mean()),
        "gap": float(gap.mean()),
        "gap_std": float(gap.std()),
    }
    if not np.all(np.isfinite(gap)):
        return "diverged (non-finite)", stats
    threshold = SATURATED_GAP.get(gan_loss)
    if threshold is None:  # wasserstein: no fixed scale; compare with the start of the run
        first = np.array(d_real[:n]) - np.array(d_fake[:n])
        scale = max(abs(float(first.mean())), 1.0)
        if abs(stats["gap"]) > 10 * scale:
            return "critic gap exploded", stats
        return "stable", stats
    if stats["gap"] >= threshold:
        return "D saturated", stats
    if stats["gap"] <= -threshold:
        return "D inverted", stats
    return "stable", stats


ARTEFACT_COLUMNS = {  # Evaluation key: column
    "psnr_cbcr": "Cb/Cr PSNR",
    "grid_spread": "grid spread",
    "texture": "texture",
    "spectrum_excess": "spectrum excess",
}

# ---- scores --------------------------------------------------------------------------------------


def _cache_key(path: Path | str) -> str:
    path = Path(path)
    if not path.exists():
        return str(path)  # a shipped name
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def score_sets(model, scale: int, benchmarks: Path) -> dict:
    """{set: {psnr, ssim, niqe, bicubic_*, hr_niqe, psnr_cbcr, grid_spread, texture,
    spectrum_excess}} with the library's evaluation."""
    from sr_tf.evaluation import METRICS, evaluate_folder

    scores = {}
    for name in SETS:
        result = evaluate_folder(benchmarks / name, scale, model, metrics=METRICS)
        scores[name] = result.to_dict()["mean"]
    return scores


def is_complete(scores: dict) -> bool:
    """Whether cached scores hold every measure (older caches lack the artefact measures)."""
    return all(set(ARTEFACT_COLUMNS) <= set(scores.get(s, {})) for s in SETS)


def load_stage1(spec: str, runs: list[tuple[str, Path, dict]]):
    """The stage-1 generator: a shipped name, or a file built like the runs' generator."""
    from sr_tf.pretrained import load_generator, manifest, shipped_weights_path

    shipped = manifest()
    for name in shipped:  # the shipped file named by path is loaded by name (sha256-checked)
        if Path(spec).exists() and Path(spec).resolve() == shipped_weights_path(name).resolve():
            spec = name
    if spec in shipped:
        return load_generator(spec)
    record = runs[0][2]
    overrides = record.get("model_overrides", {})
    return load_generator(record["model"], record["scale"], spec, **overrides)


# ---- drawing (PIL) -------------------------------------------------------------------------------


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    raw = (hi - lo) / max(count, 1)
    step = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


class Axes:
    """A data-to-pixel mapping with a frame, ticks and labels on a PIL image."""

    def __init__(self, draw, box, xlim, ylim, title, xlabel):
        self.draw, self.box, self.xlim, self.ylim = draw, box, xlim, ylim
        left, top, right, bottom = box
        draw.rectangle(box, outline="black")
        draw.text((left, top - 14), title, fill="black")
        draw.text(((left + right) // 2 - 3 * len(xlabel), bottom + 18), xlabel, fill="black")
        for x in _ticks(*xlim):
            px, _ = self(x, ylim[0])
            draw.line([(px, bottom), (px, bottom + 4)], fill="black")
            draw.text((px - 10, bottom + 5), f"{x:g}", fill="black")
        for y in _ticks(*ylim):
            _, py = self(xlim[0], y)
            draw.line([(left - 4, py), (left, py)], fill="black")
            draw.text((left - 40, py - 6), f"{y:g}", fill="black")

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        left, top, right, bottom = self.box
        fx = (x - self.xlim[0]) / (self.xlim[1] - self.xlim[0])
        fy = (y - self.ylim[0]) / (self.ylim[1] - self.ylim[0])
        return left + fx * (right - left), bottom - fy * (bottom - top)


def _padded(values: list[float], pad: float = 0.08) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    span = (hi - lo) or max(abs(hi), 1.0)
    return lo - pad * span, hi + pad * span


def label_position(
    size_box: tuple[float, float, float, float],
    point: tuple[float, float],
    placed: list[tuple[float, float, float, float]],
    frame: tuple[float, float, float, float],
) -> tuple[float, float]:
    """Where a label goes beside ``point``: the first nearby spot that overlaps no placed label.

    Points that sit together (objectives with nearly equal scores) would otherwise print their
    labels over each other.  The chosen box is appended to ``placed``.
    """
    width, height = size_box[2] - size_box[0], size_box[3] - size_box[1]
    px, py = point
    offsets = [(6, -height / 2), (-6 - width, -height / 2)]
    for k in range(1, 8):  # then further above and below, right and left
        for dy in (-k * (height + 2), k * (height + 2)):
            offsets += [(6, dy - height / 2), (-6 - width, dy - height / 2)]
    for dx, dy in offsets:
        candidate = (px + dx, py + dy, px + dx + width, py + dy + height)
        inside = frame[0] <= candidate[0] and candidate[2] <= frame[2] + 60
        inside = inside and frame[1] <= candidate[1] and candidate[3] <= frame[3]
        clear = all(
            candidate[2] < b[0] or b[2] < candidate[0] or candidate[3] < b[1] or b[3] < candidate[1]
            for b in placed
        )
        if inside and clear:
            placed.append(candidate)
            return candidate[0], candidate[1]
    placed.append((px + 6, py - height / 2, px + 6 + width, py + height / 2))
    return px + 6, py - height / 2


def _scatter(draw, box, points, title, xlabel, reference: tuple[str, float]) -> None:
    """One panel: a labelled point per (label, x, y), the reference x as a dashed line."""
    ref_label, ref_x = reference
    xlim = _padded([p[1] for p in points] + [ref_x])
    ylim = _padded([p[2] for p in points])
    ax = Axes(draw, box, xlim, ylim, title, xlabel)
    x, _ = ax(ref_x, ylim[0])
    for y in range(box[1], box[3], 8):
        draw.line([(x, y), (x, y + 4)], fill=(120, 120, 120))
    draw.text((x + 3, box[1] + 4), ref_label, fill=(80, 80, 80))
    placed: list[tuple[float, float, float, float]] = []
    for j, (label, px_value, py_value) in enumerate(points):
        px, py = ax(px_value, py_value)
        colour = COLOURS[j % len(COLOURS)]
        draw.ellipse([(px - 4, py - 4), (px + 4, py + 4)], fill=colour)
        corner = label_position(draw.textbbox((0, 0), label), (px, py), placed, box)
        draw.text(corner, label, fill=colour)


def _panels_png(panels: list, path: Path) -> Path:
    """Side-by-side scatter panels, each (points, title, xlabel, reference)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from sr_tf.imageio import write_image

    canvas = Image.new("RGB", (560 * len(panels), 470), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (points, title, xlabel, reference) in enumerate(panels):
        _scatter(draw, (i * 560 + 60, 40, i * 560 + 530, 400), points, title, xlabel, reference)
    write_image(path, np.asarray(canvas))
    return path


def perception_distortion_png(rows: list[dict], path: Path) -> Path:
    """PSNR (y) against NIQE (x) per set: a point per method, HR as a line (PSNR infinite)."""
    panels = [
        (
            [(r["label"], r[name]["niqe"], r[name]["psnr"]) for r in rows],
            f"{name} x4: PSNR (dB, up) against NIQE (left is more natural); HR dashed",
            "NIQE",
            ("HR", rows[0][name]["hr_niqe"]),
        )
        for name in SETS
    ]
    return _panels_png(panels, path)


def texture_fidelity_png(rows: list[dict], path: Path) -> Path:
    """Set14 texture (x, HR = 1) against Y-PSNR and against Cb/Cr PSNR: a point per model."""
    scored = [r for r in rows if "texture" in r["Set14"]]  # bicubic carries no artefact scores
    panels = [
        (
            [(r["label"], r["Set14"]["texture"], r["Set14"][key]) for r in scored],
            f"Set14 x4: {name} (dB, up) against texture (HR = 1, dashed)",
            "texture: mean Y gradient magnitude, SR / HR",
            ("HR", 1.0),
        )
        for key, name in (("psnr", "Y-PSNR"), ("psnr_cbcr", "Cb/Cr PSNR"))
    ]
    return _panels_png(panels, path)


def curves_png(curves: list[tuple[str, list, list]], path: Path) -> Path:
    """d_real (blue) and d_fake (red) against the step, one panel per objective."""
    import numpy as np
    from PIL import Image, ImageDraw

    from sr_tf.imageio import write_image

    cols = 3
    rows = max(1, math.ceil(len(curves) / cols))
    panel_w, panel_h = 380, 230
    canvas = Image.new("RGB", (cols * panel_w, rows * panel_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, real, fake) in enumerate(curves):
        left, top = (i % cols) * panel_w + 55, (i // cols) * panel_h + 30
        box = (left, top, left + panel_w - 75, top + panel_h - 70)
        if not real:
            draw.text((left, top), f"{label}: nothing logged", fill="black")
            continue
        steps = [s for s, _ in real] + [s for s, _ in fake]
        values = [v for _, v in real] + [v for _, v in fake]
        finite = [v for v in values if math.isfinite(v)] or [0.0]
        xlim = (min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1)
        ax = Axes(draw, box, xlim, _padded(finite), label, "step")
        for series, colour in ((real, (31, 119, 180)), (fake, (214, 39, 40))):
            pts = [ax(s, v) for s, v in series if math.isfinite(v)]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=1)
            elif pts:
                draw.ellipse(
                    [(pts[0][0] - 2, pts[0][1] - 2), (pts[0][0] + 2, pts[0][1] + 2)], fill=colour
                )
        draw.text((box[2] - 90, box[1] + 2), "d_real", fill=(31, 119, 180))
        draw.text((box[2] - 45, box[1] + 2), "d_fake", fill=(214, 39, 40))
    write_image(path, np.asarray(canvas))
    return path


def grid_png(models: list[tuple[str, object]], scale: int, images: list[Path], path: Path) -> Path:
    """bicubic | each model | HR on one crop per image (evaluation.comparison_grid)."""
    from sr_tf.evaluation import comparison_grid
    from sr_tf.imageio import write_image

    write_image(path, comparison_grid(models, scale, images))
    return path


# ---- the report ----------------------------------------------------------------------------------


def _f(value, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def report_md(rows: list[dict], args, stage1_spec: str) -> str:
    head = "| method | steps | wall time | Set5 PSNR / SSIM / NIQE | Set14 PSNR / SSIM / NIQE | d_real / d_fake (last 20%) | D |"
    lines = [
        "# tensorflow-gan objective study",
        "",
        f"Made by `python scripts/gan_report.py {args.study} --output {args.output}"
        f"{' --weights best' if args.weights == 'best' else ''}` from the run folders in "
        f"`{args.study}`; GAN generators: `{args.weights}.weights.h5`; stage 1: `{stage1_spec}`.",
        "PSNR (dB) / SSIM on Y with the x4 border cut, NIQE on grey values (lower is more "
        "natural; this project's pristine model, docs/evaluation.md).",
        "",
        head,
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sets = [
            f"{_f(r[s]['psnr'], 2)} / {_f(r[s]['ssim'], 4)} / {_f(r[s]['niqe'], 3)}" for s in SETS
        ]
        d = r.get("d_stats") or {}
        dcol = f"{_f(d.get('d_real'), 3)} / {_f(d.get('d_fake'), 3)}" if d else "-"
        wall = r.get("wall")
        wall = (
            "-" if not wall else f"{wall / 3600:.1f} h" if wall > 7200 else f"{wall / 60:.0f} min"
        )
        steps = f"{r['step']:,} / {r['target']:,}" if r.get("target") else "-"
        lines.append(
            f"| {r['label']} | {steps} | {wall} | {sets[0]} | {sets[1]} | {dcol} | {r.get('verdict', '-')} |"
        )
    hr = [f"{s} {_f(rows[0][s]['hr_niqe'], 3)}" for s in SETS]
    lines += [
        f"| HR | - | - | inf / 1 / {_f(rows[0]['Set5']['hr_niqe'], 3)} | inf / 1 / "
        f"{_f(rows[0]['Set14']['hr_niqe'], 3)} | - | - |",
        "",
        "Full-reference artefact measures on Set14 (docs/evaluation.md): Cb/Cr PSNR (dB, colour "
        "fidelity, over the colour images), grid spread (grey levels of error locked to the "
        "x4 output grid), texture (the output's mean Y gradient magnitude over HR's; HR = 1), "
        "spectrum excess (high-frequency contrast beyond HR's):",
        "",
        "| method | " + " | ".join(ARTEFACT_COLUMNS.values()) + " |",
        "|---|" + "---|" * len(ARTEFACT_COLUMNS),
    ]
    for r in rows[1:]:  # bicubic has no artefact scores
        values = [_f(r["Set14"].get(k), 3) for k in ARTEFACT_COLUMNS]
        lines.append(f"| {r['label']} | " + " | ".join(values) + " |")
    lines += [
        "",
        f"HR NIQE (the reference): {', '.join(hr)}. Steps: the run's step / its `--steps`. Wall "
        "time: the span of each TensorBoard event file summed over sessions (pauses between "
        "sessions not counted; includes validation).",
        "",
        "D verdict, from the mean over the last 20% of logged steps of d_real - d_fake "
        "(probabilities for minimax/modified/relativistic, raw outputs otherwise): *D saturated* "
        "when it reaches "
        + ", ".join(f"{k} {v:g}" for k, v in SATURATED_GAP.items())
        + " (D tells real from generated patches nearly perfectly: the usual sign that the "
        "adversarial game has broken down; with minimax the generator's gradient vanishes); "
        "*D inverted* when it is below minus that; for wasserstein-gp, "
        "*critic gap exploded* when it is over 10x its value in the first 20% (and over 10); "
        "*stable* otherwise. The curves cannot show mode collapse of the generator (that is for "
        "the grid); look at d_curves.png before trusting a verdict.",
        "",
        "![perception-distortion](perception_distortion.png)",
        "",
        "![texture against Y-PSNR and Cb/Cr PSNR](texture_fidelity.png)",
        "",
        "![d_real and d_fake](d_curves.png)",
        "",
        "![bicubic | stage 1 | objectives | HR](grid.png)",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    from sr_tf.fileio import write_text_atomic

    study, output, benchmarks = Path(args.study), Path(args.output), Path(args.benchmarks)
    for name in SETS:
        if not (benchmarks / name).is_dir():
            raise UserError(f"no {name} folder in {benchmarks} (--benchmarks)")
    grid_images = [benchmarks / "Set14" / n.strip() for n in args.grid_images.split(",")]
    for path in grid_images:
        if not path.is_file():
            raise UserError(f"--grid-images: no {path}")
    runs = find_runs(study)
    scales = {rec["scale"] for _, _, rec in runs}
    if len(scales) != 1:
        raise UserError(f"the runs have different scales: {sorted(scales)}")
    scale = scales.pop()
    inits = {rec.get("init") for _, _, rec in runs}
    stage1_spec = args.stage1 or (inits.pop() if len(inits) == 1 else None)
    if not stage1_spec:
        raise UserError("the runs started from different --init; name the stage 1 with --stage1")
    waiting = [r for r in runs if not (r[1] / f"{args.weights}.weights.h5").exists()]
    runs = [r for r in runs if r not in waiting]
    for label, folder, _ in waiting:
        print(f"skipping {label}: no {args.weights}.weights.h5 in {folder} yet", file=sys.stderr)
    if not runs:
        raise UserError(f"no run in {study} has a {args.weights}.weights.h5 yet")

    from sr_tf.pretrained import load_generator

    cache_path = output / "scores.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    def cached(key: str, compute) -> dict:
        if key not in cache or not is_complete(cache[key]):
            print(f"scoring {key}", file=sys.stderr, flush=True)
            cache[key] = compute()
            write_text_atomic(cache_path, json.dumps(cache, indent=2, sort_keys=True) + "\n")
        return cache[key]

    stage1_model, stage1_scale = load_stage1(stage1_spec, runs)
    if stage1_scale != scale:
        raise UserError(f"the stage 1 is x{stage1_scale}, the runs are x{scale}")
    stage1_scores = cached(
        "stage1:" + _cache_key(stage1_spec), lambda: score_sets(stage1_model, scale, benchmarks)
    )
    bicubic = {  # the baseline comes with every model's evaluation
        s: {k: stage1_scores[s][f"bicubic_{k}"] for k in ("psnr", "ssim", "niqe")}
        | {"hr_niqe": stage1_scores[s]["hr_niqe"]}
        for s in SETS
    }
    rows = [{"label": "bicubic", **bicubic}, {"label": "stage 1", **stage1_scores}]
    models = [("stage 1", stage1_model)]
    curves = []
    for label, folder, record in runs:
        weights = folder / f"{args.weights}.weights.h5"
        model, _ = load_generator(record["model"], scale, weights)
        scores = cached(
            f"{label}:{_cache_key(weights)}", lambda m=model: score_sets(m, scale, benchmarks)
        )
        logs, wall = read_logs(folder)
        real, fake = logs.get("train/d_real", []), logs.get("train/d_fake", [])
        text, stats = verdict(record["gan_loss"], [v for _, v in real], [v for _, v in fake])
        if record.get("adv_weight") == 0:
            text = "control: D trains, G ignores it"
        last_step = trained_steps(folder, logs)
        rows.append(
            {
                "label": label,
                **scores,
                "step": last_step,
                "target": record["steps"],
                "wall": wall,
                "verdict": text,
                "d_stats": stats,
            }
        )
        models.append((label, model))
        curves.append((label, real, fake))

    output.mkdir(parents=True, exist_ok=True)
    print(f"wrote {perception_distortion_png(rows, output / 'perception_distortion.png')}")
    print(f"wrote {texture_fidelity_png(rows, output / 'texture_fidelity.png')}")
    print(f"wrote {curves_png(curves, output / 'd_curves.png')}")
    print(f"wrote {grid_png(models, scale, grid_images, output / 'grid.png')}")
    text = report_md(rows, args, stage1_spec)
    if waiting:
        text += "\nNot trained yet (no weights file): " + ", ".join(w[0] for w in waiting) + "\n"
    write_text_atomic(output / "report.md", text)
    print(text)
    print(f"wrote {output / 'report.md'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
