"""The benchmark protocol: a folder of HR images, MATLAB-bicubic LR, Y-channel PSNR/SSIM.

For every HR image (see docs/evaluation.md):

1. crop it (top-left) to a multiple of the scale;
2. LR = ``degrade_bicubic`` (MATLAB ``imresize(uint8 HR, 1/scale, 'bicubic')``, uint8), or
   another degradation from ``sr_tf.degradations`` (``gaussian``: blur, then decimation;
   ``bicubic+jpeg:q=75`` and other chains: that LR, then noise/JPEG on the uint8 LR);
3. SR = the model's output for LR, quantised to uint8, or ``upscale_bicubic`` of LR for the
   bicubic baseline (MATLAB ``imresize(uint8 LR, scale, 'bicubic')``);
4. PSNR and SSIM on MATLAB's BT.601 Y after cutting ``scale`` pixels from every border;
   with ``metrics`` holding ``niqe``, also NIQE (no reference, ``sr_tf.niqe``) of the output,
   of bicubic and of HR on their grey values, after the same border cut; with ``cbcr``,
   ``grid``, ``texture``, ``spectrum``, the output's full-reference artefact measures
   (``sr_tf.artefacts``: Cb/Cr PSNR, grid-phase spread, texture ratio, spectrum excess), after
   the same border cut.

A one-channel HR image (Set14's ``bridge.png``) is measured on its grey values, as the MATLAB
scripts behind the published tables do: the bicubic baseline resizes the grey channel; a model
gets the grey LR replicated to RGB and its output is turned back into grey with MATLAB's
``rgb2gray``.  An alpha channel is ignored.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from sr_tf.artefacts import (
    has_colour,
    phase_spread,
    psnr_cbcr,
    spectrum_excess,
    texture_ratio,
)
from sr_tf.degradations import Degradation, parse_degradation
from sr_tf.errors import UserError
from sr_tf.fileio import write_text_atomic
from sr_tf.imageio import IMAGE_EXTENSIONS, list_images, read_image, to_float, to_uint8, write_image
from sr_tf.inference import TiledUpscaler
from sr_tf.metrics import psnr_y, rgb_to_gray, rgb_to_y, ssim_y
from sr_tf.niqe import PATCH as NIQE_PATCH
from sr_tf.niqe import niqe
from sr_tf.resize import upscale_bicubic

SSIM_WINDOW = 11
COMPARISON_CROP = 128  # HR pixels per side of the comparison crop
COMPARISON_ZOOM = 2  # nearest-neighbour enlargement, so single pixels stay visible
METRICS = ("psnr", "ssim", "niqe", "cbcr", "grid", "texture", "spectrum")  # PSNR, SSIM always
NIQE_KEYS = ("niqe", "bicubic_niqe", "hr_niqe")
ARTEFACT_KEYS = {  # metric: key
    "cbcr": "psnr_cbcr",
    "grid": "grid_spread",
    "texture": "texture",
    "spectrum": "spectrum_excess",
}


@dataclass
class ImageScore:
    """Scores of one image; ``bicubic_*`` are the baseline's when a model was evaluated."""

    image: str
    height: int  # HR size after the crop to a multiple of the scale
    width: int
    channels: int  # 1 for a grey HR image (measured on grey values), 3 otherwise
    psnr: float
    ssim: float
    bicubic_psnr: float | None = None
    bicubic_ssim: float | None = None
    niqe: float | None = None  # NIQE of the method's output (lower is more natural)
    bicubic_niqe: float | None = None  # when a model was evaluated
    hr_niqe: float | None = None  # the HR image's, a reference
    psnr_cbcr: float | None = None  # the output's artefact measures (None: not asked; a grey
    grid_spread: float | None = None  # image has no Cb/Cr PSNR)
    texture: float | None = None
    spectrum_excess: float | None = None


