"""The command-line programs: entry points, cheap argument parsing, TensorFlow kept quiet."""

import importlib
import os
import subprocess
import sys

import pytest
import tomllib

from tests.conftest import REPO

PROGRAMS = {
    "sr-train": ("sr_tf.cli.train", "train.py"),
    "sr-resolve": ("sr_tf.cli.resolve", "resolve_image.py"),
    "sr-evaluate": ("sr_tf.cli.evaluate", "evaluate.py"),
    "sr-export": ("sr_tf.cli.export", "export.py"),
    "sr-mos": ("sr_tf.cli.mos", "mos.py"),
}


def _env_without_tf_log_level() -> dict:
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # conftest sets it; users usually have not
    return env


def test_entry_points_name_each_program():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == set(PROGRAMS)
    for command, target in scripts.items():
        module, _, function = target.partition(":")
        assert module == PROGRAMS[command][0]
        assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("command", sorted(PROGRAMS))
def test_top_level_scripts_are_wrappers_of_the_package_programs(command):
    module, script = PROGRAMS[command]
    text = (REPO / script).read_text()
    assert f"from {module} import" in text and "sys.path" not in text
    assert len([line for line in text.splitlines() if line and not line.startswith("#")]) <= 5


def test_precision_defaults_do_not_follow_the_cpu_where_results_must_not():
    """resolve_image.py takes the CPU's fastest (auto); evaluate.py's scores stay float32 unless
    asked, on any CPU."""
    from sr_tf.cli import evaluate, resolve

    assert resolve.parse_args(["a.png"]).precision == "auto"
    assert evaluate.parse_args(["--data", "d", "--method", "bicubic"]).precision == "float32"


def test_parsing_arguments_loads_no_tensorflow():
    code = (
        "import sys\n"
        "import sr_tf.cli.train as t, sr_tf.cli.resolve as r, sr_tf.cli.evaluate as e, "
        "sr_tf.cli.export as x\n"
        "t.parse_args(['data', '--degradation', 'gaussian'])\n"
        "r.parse_args(['a.png', '--scale', '2'])\n"
        "e.parse_args(['--data', 'd', '--method', 'bicubic'])\n"
        "x.parse_args(['--output', 'o', '--scale', '2'])\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_tensorflow_start_up_lines_stay_off_the_terminal(tmp_path):
    """A user's mistake is one line on stderr, with nothing from TensorFlow's C++ side."""
    result = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "--data", str(tmp_path / "none")],
        cwd=tmp_path,
        env=_env_without_tf_log_level(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: not a folder: {tmp_path / 'none'}"]


@pytest.mark.parametrize(
    "setting, verbose, expected",
    [(None, True, "None"), ("1", False, "1"), ("0", True, "0")],
)
def test_verbose_or_the_users_setting_leaves_tensorflow_alone(setting, verbose, expected):
    env = _env_without_tf_log_level()
    if setting is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = setting
    code = (
        "import os, sys\nfrom sr_tf.cli import quiet_tensorflow\n"
        f"quiet_tensorflow({verbose})\n"
        "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [expected, "False"]


def test_require_files_names_the_first_missing_file_and_its_option(tmp_path):
    from sr_tf.cli import require_files
    from sr_tf.errors import UserError

    present = tmp_path / "a.png"
    present.write_bytes(b"x")
    require_files([present], "--images")
    with pytest.raises(UserError, match=r"^--images: no file .*missing\.png$"):
        require_files([present, tmp_path / "missing.png", tmp_path / "other.png"], "--images")
    with pytest.raises(UserError, match="no file"):
        require_files([tmp_path], "--images")  # a folder is not a file
