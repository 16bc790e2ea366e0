"""A MOS study folder: ``study.json`` (the manifest), the images it lists, and the ratings.

Layout of a study folder::

    study.json          methods, images, items (one per image and method), calibration items,
                        sha256 of every file, the command that made it, the format version
    items/<id>.png      one version of one image; the opaque id is all a rater's page sees
    calibration/<id>.png
    ratings.sqlite      the ratings (``sr_tf.mos.store``), made by the first ``serve``

Loading checks the format version, so a folder made by another version of the tool is refused
with one line, not misread.  No TensorFlow here: ``serve`` and ``report`` start fast.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from sr_tf.errors import UserError
from sr_tf.fileio import sha256_of, write_text_atomic

FORMAT = "sr_tf-mos-study"
FORMAT_VERSION = 1
MANIFEST_NAME = "study.json"
DATABASE_NAME = "ratings.sqlite"
# The anchors a study can include, by name; "nearest" is the paper's low anchor.
ANCHORS = ("hr", "nearest", "bicubic")
LOW_ANCHORS = ("nearest", "bicubic")
# The absolute category rating scale the paper used: 1 (bad) to 5 (excellent).
SCORE_LABELS = {1: "Bad", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent"}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
ITEM_ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class Item:
    """One picture a rater sees: a version (``method``) of one image, stored at ``file``."""

    id: str
    image: str
    method: str
    file: str
    sha256: str
    score: int | None = None  # the intended score of a calibration item; None for study items


@dataclass
class Study:
    """A loaded study folder."""

    folder: Path
    manifest: dict
    items: list[Item]
    calibration: list[Item]
    by_id: dict[str, Item] = field(init=False, repr=False)

    def __post_init__(self):
        self.by_id = {item.id: item for item in self.items + self.calibration}

    @property
    def study_id(self) -> str:
        return self.manifest["study_id"]

    @property
    def seed(self) -> int:
        return int(self.manifest["seed"])

    @property
    def methods(self) -> list[str]:
        return [m["name"] for m in self.manifest["methods"]]

    @property
    def images(self) -> list[str]:
        return [i["name"] for i in self.manifest["images"]]

    @property
    def database(self) -> Path:
        return self.folder / DATABASE_NAME

    def path(self, item: Item) -> Path:
        return self.folder / item.file

    def order_for(self, rater: str) -> list[str]:
        """The item ids in ``rater``'s order (``rater_order``)."""
        return rater_order([item.id for item in self.items], self.seed, rater)


def rater_order(item_ids: list[str], seed: int, rater: str) -> list[str]:
    """A random order of ``item_ids`` that depends only on the study seed and the rater id."""
    digest = hashlib.sha256(f"{seed}:{rater}".encode()).digest()
    ids = sorted(item_ids)
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(ids)
    return ids


def check_name(name: str, what: str) -> str:
    """A method, image or rater name: letters, digits and ``._+-``, at most 64 characters."""
    if not NAME_PATTERN.match(name):
        raise UserError(
            f"{what} {name!r}: use letters, digits and . _ + - (at most 64, not starting with "
            "a symbol)"
        )
    return name


def write_manifest(folder: Path, manifest: dict) -> Path:
    """Write ``study.json`` atomically (the last file ``prepare`` writes)."""
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    return write_text_atomic(Path(folder) / MANIFEST_NAME, text)


def _item(data: dict, folder: Path, where: str) -> Item:
    try:
        item = Item(
            id=str(data["id"]),
            image=str(data["image"]),
            method=str(data["method"]),
            file=str(data["file"]),
            sha256=str(data["sha256"]),
            score=data.get("score"),
        )
    except (KeyError, TypeError) as err:
        raise UserError(f"{where}: damaged {MANIFEST_NAME} (an item lacks {err})") from err
    if not ITEM_ID_PATTERN.match(item.id):
        raise UserError(f"{where}: damaged {MANIFEST_NAME} (item id {item.id!r})")
    path = (folder / item.file).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise UserError(f"{where}: item {item.id} points outside the study folder: {item.file}")
    if not path.is_file():
        raise UserError(f"{where}: missing image {item.file} (item {item.id}); prepare again")
    return item


def load_study(folder: str | Path) -> Study:
    """Read and check a study folder; every problem is one ``UserError`` line."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    if not manifest_path.is_file():
        raise UserError(f"{folder} is not a MOS study (no {MANIFEST_NAME}); make one with prepare")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{manifest_path}: not valid JSON ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{manifest_path} is not a MOS study manifest")
    version = manifest.get("version")
    if version != FORMAT_VERSION:
        raise UserError(
            f"{folder} was made by another version of the MOS tool (study format {version}, "
            f"this one reads {FORMAT_VERSION}); prepare the study again with this version"
        )
    items = [_item(d, folder, str(folder)) for d in manifest.get("items", [])]
    calibration = [_item(d, folder, str(folder)) for d in manifest.get("calibration", [])]
    ids = [item.id for item in items + calibration]
    if len(set(ids)) != len(ids):
        raise UserError(f"{manifest_path}: damaged (an item id appears twice)")
    if not items:
        raise UserError(f"{manifest_path}: the study has no items")
    return Study(folder, manifest, items, calibration)


def verify_files(study: Study) -> None:
    """Check every item's sha256 against the manifest (a damaged or edited image is named)."""
    for item in study.items + study.calibration:
        if sha256_of(study.path(item)) != item.sha256:
            raise UserError(
                f"{study.path(item)} differs from the one prepared (sha256); prepare the study again"
            )