@dataclass
class Evaluation:
    """Scores of one method on one folder at one scale."""

    data: str
    scale: int
    method: str
    images: list[ImageScore] = field(default_factory=list)
    degradation: str = "bicubic"  # how LR was made (sr_tf.degradations spec)

    @property
    def has_baseline(self) -> bool:
        return bool(self.images) and self.images[0].bicubic_psnr is not None

    @property
    def has_niqe(self) -> bool:
        return bool(self.images) and self.images[0].niqe is not None

    def niqe_keys(self) -> list[str]:
        """The NIQE scores present: the output's, bicubic's (for a model), HR's."""
        if not self.has_niqe:
            return []
        return [k for k in NIQE_KEYS if k != "bicubic_niqe" or self.has_baseline]

    def artefact_keys(self) -> list[str]:
        """The artefact measures present (``psnr_cbcr``, ``grid_spread``, ``texture``,
        ``spectrum_excess``)."""
        keys = ARTEFACT_KEYS.values()
        return [k for k in keys if any(getattr(s, k) is not None for s in self.images)]

    def mean(self, key: str) -> float:
        """Mean of one score over the images that have it (``psnr``, ``ssim``, ...)."""
        values = [v for v in (getattr(s, key) for s in self.images) if v is not None]
        return float(np.mean(values)) if values else float("nan")

    def to_dict(self) -> dict:
        means = {"psnr": self.mean("psnr"), "ssim": self.mean("ssim")}
        if self.has_baseline:
            means.update(
                bicubic_psnr=self.mean("bicubic_psnr"), bicubic_ssim=self.mean("bicubic_ssim")
            )
        means.update({k: self.mean(k) for k in self.niqe_keys()})
        means.update({k: self.mean(k) for k in self.artefact_keys()})
        drop = [k for k in NIQE_KEYS if k not in self.niqe_keys()]
        drop += [k for k in ARTEFACT_KEYS.values() if k not in self.artefact_keys()]
        return {
            "data": self.data,
            "scale": self.scale,
            "method": self.method,
            "protocol": f"{self._lr_text()}; PSNR/SSIM on BT.601 Y (grey images: grey "
            f"values), {self.scale} border pixels cut",
            "degradation": self.degradation,
            "count": len(self.images),
            "mean": means,
            "images": [{k: v for k, v in asdict(s).items() if k not in drop} for s in self.images],
        }

    def _lr_text(self) -> str:
        if self.degradation == "bicubic":
            return "MATLAB bicubic LR (uint8)"
        return f"LR by {self.degradation} (uint8)"


def crop_to_scale(hr: np.ndarray, scale: int, name: str = "image") -> np.ndarray:
    """Crop (top-left) to a multiple of ``scale``; a UserError if too little is left to measure."""
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    need = 2 * scale + SSIM_WINDOW  # the border cut, then SSIM's 11x11 window
    if min(h, w) < need:
        raise UserError(
            f"{name} is too small for x{scale} evaluation: {hr.shape[1]}x{hr.shape[0]} pixels "
            f"(crop to x{scale} gives {w}x{h}; each side needs at least {need})"
        )
    return hr[:h, :w]


def _as_uint8(image: tf.Tensor | np.ndarray) -> np.ndarray:
    return to_uint8(image.numpy() if isinstance(image, tf.Tensor) else image)


def degrade(hr: np.ndarray, scale: int, degradation: str | Degradation = "bicubic") -> np.ndarray:
    """uint8 HR -> uint8 LR with the named degradation (default: MATLAB bicubic)."""
    return _as_uint8(parse_degradation(degradation)(tf.constant(to_float(hr)), scale))


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """uint8 LR -> uint8 bicubic SR (the baseline)."""
    return _as_uint8(upscale_bicubic(tf.constant(to_float(lr)), scale))


def model_upscale(
    model: keras.Model, lr: np.ndarray, scale: int, upscaler: TiledUpscaler | None = None
) -> np.ndarray:
    """uint8 LR (grey or RGB) -> uint8 SR with the model; grey in, grey out (see module doc).

    The model runs through ``TiledUpscaler`` (default memory budget): a benchmark image runs
    whole, a large one in tiles; pass ``upscaler`` to reuse one across images.
    """
    grey = lr.shape[2] == 1
    rgb = np.repeat(lr, 3, axis=2) if grey else lr
    upscaler = upscaler or TiledUpscaler(model, scale)
    try:
        out = upscaler.upscale_uint8(rgb)
    except ValueError as err:
        raise UserError(f"{str(err).split(';')[0]}; is it a x{scale} model?") from err
    return rgb_to_gray(out) if grey else out


def _score(sr: np.ndarray, hr: np.ndarray, scale: int) -> tuple[float, float]:
    return psnr_y(sr, hr, shave=scale), ssim_y(sr, hr, shave=scale)


