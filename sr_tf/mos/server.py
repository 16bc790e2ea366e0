"""The rating web page of a study (Flask): sign-in and resume by rater id, calibration, one image
at a time in the rater's own order, ratings stored before the page moves on.

Only these paths exist; everything else is 404 (``..`` included, as no route takes a path):

* ``/``, ``/rate.js``, ``/rate.css``: the page (``sr_tf/mos/web/``);
* ``/image/<id>``: an item or calibration image, looked up by its id in the manifest;
* ``POST /api/session``, ``/api/calibrated``, ``/api/rating``: JSON in, JSON out.

The page never learns a method's name: an image is only its opaque id.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask, abort, jsonify, request, send_file
from werkzeug.serving import WSGIRequestHandler, make_server

from sr_tf.errors import UserError
from sr_tf.mos.store import RaterState, Store
from sr_tf.mos.study import SCORE_LABELS, Study, check_name, verify_files

WEB = Path(__file__).resolve().parent / "web"
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/rate.js": ("rate.js", "text/javascript; charset=utf-8"),
    "/rate.css": ("rate.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _bad_request(message: str, status: int = 400):
    return jsonify({"error": message}), status


def _rater_from(payload) -> str:
    rater = payload.get("rater") if isinstance(payload, dict) else None
    if not isinstance(rater, str):
        raise UserError("give a rater id")
    return check_name(rater.strip(), "rater id")


def _state_json(state: RaterState) -> dict:
    following = None
    if state.next_item is not None:
        following = {
            "id": state.next_item,
            "url": f"/image/{state.next_item}",
            "position": state.next_position,
        }
    return {
        "rater": state.rater,
        "rated": state.rated,
        "total": state.total,
        "calibrated": state.calibrated,
        "next": following,
    }


def create_app(study: Study, store: Store, log: Callable[[str], None] | None = None) -> Flask:
    """The Flask app of ``study``, storing ratings in ``store``."""
    app = Flask(__name__, static_folder=None)
    calibration = [
        {"id": c.id, "url": f"/image/{c.id}", "score": c.score, "label": SCORE_LABELS[c.score]}
        for c in study.calibration
    ]
    say = log or (lambda message: None)

    def asset(name: str, mimetype: str):
        return send_file(WEB / name, mimetype=mimetype, max_age=0)

    for number, (route, (name, mimetype)) in enumerate(ASSETS.items()):
        app.add_url_rule(route, f"asset{number}", lambda n=name, t=mimetype: asset(n, t))

    @app.get("/image/<item_id>")
    def image(item_id: str):
        item = study.by_id.get(item_id)
        if item is None:
            abort(404)
        return send_file(study.path(item), mimetype="image/png", max_age=3600)

    @app.post("/api/session")
    def session():
        try:
            rater = _rater_from(request.get_json(silent=True))
        except UserError as err:
            return _bad_request(str(err))
        known = store.state(rater)
        state = known or store.start(rater, study.order_for(rater))
        if known is None:
            say(f"rater {rater} started ({state.total} items)")
        return jsonify({**_state_json(state), "calibration": calibration, "scores": SCORE_LABELS})

    @app.post("/api/calibrated")
    def calibrated():
        try:
            rater = _rater_from(request.get_json(silent=True))
        except UserError as err:
            return _bad_request(str(err))
        if store.state(rater) is None:
            return _bad_request(f"unknown rater {rater}; sign in first", 404)
        store.mark_calibrated(rater)
        return jsonify(_state_json(store.state(rater)))

    @app.post("/api/rating")
    def rating():
        payload = request.get_json(silent=True)
        try:
            rater = _rater_from(payload)
        except UserError as err:
            return _bad_request(str(err))
        item, score = payload.get("item"), payload.get("score")
        elapsed = payload.get("elapsed_ms")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            return _bad_request("score must be a whole number from 1 to 5")
        if not isinstance(item, str) or item not in study.by_id:
            return _bad_request("unknown item")
        if not isinstance(elapsed, int) or isinstance(elapsed, bool) or elapsed < 0:
            elapsed = None
        state = store.state(rater)
        if state is None:
            return _bad_request(f"unknown rater {rater}; sign in first", 404)
        if not state.calibrated:
            return _bad_request("calibration comes first", 409)
        try:
            added = store.add_rating(rater, item, score, elapsed)
        except ValueError as err:
            return _bad_request(str(err))
        state = store.state(rater)
        if added and state.next_item is None:
            say(f"rater {rater} finished ({state.rated} ratings)")
        return jsonify({**_state_json(state), "stored": added})

    @app.after_request
    def headers(response):
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


class QuietHandler(WSGIRequestHandler):
    """Request lines stay off the terminal; errors still reach it."""

    def log_request(self, code="-", size="-"):
        if str(code).startswith("5"):
            super().log_request(code, size)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one clear line when that cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UserError(f"--host {host}: not an address of this machine ({err.strerror})") from err
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is in use (another server?); pick another with --port"
            ) from err
        if err.errno in (errno.EACCES, errno.EPERM):
            raise UserError(
                f"not allowed to listen on {host}:{port}; use a port above 1023"
            ) from err
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror}") from err
    return sock


def serve(study: Study, host: str = "127.0.0.1", port: int = 8000, verify: bool = True) -> None:
    """Serve ``study`` until interrupted (Ctrl-C)."""
    if verify:
        verify_files(study)
    store = Store.for_study(study)

    def log(message: str) -> None:
        print(message, flush=True)

    sock = bind(host, port)
    server = make_server(
        host,
        sock.getsockname()[1],
        create_app(study, store, log),
        threaded=True,
        request_handler=QuietHandler,
        fd=sock.fileno(),
    )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.port}/"
    log(
        f"serving {study.folder} ({len(study.items)} items, {len(study.calibration)} "
        f"calibration) at {url}"
    )
    if host in ("0.0.0.0", "::"):
        log(f"on other machines use http://<this machine's address>:{server.port}/")
    log("ratings are stored in " + str(store.path) + "; Ctrl-C stops")
    try:
        server.serve_forever()  # werkzeug's returns on Ctrl-C
    finally:
        server.server_close()
        sock.close()
    print("stopped; every rating given is stored", file=sys.stderr)
