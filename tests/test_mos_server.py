"""The rating page's server: only the study's own files, the JSON API, one-line refusals."""

import http.client
import socket
import threading

import pytest
from werkzeug.serving import make_server

from sr_tf.errors import UserError
from sr_tf.mos.server import ASSETS, bind, create_app
from sr_tf.mos.store import Store
from sr_tf.mos.study import load_study
from tests.conftest import fake_mos_study


@pytest.fixture
def study(tmp_path):
    return load_study(fake_mos_study(tmp_path / "s"))


@pytest.fixture
def client(study):
    return create_app(study, Store.for_study(study)).test_client()


@pytest.fixture
def live(study):
    """The app behind a real HTTP server on a free port (requests go out as written)."""
    server = make_server("127.0.0.1", 0, create_app(study, Store.for_study(study)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.port
    server.shutdown()
    server.server_close()


def raw_get(port: int, path: str) -> int:
    """The status of GET ``path`` sent byte for byte (no client-side ``..`` clean-up)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_page_and_its_assets_are_served_with_a_strict_policy(client):
    for route in ASSETS:
        response = client.get(route)
        assert response.status_code == 200
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"/rate.js" in client.get("/").data


def test_images_are_served_by_id_only(client, study):
    item = study.items[0]
    response = client.get(f"/image/{item.id}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == study.path(item).read_bytes()
    assert client.get(f"/image/{study.calibration[0].id}").status_code == 200
    for path in (
        "/image/000000000000",
        f"/items/{item.id}.png",
        "/study.json",
        "/ratings.sqlite",
        "/static/rate.js",
        "/web/rate.js",
        "/image/..%2fstudy.json",
        "/image/../study.json",
        "/../study.json",
    ):
        assert client.get(path).status_code == 404, path


def test_dot_dot_paths_on_the_wire_are_404(live, study):
    item = study.items[0]
    assert raw_get(live, f"/image/{item.id}") == 200
    for path in (
        "/../study.json",
        "/image/../study.json",
        "/image/..%2fstudy.json",
        "/image/%2e%2e/study.json",
        "/%2e%2e/%2e%2e/etc/passwd",
        f"/image/../items/{item.id}.png",
        "/rate.js/../study.json",
        "//etc/passwd",
        "/image/" + item.id + "/..",
    ):
        assert raw_get(live, path) == 404, path


def test_a_rater_signs_in_calibrates_rates_and_resumes(client, study):
    answer = client.post("/api/session", json={"rater": "ann"}).get_json()
    order = study.order_for("ann")
    assert (answer["rated"], answer["total"], answer["calibrated"]) == (0, 12, False)
    assert answer["next"] == {"id": order[0], "url": f"/image/{order[0]}", "position": 0}
    assert [(c["score"], c["label"]) for c in answer["calibration"]] == [
        (5, "Excellent"),
        (1, "Bad"),
    ]
    assert "method" not in str(answer) and "tiny" not in str(answer)  # blind
    refused = client.post("/api/rating", json={"rater": "ann", "item": order[0], "score": 3})
    assert refused.status_code == 409
    assert client.post("/api/calibrated", json={"rater": "ann"}).get_json()["calibrated"]
    answer = client.post(
        "/api/rating", json={"rater": "ann", "item": order[0], "score": 3, "elapsed_ms": 900}
    ).get_json()
    assert (answer["rated"], answer["next"]["id"], answer["stored"]) == (1, order[1], True)
    again = client.post(
        "/api/rating", json={"rater": "ann", "item": order[0], "score": 5}
    ).get_json()
    assert (again["rated"], again["stored"]) == (1, False)
    resumed = client.post("/api/session", json={"rater": "ann"}).get_json()
    assert (resumed["rated"], resumed["calibrated"], resumed["next"]["id"]) == (1, True, order[1])
    for item in order[1:]:
        answer = client.post(
            "/api/rating", json={"rater": "ann", "item": item, "score": 2}
        ).get_json()
    assert answer["next"] is None and answer["rated"] == 12


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"rater": "ann", "item": "x", "score": 3}, 400),
        ({"rater": "ann", "score": 3}, 400),
        ({"rater": "ann", "item": None, "score": 0}, 400),
        ({"rater": "ann", "item": None, "score": 6}, 400),
        ({"rater": "ann", "item": None, "score": "3"}, 400),
        ({"rater": "ann", "item": None, "score": True}, 400),
        ({"rater": "../ann", "item": None, "score": 3}, 400),
        ({"item": None, "score": 3}, 400),
        ({"rater": "zed", "item": None, "score": 3}, 404),
    ],
)
def test_bad_ratings_are_refused(client, study, payload, status):
    client.post("/api/session", json={"rater": "ann"})
    client.post("/api/calibrated", json={"rater": "ann"})
    if "item" in payload and payload["item"] is None:
        payload = {**payload, "item": study.order_for("ann")[0]}
    response = client.post("/api/rating", json=payload)
    assert response.status_code == status and "error" in response.get_json()
    assert client.post("/api/session", data="not json").status_code == 400


def test_a_port_in_use_or_a_bad_host_is_one_clear_line():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with pytest.raises(
            UserError, match=f"port {taken.getsockname()[1]} on 127.0.0.1 is in use"
        ):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
    with pytest.raises(UserError, match="--host no.such.host.invalid"):
        bind("no.such.host.invalid", 0)
    sock = bind("127.0.0.1", 0)
    assert sock.getsockname()[1] > 0
    sock.close()