def _niqe(image: np.ndarray, scale: int, name: str) -> float:
    """NIQE after the same ``scale``-pixel border cut as PSNR/SSIM."""
    if min(image.shape[:2]) - 2 * scale < NIQE_PATCH:
        raise UserError(
            f"{name} is too small for NIQE: {image.shape[1]}x{image.shape[0]} pixels; after the "
            f"{scale}-pixel border cut each side needs at least {NIQE_PATCH}"
        )
    return niqe(image, shave=scale)


def _artefacts(score: ImageScore, sr: np.ndarray, hr: np.ndarray, scale: int, metrics) -> None:
    """Fill ``score``'s artefact measures asked for in ``metrics`` (border ``scale`` cut)."""
    if "cbcr" in metrics and has_colour(hr):  # a grey image (also one stored as RGB) has no chroma
        score.psnr_cbcr = psnr_cbcr(sr, hr, shave=scale)
    if "grid" in metrics:
        score.grid_spread = phase_spread(sr, hr, scale, shave=scale)
    if "texture" in metrics:
        score.texture = texture_ratio(sr, hr, shave=scale)
    if "spectrum" in metrics:
        score.spectrum_excess = spectrum_excess(sr, hr, shave=scale)


def _detail_window(bicubic: np.ndarray, hr: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` window where bicubic misses HR the most."""
    err = np.abs(rgb_to_y(bicubic) - rgb_to_y(hr))
    integral = np.pad(err.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (
        integral[side:, side:]
        - integral[:-side, side:]
        - integral[side:, :-side]
        + integral[:-side, :-side]
    )
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(x)


def comparison_image(
    panels: list[tuple[str, np.ndarray]], hr: np.ndarray, corner: tuple[int, int] | None = None
) -> np.ndarray:
    """Side-by-side uint8 RGB crops with a label above each: the crop's top-left ``corner``
    (x, y in HR pixels, moved inside the image), or where the first panel misses HR most."""
    side = min(COMPARISON_CROP, hr.shape[0], hr.shape[1])
    if corner is None:
        y, x = _detail_window(panels[0][1], hr, side)
    else:
        x = min(max(int(corner[0]), 0), hr.shape[1] - side)
        y = min(max(int(corner[1]), 0), hr.shape[0] - side)
    gap, header = 4, 14
    size = side * COMPARISON_ZOOM
    canvas = Image.new(
        "RGB", (len(panels) * size + (len(panels) - 1) * gap, size + header), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for i, (label, image) in enumerate(panels):
        crop = image[y : y + side, x : x + side]
        if crop.shape[2] == 1:
            crop = np.repeat(crop, 3, axis=2)
        crop = np.repeat(np.repeat(crop, COMPARISON_ZOOM, axis=0), COMPARISON_ZOOM, axis=1)
        left = i * (size + gap)
        canvas.paste(Image.fromarray(crop), (left, header))
        draw.text((left + 2, 1), label[: max(4, size // 6)], fill="black")
    return np.asarray(canvas)


def benchmark_pair(
    path: str | os.PathLike, scale: int, degradation: str | Degradation = "bicubic"
) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 RGB of one benchmark image: HR cropped to a multiple of ``scale``, LR made
    from it with ``degradation``."""
    hr = crop_to_scale(read_image(path)[:, :, :3], scale, Path(path).name)
    return hr, degrade(hr, scale, degradation)


def comparison_grid(
    models: Sequence[tuple[str, keras.Model]],
    scale: int,
    images: Sequence[str | os.PathLike],
    degradation: str | Degradation = "bicubic",
    show_input: bool = False,
    corners: Sequence[tuple[int, int] | None] | None = None,
) -> np.ndarray:
    """bicubic | each model | HR on one detail crop per HR image (``comparison_image``; its
    top-left corner from ``corners``, one per image, None to find it), one row per image, as a
    uint8 RGB picture; ``show_input`` puts the LR input first (each pixel as a ``scale`` x
    ``scale`` block)."""
    upscalers = [(label, TiledUpscaler(model, scale)) for label, model in models]  # plan once
    corners = list(corners) if corners is not None else [None] * len(images)
    if len(corners) != len(images):
        raise ValueError(f"{len(corners)} crop corners for {len(images)} images")
    rows = []
    for path, corner in zip(images, corners):
        hr, lr = benchmark_pair(path, scale, degradation)
        panels = [("bicubic", bicubic_upscale(lr, scale))]
        if show_input:
            panels.insert(0, ("input", np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)))
        panels += [(label, model_upscale(up.model, lr, scale, up)) for label, up in upscalers]
        rows.append(comparison_image([*panels, ("HR", hr)], hr, corner))
    width = max(r.shape[1] for r in rows)
    gap = 8
    padded = [
        np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows
    ]
    return np.concatenate(padded)[:-gap]


def evaluate_folder(
    folder: str | os.PathLike,
    scale: int,
    model: keras.Model | None = None,
    method: str | None = None,
    save_comparisons: str | os.PathLike | None = None,
    progress: Callable[[int, int, ImageScore], None] | None = None,
    ensemble: bool = False,
    degradation: str | Degradation = "bicubic",
    precision: str = "float32",
    metrics: Sequence[str] = ("psnr", "ssim"),
) -> Evaluation:
    """Evaluate bicubic (``model=None``) or a model on every HR image of ``folder`` at ``scale``.

    ``method`` is the name reported (default ``bicubic`` or the model's name).  With
    ``save_comparisons``, a PNG of crops (bicubic | model | HR) per image is written there.
    ``ensemble``: the model's geometric x8 self-ensemble (the EDSR paper's "+" results).
    ``degradation``: how LR is made from HR (``sr_tf.degradations``; default MATLAB bicubic).
    ``precision``: the model's arithmetic, ``float32``, ``bfloat16`` or ``auto`` (``sr_tf.precision``).
    ``metrics``: PSNR and SSIM are always computed; ``niqe`` adds NIQE of the output, of
    bicubic (for a model) and of HR; ``cbcr``, ``grid``, ``texture`` the output's artefact
    measures (``sr_tf.artefacts``).
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    degrade_spec = parse_degradation(degradation)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
        raise UserError(f"scale must be an integer >= 2, got {scale!r}")
    folder = Path(folder)
    paths = list_images(folder)
    if not paths:
        others = sorted(p.name for p in folder.rglob("*") if p.is_file())
        hint = f" (found {len(others)} other files, e.g. {others[0]})" if others else ""
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}{hint}")
    method = method or ("bicubic" if model is None else model.name)
    upscaler = (
        None
        if model is None
        else TiledUpscaler(model, scale, ensemble=ensemble, precision=precision)
    )
    result = Evaluation(str(folder), scale, method, degradation=degrade_spec.to_spec())
    out_dir = Path(save_comparisons) if save_comparisons is not None else None
    for i, path in enumerate(paths):
        name = path.relative_to(folder).as_posix()
        hr = read_image(path)[:, :, :3]  # grey stays one channel; RGBA loses its alpha
        hr = crop_to_scale(hr, scale, name)
        lr = degrade(hr, scale, degrade_spec)
        bicubic = bicubic_upscale(lr, scale)
        b_psnr, b_ssim = _score(bicubic, hr, scale)
        if model is None:
            score = ImageScore(name, hr.shape[0], hr.shape[1], hr.shape[2], b_psnr, b_ssim)
            panels = [("bicubic", bicubic), ("HR", hr)]
        else:
            sr = model_upscale(model, lr, scale, upscaler)
            psnr, ssim = _score(sr, hr, scale)
            score = ImageScore(
                name, hr.shape[0], hr.shape[1], hr.shape[2], psnr, ssim, b_psnr, b_ssim
            )
            panels = [("bicubic", bicubic), (method, sr), ("HR", hr)]
        if "niqe" in metrics:
            score.hr_niqe = _niqe(hr, scale, name)
            score.niqe = _niqe(bicubic if model is None else sr, scale, name)
            if model is not None:
                score.bicubic_niqe = _niqe(bicubic, scale, name)
        _artefacts(score, bicubic if model is None else sr, hr, scale, metrics)
        result.images.append(score)
        if out_dir is not None:
            stem = name.rsplit(".", 1)[0].replace("/", "__")
            write_image(out_dir / f"{stem}_x{scale}.png", comparison_image(panels, hr))
        if progress is not None:
            progress(i + 1, len(paths), score)
    return result


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def format_table(result: Evaluation, per_image: bool = False) -> str:
    """A plain-text table: one line per image (optional) and the mean."""
    baseline = result.has_baseline
    head = f"{'image':<24} {'size':>9}  {'PSNR (dB)':>9}  {'SSIM':>6}"
    if baseline:
        head += f"  {'bicubic PSNR':>12}  {'SSIM':>6}"
    lines = [
        f"{result.data}  x{result.scale}  {result.method}  "
        f"(Y channel, {result.scale}-pixel border cut"
        + ("" if result.degradation == "bicubic" else f"; LR by {result.degradation}")
        + ")",
        head,
    ]

    def row(label: str, size: str, p, s, bp=None, bs=None) -> str:
        line = f"{label:<24} {size:>9}  {_fmt(p, 4):>9}  {_fmt(s, 4):>6}"
        if baseline:
            line += f"  {_fmt(bp, 4):>12}  {_fmt(bs, 4):>6}"
        return line

    if per_image:
        for s in result.images:
            grey = " grey" if s.channels == 1 else ""
            lines.append(
                row(
                    s.image[:24],
                    f"{s.width}x{s.height}",
                    s.psnr,
                    s.ssim,
                    s.bicubic_psnr,
                    s.bicubic_ssim,
                )
                + grey
            )
    lines.append(
        row(
            f"mean ({len(result.images)} images)",
            "",
            result.mean("psnr"),
            result.mean("ssim"),
            result.mean("bicubic_psnr") if baseline else None,
            result.mean("bicubic_ssim") if baseline else None,
        )
    )
    lines = _with_niqe_columns(lines, result, per_image)
    return "\n".join(_with_artefact_columns(lines, result, per_image))


def _with_niqe_columns(lines: list[str], result: Evaluation, per_image: bool) -> list[str]:
    """Append the NIQE columns (output, bicubic for a model, HR) to format_table's lines."""
    names = {"niqe": "NIQE", "bicubic_niqe": "bicubic NIQE", "hr_niqe": "HR NIQE"}
    return _with_columns(lines, result, per_image, result.niqe_keys(), names, 12)


def _with_artefact_columns(lines: list[str], result: Evaluation, per_image: bool) -> list[str]:
    """Append the artefact columns (Cb/Cr PSNR, grid spread, texture, spectrum excess) to
    format_table's lines."""
    names = {
        "psnr_cbcr": "CbCr PSNR",
        "grid_spread": "grid spread",
        "texture": "texture",
        "spectrum_excess": "spectrum",
    }
    return _with_columns(lines, result, per_image, result.artefact_keys(), names, 11)


def _with_columns(
    lines: list[str],
    result: Evaluation,
    per_image: bool,
    keys: list[str],
    names: dict[str, str],
    column: int,
) -> list[str]:
    """Append one ``column``-wide column per key (per image and the mean) to the table lines."""
    if not keys:
        return lines
    rows = [[getattr(s, k) for k in keys] for s in result.images] if per_image else []
    rows.append([result.mean(k) for k in keys])
    width = max(len(line) for line in lines[1:])
    out = lines[:1] + [lines[1].ljust(width) + "".join(f"  {names[k]:>{column}}" for k in keys)]
    for line, values in zip(lines[2:], rows):
        out.append(line.ljust(width) + "".join(f"  {_fmt(v, 3):>{column}}" for v in values))
    return out


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf" (identical images) or "nan"; JSON has no infinity
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_json(result: Evaluation, path: str | os.PathLike) -> Path:
    """Write the scores (per image and mean) as JSON, atomically."""
    return write_text_atomic(path, json.dumps(_json_safe(result.to_dict()), indent=2) + "\n")


def write_csv(result: Evaluation, path: str | os.PathLike) -> Path:
    """Write one row per image and a final ``mean`` row as CSV, atomically."""
    fields = ["image", "height", "width", "channels", "psnr", "ssim"]
    if result.has_baseline:
        fields += ["bicubic_psnr", "bicubic_ssim"]
    fields += result.niqe_keys() + result.artefact_keys()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for score in result.images:
        values = asdict(score)
        writer.writerow([_cell(values[f]) for f in fields])
    writer.writerow(["mean", "", "", ""] + [_cell(result.mean(f)) for f in fields[4:]])
    return write_text_atomic(path, buffer.getvalue())


def _cell(value) -> str:
    if value is None:  # a measure this image does not have (Cb/Cr PSNR of a grey image)
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6f}"
    return str(value)
