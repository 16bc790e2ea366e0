"""The report: MOS arithmetic, excluded raters, pairwise tests, files written atomically."""

import csv
import json

import pytest

from sr_tf.errors import UserError
from sr_tf.mos.report import write_report
from sr_tf.mos.store import Store
from sr_tf.mos.study import load_study
from tests.conftest import fake_mos_study

PLAN = {"tiny-a": 3, "tiny-b": 4, "hr": 5, "nearest": 1}


def rate(study, store, rater, score_of, count=None):
    order = study.order_for(rater)
    store.start(rater, order)
    store.mark_calibrated(rater)
    entered = []
    for item_id in order[:count]:
        item = study.by_id[item_id]
        score = score_of(item)
        store.add_rating(rater, item_id, score)
        entered.append((rater, item.image, item.method, score))
    return entered


@pytest.fixture
def rated(tmp_path):
    """Three raters on a fake study; the third rates everything 3 and is excluded."""
    study = load_study(fake_mos_study(tmp_path / "s", images=4))
    store = Store.for_study(study)
    entered = rate(study, store, "ann", lambda i: PLAN[i.method])
    entered += rate(
        study, store, "bob", lambda i: max(1, PLAN[i.method] - int(i.image[-1]) % 2), count=10
    )
    rate(study, store, "cat", lambda i: 3)
    store.set_excluded("cat", True, "flat")
    return study, entered


def test_the_mos_is_the_mean_of_the_counted_ratings(rated, tmp_path):
    study, entered = rated
    paths, analysis = write_report(study, tmp_path / "r", n_boot=300)
    record = json.loads(paths["json"].read_text())
    by_method = {m["name"]: m for m in record["methods"]}
    for method in PLAN:
        mine = [s for _, _, m, s in entered if m == method]
        assert by_method[method]["ratings"] == len(mine)
        assert by_method[method]["mos"] == pytest.approx(sum(mine) / len(mine))
        assert by_method[method]["low"] <= by_method[method]["mos"] <= by_method[method]["high"]
        assert sum(by_method[method]["histogram"]) == len(mine)
    assert [m["name"] for m in record["methods"]] == ["hr", "tiny-b", "tiny-a", "nearest"]
    assert record["raters"] == ["ann", "bob"] and record["excluded"] == ["cat"]
    assert record["ratings"] == len(entered) == 16 + 10 and record["excluded_ratings"] == 16
    assert len(record["pairs"]) == 6
    best = record["pairs"][0]
    assert (best["a"], best["b"]) == ("hr", "tiny-b") and best["difference"] > 0
    assert best["holm_p"] >= best["wilcoxon_p"]
    assert analysis.methods[0].name == "hr"


def test_the_csv_has_every_rating_and_flags_excluded_raters(rated, tmp_path):
    study, entered = rated
    paths, _ = write_report(study, tmp_path / "r", n_boot=200)
    with open(paths["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(entered) + 16
    assert {r["excluded"] for r in rows if r["rater"] == "cat"} == {"1"}
    counted = sorted(
        (r["rater"], r["image"], r["method"], int(r["score"])) for r in rows if r["excluded"] == "0"
    )
    assert counted == sorted(entered)


def test_the_markdown_names_the_tests_and_the_resampling(rated, tmp_path):
    study, _ = rated
    paths, _ = write_report(study, tmp_path / "r", n_boot=200, title="Example")
    text = paths["markdown"].read_text()
    assert text.startswith("# Example\n")
    for phrase in (
        "two-way resampling",
        "Wilcoxon signed-rank",
        "Mann-Whitney U",
        "Holm",
        "excluded (flat)",
        "![MOS per method](mos.png)",
    ):
        assert phrase in text
    assert sorted(p.name for p in paths["markdown"].parent.iterdir()) == [
        "mos.json",
        "mos.md",
        "mos.png",
        "ratings.csv",
    ]


def test_complete_only_leaves_out_raters_who_stopped(rated, tmp_path):
    study, entered = rated
    _, analysis = write_report(study, tmp_path / "r", n_boot=200, complete_only=True)
    assert analysis.raters == ["ann"] and analysis.ratings == 16


def test_nothing_to_report_is_one_clear_line(tmp_path):
    study = load_study(fake_mos_study(tmp_path / "s"))
    with pytest.raises(UserError, match="no ratings yet"):
        write_report(study)
    store = Store.for_study(study)
    rate(study, store, "cat", lambda i: 3)
    store.set_excluded("cat")
    with pytest.raises(UserError, match=r"no ratings to report .*12 from excluded"):
        write_report(study)
    with pytest.raises(UserError, match="at least 100"):
        write_report(study, n_boot=10)
