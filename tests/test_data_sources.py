import pytest

from sr_tf.data import (
    combine_sources,
    folder_source,
    resolve_source,
    split_validation,
)
from sr_tf.errors import UserError
from tests.conftest import write_div2k_like


def test_sources_combine_split_and_errors(tmp_path, image_folder):
    train, val = split_validation(folder_source(image_folder), 2)
    assert len(train) == 4 and len(val) == 2 and not set(train.hr_paths) & set(val.hr_paths)
    both = combine_sources([folder_source(image_folder), folder_source(image_folder / "sub")])
    assert len(both) == 7
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        resolve_source(str(tmp_path / "empty"), 2)
    with pytest.raises(UserError, match="no such folder"):
        resolve_source(str(tmp_path / "missing" / "x"), 2)


def test_paired_folder_at_the_wrong_scale_is_refused(tmp_path):
    write_div2k_like(tmp_path, 4, ["0001"])
    (tmp_path / "LR" / "0001x4.png").rename(tmp_path / "LR" / "0001.png")
    with pytest.raises(UserError, match="is --scale right"):
        resolve_source(str(tmp_path), 2)
