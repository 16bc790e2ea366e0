"""``realistic``: a random second-order degradation for real-world photos, inside ``tf.data``.

The recipe is Real-ESRGAN's (Wang et al., 2021, "Real-ESRGAN: training real-world blind
super-resolution with pure synthetic data", section 3 and its training settings), written here
from the paper's description; BSRGAN (Zhang et al., 2021) argues for the same ingredients.
From a float HR image [H, W, C] in [0, 1]:

1. first order: blur (a random kernel, ``sr_tf.degradations.blur``), a random resize (up,
   down or kept; area, bilinear or bicubic), noise (Gaussian or Poisson, colour or grey), JPEG;
2. second order: the same again with its own ranges (the blur only with probability
   ``blur2``); its resize is relative to the final LR size, ``H / scale``;
3. last: the resize to exactly ``H / scale`` x ``W / scale`` (random mode) with a sinc filter
   (probability ``final_sinc``), and the second JPEG, in a random order (JPEG last or first,
   even chances), then the 8-bit grid.

Every draw is a stateless random op keyed by one seed (``element_key(seed, index)`` in
training), so an element's LR is a pure function of (seed, element index): runs repeat and
resume exactly.  ``parameters`` returns the draws of a key as numbers (what the tests check).
Fixed choices (not in the spec): kernel families iso / aniso Gaussian 0.45 / 0.25, generalised
iso / aniso 0.12 / 0.03, plateau iso / aniso 0.12 / 0.03; resize up / down / keep 0.2 / 0.7 /
0.1 (first order) and 0.3 / 0.4 / 0.3 (second); Gaussian rather than Poisson noise with
probability 0.5; sinc cut-off in [pi/3, pi] for kernels under 13 taps, else [pi/5, pi] (final
sinc: [pi/3, pi]); all Real-ESRGAN's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

from sr_tf.degradations.blur import (
    GAUSSIAN,
    MAX_KERNEL,
    PLATEAU,
    SINC,
    filter2d,
    gaussian_1d,
    kernel,
    separable_filter,
)
from sr_tf.degradations.jpeg import jpeg
from sr_tf.degradations.keys import content_key, subkey
from sr_tf.degradations.noise import gaussian_noise, poisson_noise
from sr_tf.degradations.spec import check_keys, format_range, parse_number, parse_range
from sr_tf.errors import UserError
from sr_tf.resize import degrade_bicubic, quantize

# Kernel mix (Real-ESRGAN): iso, aniso Gaussian; generalised iso, aniso; plateau iso, aniso.
KERNEL_MIX = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
RESIZE_MIX = ((0.2, 0.7, 0.1), (0.3, 0.4, 0.3))  # up / down / keep, first and second order
RESIZE_MODES = ("area", "bilinear", "bicubic")  # chosen with equal chances
GAUSSIAN_NOISE_PROB = 0.5  # else Poisson (both orders)
JPEG_FIRST_PROB = 0.5  # last stage: JPEG before the final resize + sinc
# Unsharp masking of HR targets, as Real-ESRGAN does it: OpenCV's 51-tap Gaussian (sigma 8,
# what sigma 0 means for 51 taps), edges only where |residual| > 10 grey levels, mask blurred.
USM_TAPS, USM_SIGMA, USM_THRESHOLD = 51, 8.0, 10.0

# key: (default, low bound, high bound); ranges are low-high, probabilities single numbers.
RANGES = {
    "kernel": ((7, 21), 3, MAX_KERNEL),  # odd kernel sizes, both orders and the final sinc
    "sigma": ((0.2, 3.0), 0.05, 10.0),  # Gaussian widths, first order (pixels)
    "sigma2": ((0.2, 1.5), 0.05, 10.0),
    "betag": ((0.5, 4.0), 0.1, 8.0),  # generalised Gaussian shape
    "betap": ((1.0, 2.0), 0.1, 8.0),  # plateau shape
    "resize": ((0.15, 1.5), 0.05, 4.0),  # first-order resize factor
    "resize2": ((0.3, 1.2), 0.05, 4.0),  # second order, relative to the final LR size
    "noise": ((1.0, 30.0), 0.0, 100.0),  # Gaussian noise sigma on the 0..255 scale
    "noise2": ((1.0, 25.0), 0.0, 100.0),
    "poisson": ((0.05, 3.0), 0.0, 10.0),  # Poisson noise scale
    "poisson2": ((0.05, 2.5), 0.0, 10.0),
    "jpeg": ((30, 95), 10, 100),  # JPEG quality
    "jpeg2": ((30, 95), 10, 100),
}
PROBABILITIES = {
    "blur2": 0.8,  # second-order blur
    "sinc": 0.1,  # a sinc kernel instead of the mix, first order
    "sinc2": 0.1,
    "final_sinc": 0.8,
    "gray": 0.4,  # grey rather than colour noise, first order
    "gray2": 0.4,
    # Not Real-ESRGAN's: shares of patches whose LR is the plain MATLAB-bicubic LR ("clean"),
    # or that LR saved as JPEG at a jpeg2 quality ("plain_jpeg"), instead of the random
    # pipeline; a model trained with some of both keeps its quality on clean and merely
    # compressed inputs, the commonest photos.  Both 0 by default (the pure pipeline).
    "clean": 0.0,
    "plain_jpeg": 0.0,
}
SHARPEN_BOUNDS = (0.0, 2.0)  # USM weight of HR targets; Real-ESRGAN uses 0.5


class _Draws:
    """Named stateless draws from one key: each name has its own stream."""

    def __init__(self, key: tf.Tensor):
        self.key = tf.cast(key, tf.int64)

    def seed(self, name: str) -> tf.Tensor:
        return subkey(self.key, name)

    def uniform(self, name: str, low, high) -> tf.Tensor:
        u = tf.random.stateless_uniform([], self.seed(name), dtype=tf.float32)
        low, high = tf.cast(low, tf.float32), tf.cast(high, tf.float32)
        return low + (high - low) * u

    def chance(self, name: str, probability: float) -> tf.Tensor:
        return self.uniform(name, 0.0, 1.0) < probability

    def choice(self, name: str, probabilities: tuple[float, ...]) -> tf.Tensor:
        """An index drawn with the given (summing to 1) probabilities."""
        edges = tf.constant([sum(probabilities[: i + 1]) for i in range(len(probabilities) - 1)])
        return tf.reduce_sum(tf.cast(self.uniform(name, 0.0, 1.0) >= edges, tf.int32))

    def integer(self, name: str, low: int, high: int) -> tf.Tensor:
        """An integer in [low, high]."""
        return tf.random.stateless_uniform([], self.seed(name), low, high + 1, dtype=tf.int32)


def _split_around_one(draws: _Draws, name: str, low: float, high: float) -> tf.Tensor:
    """A shape exponent as Real-ESRGAN draws it: below or above 1 with even chances."""
    one = min(max(1.0, low), high)
    below = draws.uniform(name + "_low", low, one)
    above = draws.uniform(name + "_high", one, high)
    return tf.where(draws.chance(name + "_side", 0.5), below, above)


@dataclass(frozen=True)
class Realistic:
    """The realistic second-order degradation with its ranges (see the module docstring)."""

    kernel: tuple[float, float] = RANGES["kernel"][0]
    sigma: tuple[float, float] = RANGES["sigma"][0]
    sigma2: tuple[float, float] = RANGES["sigma2"][0]
    betag: tuple[float, float] = RANGES["betag"][0]
    betap: tuple[float, float] = RANGES["betap"][0]
    resize: tuple[float, float] = RANGES["resize"][0]
    resize2: tuple[float, float] = RANGES["resize2"][0]
    noise: tuple[float, float] = RANGES["noise"][0]
    noise2: tuple[float, float] = RANGES["noise2"][0]
    poisson: tuple[float, float] = RANGES["poisson"][0]
    poisson2: tuple[float, float] = RANGES["poisson2"][0]
    jpeg: tuple[float, float] = RANGES["jpeg"][0]
    jpeg2: tuple[float, float] = RANGES["jpeg2"][0]
    blur2: float = PROBABILITIES["blur2"]
    sinc: float = PROBABILITIES["sinc"]
    sinc2: float = PROBABILITIES["sinc2"]
    final_sinc: float = PROBABILITIES["final_sinc"]
    gray: float = PROBABILITIES["gray"]
    gray2: float = PROBABILITIES["gray2"]
    clean: float = PROBABILITIES["clean"]
    plain_jpeg: float = PROBABILITIES["plain_jpeg"]
    sharpen: float = 0.0  # USM weight of the HR targets (training only); 0: off
    name = "realistic"

    @classmethod
    def from_params(cls, part: str, values: dict[str, str]) -> Realistic:
        """``realistic:jpeg=30-95,noise=1-30,...`` (parsed by ``spec.split_part``)."""
        check_keys(part, values, (*RANGES, *PROBABILITIES, "sharpen"))
        fields: dict = {}
        for key, text in values.items():
            if key in RANGES:
                _, low, high = RANGES[key]
                fields[key] = parse_range(part, key, text, low, high)
            elif key in PROBABILITIES:
                fields[key] = parse_number(part, key, text, 0.0, 1.0)
            else:
                fields[key] = parse_number(part, key, text, *SHARPEN_BOUNDS)
        for key in ("kernel", "jpeg", "jpeg2"):
            if key in fields and any(v != int(v) for v in fields[key]):
                raise UserError(f"degradation {part.strip()!r}: {key} must be whole numbers")
        if fields.get("clean", 0.0) + fields.get("plain_jpeg", 0.0) > 1.0:
            raise UserError(f"degradation {part.strip()!r}: clean + plain_jpeg must be <= 1")
        if "kernel" in fields and any(int(v) % 2 == 0 for v in fields["kernel"]):
            raise UserError(f"degradation {part.strip()!r}: kernel sizes must be odd, e.g. 7-21")
        return cls(**fields)

    def to_spec(self) -> str:
        """Every range and probability, written out (run.json records exactly what was used)."""
        items = [f"{k}={format_range(getattr(self, k))}" for k in RANGES]
        items += [f"{k}={getattr(self, k):g}" for k in (*PROBABILITIES, "sharpen")]
        return "realistic:" + ",".join(items)

    # -- the draws ------------------------------------------------------------------------

    def _kernel_draws(self, d: _Draws, tag: str, sigma, sinc_prob: float) -> dict:
        lo, hi = (int(v) for v in self.kernel)
        size = 2 * d.integer(tag + "_size", lo // 2, hi // 2) + 1
        kind = d.choice(tag + "_kind", KERNEL_MIX)  # 0..5 as in KERNEL_MIX
        iso = kind % 2 == 0
        sigma_x = d.uniform(tag + "_sigma_x", *sigma)
        sigma_y = tf.where(iso, sigma_x, d.uniform(tag + "_sigma_y", *sigma))
        theta = tf.where(iso, 0.0, d.uniform(tag + "_theta", -math.pi, math.pi))
        beta = tf.where(
            kind < 2,
            1.0,
            tf.where(
                kind < 4,
                _split_around_one(d, tag + "_betag", *self.betag),
                _split_around_one(d, tag + "_betap", *self.betap),
            ),
        )
        is_sinc = d.chance(tag + "_sinc", sinc_prob)
        low_cut = tf.where(size < 13, math.pi / 3, math.pi / 5)
        omega = d.uniform(tag + "_omega", low_cut, math.pi)
        family = tf.where(is_sinc, SINC, tf.where(kind >= 4, PLATEAU, GAUSSIAN))
        return {
            f"{tag}_size": size,
            f"{tag}_kind": kind,
            f"{tag}_sinc": is_sinc,
            f"{tag}_family": family,
            f"{tag}_sigma_x": sigma_x,
            f"{tag}_sigma_y": sigma_y,
            f"{tag}_theta": theta,
            f"{tag}_beta": beta,
            f"{tag}_omega": omega,
        }

    def _resize_draws(self, d: _Draws, tag: str, factors, mix) -> dict:
        low, high = factors
        kind = d.choice(tag + "_kind", mix)  # 0 up, 1 down, 2 keep
        up = d.uniform(tag + "_up", 1.0, max(high, 1.0))
        down = d.uniform(tag + "_down", min(low, 1.0), 1.0)
        factor = tf.where(kind == 0, up, tf.where(kind == 1, down, 1.0))
        return {
            f"{tag}_kind": kind,
            f"{tag}_factor": tf.clip_by_value(factor, low, high),
            f"{tag}_mode": d.integer(tag + "_mode", 0, len(RESIZE_MODES) - 1),
        }

    def _noise_draws(self, d: _Draws, tag: str, sigma, poisson, grey: float) -> dict:
        return {
            f"{tag}_gaussian": d.chance(tag + "_gaussian", GAUSSIAN_NOISE_PROB),
            f"{tag}_gray": d.chance(tag + "_gray", grey),
            f"{tag}_sigma": d.uniform(tag + "_sigma", *sigma),
            f"{tag}_poisson": d.uniform(tag + "_poisson", *poisson),
        }

    def draw(self, key: tf.Tensor) -> dict[str, tf.Tensor]:
        """Every random parameter of one degradation, as scalar tensors, from ``key``."""
        d = _Draws(key)
        p = {}
        p.update(self._kernel_draws(d, "blur1", self.sigma, self.sinc))
        p.update(self._resize_draws(d, "resize1", self.resize, RESIZE_MIX[0]))
        p.update(self._noise_draws(d, "noise1", self.noise, self.poisson, self.gray))
        p["jpeg1_quality"] = d.integer("jpeg1_quality", *(int(v) for v in self.jpeg))
        p["blur2_apply"] = d.chance("blur2_apply", self.blur2)
        p.update(self._kernel_draws(d, "blur2", self.sigma2, self.sinc2))
        p.update(self._resize_draws(d, "resize2", self.resize2, RESIZE_MIX[1]))
        p.update(self._noise_draws(d, "noise2", self.noise2, self.poisson2, self.gray2))
        p["jpeg2_quality"] = d.integer("jpeg2_quality", *(int(v) for v in self.jpeg2))
        lo, hi = (int(v) for v in self.kernel)
        p["final_sinc"] = d.chance("final_sinc", self.final_sinc)
        p["final_size"] = 2 * d.integer("final_size", lo // 2, hi // 2) + 1
        p["final_omega"] = d.uniform("final_omega", math.pi / 3, math.pi)
        p["final_mode"] = d.integer("final_mode", 0, len(RESIZE_MODES) - 1)
        p["final_jpeg_first"] = d.chance("final_jpeg_first", JPEG_FIRST_PROB)
        rest = max(0.0, 1.0 - self.clean - self.plain_jpeg)
        p["route"] = d.choice("route", (self.clean, self.plain_jpeg, rest))  # 0, 1: not random
        return p

    def parameters(self, key: tf.Tensor) -> dict[str, float | int | bool]:
        """``draw`` as plain Python numbers (for tests and inspection)."""
        return {k: v.numpy().item() for k, v in self.draw(key).items()}

    # -- the pipeline ---------------------------------------------------------------------

    def __call__(self, hr: tf.Tensor, scale: int, key: tf.Tensor | None = None) -> tf.Tensor:
        """LR of float [H, W, C] or [N, H, W, C] HR (H, W multiples of ``scale``), on the 8-bit
        grid.  Without ``key`` each image's draws come from its own pixels (``content_key``)."""
        hr = tf.convert_to_tensor(hr)
        if hr.shape.rank == 4:
            return tf.map_fn(
                lambda im: self(im, scale, key),
                hr,
                fn_output_signature=tf.TensorSpec([None, None, hr.shape[-1]], hr.dtype),
            )
        if key is None:
            key = content_key(hr)
        return self.degrade(hr, scale, self.draw(key), key)

    def pair(self, hr: tf.Tensor, scale: int, key: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(LR, HR target) of a training patch: the target is ``hr``, unsharp-masked with
        weight ``sharpen`` when that is above 0."""
        lr = self(hr, scale, key)
        return lr, (unsharp_mask(hr, self.sharpen) if self.sharpen > 0 else hr)

    def degrade(self, hr: tf.Tensor, scale: int, p: dict, key: tf.Tensor) -> tf.Tensor:
        """The pipeline with the parameters ``p`` (``draw``); ``key`` seeds the noise."""
        if self.clean == 0.0 and self.plain_jpeg == 0.0:
            return self._random_pipeline(hr, scale, p, key)

        def plain() -> tf.Tensor:
            return tf.cast(degrade_bicubic(tf.cast(hr, tf.float32), scale), hr.dtype)

        return tf.case(
            [
                (tf.equal(p["route"], 0), plain),
                (
                    tf.equal(p["route"], 1),
                    lambda: tf.cast(quantize(jpeg(plain(), p["jpeg2_quality"])), hr.dtype),
                ),
            ],
            default=lambda: self._random_pipeline(hr, scale, p, key),
        )

    def _random_pipeline(self, hr: tf.Tensor, scale: int, p: dict, key: tf.Tensor) -> tf.Tensor:
        d = _Draws(key)
        dtype = hr.dtype
        image = tf.cast(hr, tf.float32)
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        out_h, out_w = height // scale, width // scale

        out = filter2d(image, _kernel_of(p, "blur1"))
        factor = p["resize1_factor"]
        out = _resize(out, _scaled(height, factor), _scaled(width, factor), p["resize1_mode"])
        out = _noise(out, p, "noise1", d)
        out = jpeg(out, p["jpeg1_quality"])

        blurred = tf.cond(
            p["blur2_apply"], lambda: filter2d(out, _kernel_of(p, "blur2")), lambda: out
        )
        factor = p["resize2_factor"]
        out = _resize(blurred, _scaled(out_h, factor), _scaled(out_w, factor), p["resize2_mode"])
        out = _noise(out, p, "noise2", d)

        def resize_and_sinc(x: tf.Tensor) -> tf.Tensor:
            x = _resize(x, out_h, out_w, p["final_mode"])
            sinc = kernel(SINC, p["final_size"], 1.0, 1.0, 0.0, 1.0, p["final_omega"])
            return tf.cond(p["final_sinc"], lambda: filter2d(x, sinc), lambda: x)

        out = tf.cond(
            p["final_jpeg_first"],
            lambda: resize_and_sinc(jpeg(out, p["jpeg2_quality"])),
            lambda: jpeg(resize_and_sinc(out), p["jpeg2_quality"]),
        )
        lr = quantize(tf.clip_by_value(out, 0.0, 1.0))
        if hr.shape[0] is not None and hr.shape[1] is not None:
            lr = tf.ensure_shape(lr, [hr.shape[0] // scale, hr.shape[1] // scale, hr.shape[2]])
        else:
            lr = tf.ensure_shape(lr, [None, None, hr.shape[2]])
        return tf.cast(lr, dtype)


def _kernel_of(p: dict, tag: str) -> tf.Tensor:
    return kernel(
        p[f"{tag}_family"],
        p[f"{tag}_size"],
        p[f"{tag}_sigma_x"],
        p[f"{tag}_sigma_y"],
        p[f"{tag}_theta"],
        p[f"{tag}_beta"],
        p[f"{tag}_omega"],
    )


def _scaled(length: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """floor(length x factor), at least 1 pixel."""
    return tf.maximum(1, tf.cast(tf.cast(length, tf.float32) * factor, tf.int32))


def _resize(image: tf.Tensor, height: tf.Tensor, width: tf.Tensor, mode: tf.Tensor) -> tf.Tensor:
    size = tf.stack([height, width])
    branches = [
        lambda m=m: tf.image.resize(image, size, method=m, antialias=False) for m in RESIZE_MODES
    ]
    return tf.switch_case(tf.cast(mode, tf.int32), branches)


def _noise(image: tf.Tensor, p: dict, tag: str, d: _Draws) -> tf.Tensor:
    grey = p[f"{tag}_gray"]
    noisy = tf.cond(
        p[f"{tag}_gaussian"],
        lambda: gaussian_noise(image, p[f"{tag}_sigma"], grey, d.seed(tag + "_values")),
        lambda: poisson_noise(image, p[f"{tag}_poisson"], grey, d.seed(tag + "_values")),
    )
    return tf.clip_by_value(noisy, 0.0, 1.0)


def unsharp_mask(image: tf.Tensor, weight: float) -> tf.Tensor:
    """Real-ESRGAN's sharpening of HR targets: ``image + weight (image - blur)`` where the
    residual exceeds ``USM_THRESHOLD`` grey levels, blended by a blurred mask; 8-bit grid."""
    image = tf.convert_to_tensor(image)
    taps = gaussian_1d(USM_SIGMA, USM_TAPS)
    work = tf.cast(image, tf.float32)
    residual = work - separable_filter(work, taps)
    mask = tf.cast(tf.abs(residual) * 255.0 > USM_THRESHOLD, tf.float32)
    soft = separable_filter(mask, taps)
    sharp = tf.clip_by_value(work + weight * residual, 0.0, 1.0)
    return tf.cast(quantize(soft * sharp + (1.0 - soft) * work), image.dtype)
