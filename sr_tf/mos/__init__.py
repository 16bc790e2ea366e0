"""Mean-opinion-score (MOS) studies, as the SRGAN paper ran them: raters score each version of
each test image from 1 (bad) to 5 (excellent), blind to the method, in their own random order.

Modules, in import order (each imports only from the ones before it, and from the package's
modules up to ``sr_tf.inference``):

* ``study``: the study folder (``study.json``: methods, images, items, hashes, the command),
  loading it with its format-version check, and each rater's seeded order.  No TensorFlow.
* ``prepare``: making a study: the models' outputs through ``TiledUpscaler`` (as
  ``resolve_image.py``), the HR and nearest-neighbour / bicubic anchors, calibration images.
* ``store``: the ratings in SQLite, one committed transaction per rating.
* ``stats``: two-way bootstrap confidence intervals, Mann-Whitney U, Wilcoxon signed-rank, Holm.
* ``chart``: the MOS chart, drawn with Pillow.
* ``report``: MOS table, pairwise tests, chart, raw ratings CSV and a Markdown summary.
* ``simulate``: confidence-interval width for a number of raters and images, on simulated ratings.
* ``server``: the rating web page (Flask) over a study and its store.
* ``browser``: headless Chromium through Selenium, for the browser test and the screenshot
  (Selenium is a test dependency, imported only there).

``sr-mos`` (``mos.py``; ``sr_tf/cli/mos.py``) is the command line.  Nothing is imported here, so
``serve`` and ``report`` never load TensorFlow.
"""
