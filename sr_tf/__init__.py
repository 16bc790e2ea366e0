"""sr_tf: single-image super-resolution with TensorFlow and Keras 3.

Pixel convention (the one rule the whole package follows):

* On disk, images are 8-bit (uint8, 0..255).
* Between functions, images are float32 RGB in [0, 1], shaped [H, W, 3] or [N, H, W, 3]
  (channels last).  Models take and return this range; outputs may stray slightly outside
  it and are clipped only when quantised back to uint8 (``to_uint8``).
* Metrics (PSNR/SSIM) are computed on uint8-quantised images on the 0..255 scale, as the
  published benchmark protocol does.
"""

__version__ = "0.1.0"
