"""sr-mos (mos.py): subcommands, one-line errors with exit code 2, no TensorFlow but in prepare."""

import json
import socket
import subprocess
import sys

import pytest

from sr_tf.cli.mos import main, parse_args
from sr_tf.errors import UserError
from sr_tf.mos.store import Store
from sr_tf.mos.study import MANIFEST_NAME, load_study
from tests.conftest import REPO, fake_mos_study


def run_mos(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "mos.py"), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_arguments_of_each_subcommand():
    args = parse_args(
        ["prepare", "edsr-x4", "g=srgan-x4", "--images", "a", "-o", "s", "--crop", "256"]
    )
    assert args.methods == ["edsr-x4", "g=srgan-x4"] and args.crop == (256, 256)
    assert args.anchors == ["hr", "nearest", "bicubic"] and args.precision == "float32"
    assert parse_args(
        ["prepare", "--images", "a", "-o", "s", "--crop", "64x48", "--anchors", "hr,bicubic"]
    ).crop == (64, 48)
    serve = parse_args(["serve", "s"])
    assert (serve.host, serve.port) == ("127.0.0.1", 8000)
    assert parse_args(["simulate", "--raters", "4,8"]).raters == [4, 8]
    for bad in (
        ["prepare", "--images", "a", "-o", "s", "--crop", "0"],
        ["simulate", "--raters", "1"],
        [],
    ):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_parsing_serving_and_reporting_load_no_tensorflow():
    code = (
        "import sys\n"
        "import sr_tf.cli.mos as m\n"
        "import sr_tf.mos.server, sr_tf.mos.report, sr_tf.mos.simulate, sr_tf.mos.browser\n"
        "m.parse_args(['serve', 's'])\n"
        "print(sorted(x for x in ('tensorflow', 'keras') if x in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_bad_input_to_prepare_is_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="no such image: .*missing.png"):
        main(["prepare", "--images", str(tmp_path / "missing.png"), "-o", str(tmp_path / "s")])
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(UserError, match="duplicate method name 'edsr-x4'"):
        main(
            [
                "prepare",
                "edsr-x4",
                "edsr-x4",
                "--images",
                str(tmp_path / "a.png"),
                "-o",
                str(tmp_path / "s"),
            ]
        )


def test_a_port_in_use_is_one_line_and_exit_code_2(tmp_path):
    folder = fake_mos_study(tmp_path / "s")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = run_mos("serve", folder, "--port", port)
    finally:
        taken.close()
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (another server?); pick another with --port"
    ]


def test_a_study_from_another_version_is_one_line_and_exit_code_2(tmp_path):
    folder = fake_mos_study(tmp_path / "s")
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).write_text(json.dumps({**manifest, "version": 0}))
    result = run_mos("report", folder)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {folder} was made by another version of the MOS tool (study format 0, this one "
        "reads 1); prepare the study again with this version"
    ]


def test_raters_exclude_include_and_report(tmp_path, capsys):
    folder = fake_mos_study(tmp_path / "s")
    study = load_study(folder)
    store = Store.for_study(study)
    for rater, score in (("ann", 4), ("bob", 2)):
        store.start(rater, study.order_for(rater))
        store.mark_calibrated(rater)
        for item in study.order_for(rater)[: 12 if rater == "ann" else 5]:
            store.add_rating(rater, item, score)
    main(["raters", str(folder)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rater", "rated", "calibrated", "status"]
    assert lines[1].split() == ["ann", "12/12", "yes"] and lines[2].split() == [
        "bob",
        "5/12",
        "yes",
    ]
    main(["exclude", str(folder), "bob", "--reason", "stopped early"])
    assert capsys.readouterr().out == "bob: excluded from reports\n"
    main(["raters", str(folder)])
    assert "excluded: stopped early" in capsys.readouterr().out
    main(["report", str(folder), "--boot", "200"])
    out = capsys.readouterr().out
    assert "| tiny-a | 3 | 4.00 |" in out and "12 ratings from 1 raters" in out
    assert (folder / "report" / "mos.md").is_file()
    main(["include", str(folder), "bob"])
    main(["report", str(folder), "--boot", "200", "-o", str(tmp_path / "r2")])
    assert "17 ratings from 2 raters" in capsys.readouterr().out
    with pytest.raises(UserError, match="no rater 'zed'"):
        main(["exclude", str(folder), "zed"])


def test_simulate_prints_a_labelled_table(capsys):
    main(["simulate", "--raters", "3,6", "--images", "4", "--repeats", "2", "--boot", "100"])
    out = capsys.readouterr().out
    assert out.startswith("SIMULATED ratings (not people)") and "| 6 |" in out
