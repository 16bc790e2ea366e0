"""The ratings store: orders, resume, one committed transaction per rating, exclusion."""

import sqlite3
import subprocess
import sys

import pytest

from sr_tf.errors import UserError
from sr_tf.mos.store import Store
from sr_tf.mos.study import load_study
from tests.conftest import REPO, fake_mos_study


@pytest.fixture
def study(tmp_path):
    return load_study(fake_mos_study(tmp_path / "s"))


def test_a_new_rater_gets_their_order_and_resumes_where_they_stopped(study):
    store = Store.for_study(study)
    order = study.order_for("ann")
    state = store.start("ann", order)
    assert (state.rated, state.total, state.calibrated) == (0, 12, False)
    assert (state.next_item, state.next_position) == (order[0], 0)
    store.mark_calibrated("ann")
    assert store.add_rating("ann", order[0], 4, 812)
    assert store.add_rating("ann", order[1], 2)
    again = Store.for_study(study).start("ann", list(reversed(order)))  # the stored order wins
    assert (again.rated, again.next_item, again.next_position, again.calibrated) == (
        2,
        order[2],
        2,
        True,
    )
    assert [(r.item, r.score, r.position, r.elapsed_ms) for r in store.ratings()] == [
        (order[0], 4, 0, 812),
        (order[1], 2, 1, None),
    ]


def test_a_second_rating_of_an_item_keeps_the_first_and_strangers_are_refused(study):
    store = Store.for_study(study)
    order = study.order_for("ann")
    store.start("ann", order)
    assert store.add_rating("ann", order[0], 5)
    assert not store.add_rating("ann", order[0], 1)
    assert [r.score for r in store.ratings()] == [5]
    with pytest.raises(ValueError, match="not in rater"):
        store.add_rating("ann", "000000000000", 3)
    with pytest.raises(ValueError, match="not in rater"):
        store.add_rating("bob", order[1], 3)
    with pytest.raises(ValueError, match="not 1-5"):
        store.add_rating("ann", order[1], 6)
    assert store.state("bob") is None


def test_every_rating_is_committed_before_add_rating_returns(study):
    """A process killed (SIGKILL) right after storing loses nothing."""
    order = study.order_for("ann")
    code = (
        "import os, signal\n"
        "from sr_tf.mos.store import Store\n"
        "from sr_tf.mos.study import load_study\n"
        f"study = load_study({str(study.folder)!r})\n"
        "store = Store.for_study(study)\n"
        "store.start('ann', study.order_for('ann'))\n"
        "for i, item in enumerate(study.order_for('ann')[:5]):\n"
        "    store.add_rating('ann', item, 1 + i % 5)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=120)
    assert result.returncode == -9
    stored = Store.for_study(study).ratings()
    assert [(r.item, r.score) for r in stored] == [
        (item, 1 + i % 5) for i, item in enumerate(order[:5])
    ]


def test_excluding_a_rater_is_stored_and_reversible(study):
    store = Store.for_study(study)
    store.start("ann", study.order_for("ann"))
    store.set_excluded("ann", True, "rated HR as 1")
    [row] = store.raters()
    assert row["excluded"] and row["reason"] == "rated HR as 1" and row["total"] == 12
    store.set_excluded("ann", False)
    assert not store.raters()[0]["excluded"]
    with pytest.raises(UserError, match="no rater 'zed'.*raters: ann"):
        store.set_excluded("zed")


def test_a_store_of_another_study_or_no_database_is_refused(study, tmp_path):
    Store.for_study(study)
    with pytest.raises(UserError, match="another study"):
        Store(study.database, "some-other-study")
    other = load_study(fake_mos_study(tmp_path / "other"))
    with pytest.raises(UserError, match="no ratings yet"):
        Store.for_study(other, create=False)
    (other.folder / "ratings.sqlite").write_bytes(b"not a database at all, not at all" * 40)
    with pytest.raises(UserError, match="not a ratings database"):
        Store.for_study(other)
    with sqlite3.connect(study.database) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(UserError, match="another version"):
        Store.for_study(study)
