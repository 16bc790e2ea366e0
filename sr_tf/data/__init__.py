"""Data: sources of images (``sources``, ``tfds``) and the tf.data pipelines (``pipeline``).

Modules, in data-flow order: ``tfds`` (TFDS sets written once as folders), ``sources`` (folders,
pairs, validation splits), ``pipeline`` (training patches, validation images).
"""

from sr_tf.data.pipeline import (
    materialize_pairs,
    replica_elements,
    training_dataset,
    validation_dataset,
)
from sr_tf.data.sources import (
    DEFAULT_TFDS,
    ImageSource,
    combine_sources,
    folder_source,
    paired_source,
    resolve_source,
    split_validation,
    training_sources,
)
from sr_tf.data.tfds import TFDS_PREFIX, is_tfds_name, tfds_to_folder

__all__ = [
    "DEFAULT_TFDS",
    "TFDS_PREFIX",
    "ImageSource",
    "combine_sources",
    "folder_source",
    "is_tfds_name",
    "materialize_pairs",
    "paired_source",
    "replica_elements",
    "resolve_source",
    "split_validation",
    "tfds_to_folder",
    "training_dataset",
    "training_sources",
    "validation_dataset",
]
