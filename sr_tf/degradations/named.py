"""Named evaluation degradations: a benchmark LR, then fixed damage on the uint8 LR.

``bicubic+jpeg:q=75``, ``bicubic+noise:sigma=10+jpeg:q=85``, ``gaussian:sigma=1.2+jpeg:q=50``:
the first part is ``bicubic`` or ``gaussian[:sigma=S]`` (``sr_tf.degradations.classic``), each
``+`` part after it damages the 8-bit LR, in order:

* ``noise:sigma=S``: additive white Gaussian noise, ``S`` on the 0..255 scale, independent in
  every channel, then rounded and clipped to uint8;
* ``jpeg:q=Q``: a JPEG round trip at quality ``Q`` (``sr_tf.degradations.jpeg``: TensorFlow's
  libjpeg-turbo, 4:2:0 chroma).

Nothing is random between runs: the noise of an image is drawn with a key made from its clean
LR pixels (``content_key``), so an image gets the same noise in any folder, order or process.
In training (``train.py --degradation bicubic+jpeg:q=75``) the damage is applied to each LR
patch with the element's key instead; the JPEG block grid then starts at the patch's corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from sr_tf.degradations.classic import Bicubic, Gaussian
from sr_tf.degradations.jpeg import jpeg
from sr_tf.degradations.keys import content_key, subkey
from sr_tf.degradations.noise import gaussian_noise
from sr_tf.degradations.spec import check_keys, parse_number, split_part
from sr_tf.errors import UserError
from sr_tf.resize import quantize

NOISE_SIGMA_MAX = 100.0  # grey levels


@dataclass(frozen=True)
class Noise:
    """Additive white Gaussian noise of ``sigma`` grey levels per channel, then the 8-bit grid."""

    sigma: float
    name = "noise"

    @classmethod
    def from_params(cls, part: str, values: dict[str, str]) -> Noise:
        check_keys(part, values, ("sigma",))
        if "sigma" not in values:
            raise UserError(f"degradation {part.strip()!r}: noise needs sigma=S (0..255 scale)")
        return cls(parse_number(part, "sigma", values["sigma"], 0.0, NOISE_SIGMA_MAX))

    def to_spec(self) -> str:
        return f"noise:sigma={self.sigma:g}"

    def __call__(self, lr: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        noisy = gaussian_noise(lr, self.sigma, tf.constant(False), key)
        return quantize(tf.clip_by_value(noisy, 0.0, 1.0))


@dataclass(frozen=True)
class Jpeg:
    """A JPEG round trip at ``quality``."""

    quality: int
    name = "jpeg"

    @classmethod
    def from_params(cls, part: str, values: dict[str, str]) -> Jpeg:
        check_keys(part, values, ("q",))
        if "q" not in values:
            raise UserError(f"degradation {part.strip()!r}: jpeg needs q=Q (quality 1-100)")
        quality = parse_number(part, "q", values["q"], 1, 100)
        if quality != int(quality):
            raise UserError(f"degradation {part.strip()!r}: q must be a whole number")
        return cls(int(quality))

    def to_spec(self) -> str:
        return f"jpeg:q={self.quality}"

    def __call__(self, lr: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        return jpeg(lr, self.quality)


Damage = Noise | Jpeg
DAMAGES = {"noise": Noise, "jpeg": Jpeg}


@dataclass(frozen=True)
class Chain:
    """A benchmark LR (``base``) followed by ``damages`` on the uint8 LR."""

    base: Bicubic | Gaussian
    damages: tuple[Damage, ...]
    name = "chain"

    @classmethod
    def parse(cls, spec: str, base: Bicubic | Gaussian, parts: list[str]) -> Chain:
        """The ``+`` parts after the base, each ``noise:sigma=S`` or ``jpeg:q=Q``."""
        damages = []
        for part in parts:
            name, values = split_part(part)
            if name not in DAMAGES:
                raise UserError(
                    f"degradation {spec!r}: unknown damage {name!r} after the base; "
                    "use noise:sigma=S or jpeg:q=Q (e.g. bicubic+noise:sigma=10+jpeg:q=85)"
                )
            damages.append(DAMAGES[name].from_params(spec, values))  # errors name it all
        return cls(base, tuple(damages))

    def to_spec(self) -> str:
        return "+".join([self.base.to_spec(), *(d.to_spec() for d in self.damages)])

    def margin(self, scale: int) -> int:
        return self.base.margin(scale)

    def pad(self, image: tf.Tensor, amount: int) -> tf.Tensor:
        return self.base.pad(image, amount)

    def damage(self, lr: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        """The damages, in order, on one LR image [h, w, C] on the 8-bit grid."""
        for i, step in enumerate(self.damages):
            lr = step(lr, subkey(key, f"{i}:{step.name}"))
        return lr

    def __call__(self, hr: tf.Tensor, scale: int, key: tf.Tensor | None = None) -> tf.Tensor:
        """LR of float [H, W, C] or [N, H, W, C]; without ``key``, from each clean LR's pixels."""
        lr = self.base(hr, scale)
        if lr.shape.rank == 4:
            return tf.map_fn(lambda im: self._damaged(im, key), lr)
        return self._damaged(lr, key)

    def _damaged(self, lr: tf.Tensor, key: tf.Tensor | None) -> tf.Tensor:
        dtype = lr.dtype
        out = self.damage(tf.cast(lr, tf.float32), content_key(lr) if key is None else key)
        return tf.cast(out, dtype)
