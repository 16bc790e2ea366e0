"""sr_tf.inference.files: naming jobs, many files with progress, bad files skipped."""

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_image, tiny_model
from PIL import Image

from sr_tf.errors import UserError
from sr_tf.imageio import read_image, write_image
from sr_tf.inference import (
    Job,
    TiledUpscaler,
    plan_jobs,
    upscale_files,
)


def test_jobs_naming_and_collisions(tmp_path, image_folder):
    a = tmp_path / "a.png"
    jobs = plan_jobs([str(a), str(image_folder)], None, 4)
    assert jobs[0] == Job(a, Path("results/a_x4.png"))
    assert any(j.target.as_posix() == "results/sub/deep_x4.png" for j in jobs)
    assert plan_jobs([str(a)], tmp_path / "out.jpg", 2)[0].target == tmp_path / "out.jpg"
    with pytest.raises(UserError, match="names one file"):
        plan_jobs([str(image_folder)], tmp_path / "out.png", 2)
    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="both be written"):
        plan_jobs([str(a), str(tmp_path / "b" / "a.png")], tmp_path / "o", 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        plan_jobs([str(tmp_path / "empty")], None, 2)


def test_many_files_skip_bad_ones_and_report_progress(tmp_path, image_folder):
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    # EXIF orientation 6 (rotate 90 degrees clockwise): 40 wide x 24 high is shown as 24 x 40.
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_image(24, 40)).save(image_folder / "rotated.jpg", exif=exif.tobytes())
    jobs = plan_jobs([str(image_folder), str(tmp_path / "missing.png")], tmp_path / "out", 2)
    up = TiledUpscaler(tiny_model("edsr-baseline", 2), 2, tile=32, overlap=4)
    log = io.StringIO()
    failures = upscale_files(up, jobs, log)
    assert sorted(p.name for p, _ in failures) == ["broken.png", "missing.png"]
    text = log.getvalue()
    assert "MP/s" in text and "left" in text and "2 of 9 images failed" in text
    assert read_image(tmp_path / "out" / "rotated_x2.png").shape == (80, 48, 3)
    assert read_image(tmp_path / "out" / "sub" / "deep_x2.png").shape == (104, 88, 3)
    assert not list((tmp_path / "out").rglob("*.tmp"))
    # A single failing file is raised as one user error instead.
    with pytest.raises(UserError, match="cannot read image"):
        upscale_files(up, [Job(image_folder / "broken.png", tmp_path / "x.png")], log)


def test_rgba_and_grey_files_keep_their_mode(tmp_path):
    rgba = np.concatenate([smooth_image(20, 22), np.full((20, 22, 1), 128, np.uint8)], axis=2)
    write_image(tmp_path / "rgba.png", rgba)
    write_image(tmp_path / "grey.png", smooth_image(20, 22)[:, :, :1])
    up = TiledUpscaler(tiny_model("srresnet", 3), 3)
    jobs = plan_jobs([str(tmp_path / "rgba.png"), str(tmp_path / "grey.png")], tmp_path / "o", 3)
    assert upscale_files(up, jobs, io.StringIO()) == []
    with Image.open(tmp_path / "o" / "rgba_x3.png") as img:
        assert img.mode == "RGBA" and img.size == (66, 60)
        assert np.all(np.asarray(img)[:, :, 3] == 128)
    with Image.open(tmp_path / "o" / "grey_x3.png") as img:
        assert img.mode == "L" and img.size == (66, 60)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_no_time_left_before_a_tile_or_while_writing(tmp_path):
    write_image(tmp_path / "a.png", smooth_image(40, 40))
    write_image(tmp_path / "b.png", smooth_image(40, 40))
    up = TiledUpscaler(tiny_model("edsr-baseline", 2), 2, tile=24, overlap=4)
    jobs = plan_jobs([str(tmp_path / "a.png"), str(tmp_path / "b.png")], tmp_path / "o", 2)
    screen = Terminal()
    assert upscale_files(up, jobs, screen) == []
    lines = [line.replace("\x1b[K", "") for line in screen.getvalue().split("\r") if line]
    # Before the first tile: what is happening, no rate and no time left.
    assert lines[0] == "[0/2] a.png: tile 0/4, starting (the first tile also compiles the model)"
    middle = [line for line in lines if "a.png: tile" in line and "tile 0/" not in line]
    assert middle and all(line.endswith(" left") for line in middle[:-1])
    # All tiles done, the file not yet written: no time left (it was "0m00s left").
    assert "tile 4/4" in middle[-1] and middle[-1].endswith("MP/s, writing the file")
    # The second image starts from the first one's rate and time left.
    second = next(line for line in lines if "b.png: tile 0/4" in line)
    assert second.startswith("[1/2]") and second.endswith(" left")
    assert lines[-1].startswith("[2/2] b.png: 40x40 -> 80x80") and "left" not in lines[-1]
