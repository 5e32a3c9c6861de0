"""The explorer's local web server: a Flask app over an `ImageSession` or `SequenceSession`.

Routes answer JSON (pictures as PNG data URLs); the page and its script are served from this
package, so it works offline. A mistake in a request (a non-image upload, an image of another
size, a number out of range) is a 400 with {"error": message} for the page to show; anything else
is a 500 with the same shape: the server never goes down over one request, and never writes.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from flask import Flask, Response, jsonify, request

from vaelab.explore.sequence_session import SequenceSession
from vaelab.explore.session import ImageSession

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
#: the page loads nothing from elsewhere: scripts, styles and images from this server only
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                           "script-src 'self'; connect-src 'self'")


def _static(name: str) -> Response:
    text = resources.files("vaelab.explore").joinpath("static", name).read_text(encoding="utf-8")
    response = Response(text, mimetype=STATIC[name].split(";")[0])
    response.headers["Content-Type"] = STATIC[name]
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _number(name: str, kind: type, default: Any = None) -> Any:
    raw = request.args.get(name, default)
    if raw is None:
        raise ValueError(f"missing parameter {name!r}")
    try:
        return kind(raw)
    except (TypeError, ValueError) as error:
        raise ValueError(f"parameter {name!r} must be a {kind.__name__}, got {raw!r}") from error


def create_app(session: ImageSession | SequenceSession) -> Flask:
    """The app serving `session`'s page and answers."""
    app = Flask("vaelab.explore", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024  # an upload beyond 8 MB is refused (413)
    _add_error_answers(app)
    _add_page(app, session)
    if isinstance(session, ImageSession):
        _add_image_answers(app, session)
    else:
        _add_sequence_answers(app, session)
    return app


def _add_error_answers(app: Flask) -> None:
    """Every error answers as JSON {"error": message} with its status."""

    @app.errorhandler(ValueError)
    def bad_request(error: ValueError) -> tuple[Response, int]:
        return jsonify(error=str(error)), 400

    @app.errorhandler(413)
    def too_large(error: Exception) -> tuple[Response, int]:
        return jsonify(error="that file is larger than 8 MB"), 413

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[Response, int]:
        return jsonify(error=f"no such page: {request.path}"), 404

    @app.errorhandler(Exception)
    def internal(error: Exception) -> tuple[Response, int]:
        return jsonify(error=f"internal error: {type(error).__name__}: {error}"), 500


def _add_page(app: Flask, session: ImageSession | SequenceSession) -> None:
    """The page, its files, and what the page asks first: which run it shows."""

    @app.get("/")
    def index() -> Response:
        return _static("index.html")

    @app.get("/<name>")
    def asset(name: str) -> Response:
        if name not in STATIC:
            raise ValueError(f"no such file: {name}")
        return _static(name)

    @app.get("/api/describe")
    def describe() -> Response:
        return jsonify(session.describe())


def _add_image_answers(app: Flask, session: ImageSession) -> None:
    """An image model's answers: decode a latent point, sample, scatter, score, interpolate."""

    @app.post("/api/decode")
    def decode() -> Response:
        body = request.get_json(silent=True) or {}
        values = body.get("values")
        if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
            raise ValueError("expected {\"values\": [numbers]}")
        label = body.get("label", 0)
        if not isinstance(label, int):
            raise ValueError("label must be a class number")
        return jsonify(session.decode([float(v) for v in values], label))

    @app.get("/api/sample")
    def sample() -> Response:
        return jsonify(session.sample(_number("seed", int, 0)))

    @app.get("/api/scatter")
    def scatter() -> Response:
        return jsonify(session.scatter())

    @app.post("/api/score")
    def score() -> Response:
        upload = request.files.get("image")
        data = upload.read() if upload is not None else request.get_data()
        if not data:
            raise ValueError("no image received: draw on the canvas or choose a file")
        return jsonify(session.score(data, _number("k", int, 100)))

    @app.get("/api/interpolate")
    def interpolate() -> Response:
        return jsonify(session.interpolate(_number("a", int), _number("b", int),
                                           _number("steps", int, 8)))


def _add_sequence_answers(app: Flask, session: SequenceSession) -> None:
    """A sequence model's answers: a test sequence, and its rollout under an intervention."""

    @app.get("/api/sequence")
    def sequence() -> Response:
        return jsonify(session.sequence(_number("index", int, 0)))

    @app.post("/api/intervene")
    def intervene() -> Response:
        body = request.get_json(silent=True) or {}
        try:
            index, start = int(body.get("index", 0)), int(body.get("start", 0))
            horizon = int(body.get("horizon", 60))
        except (TypeError, ValueError) as error:
            raise ValueError("index, start and horizon must be whole numbers") from error
        return jsonify(session.intervene(index, start, str(body.get("torque", "none")), horizon))


__all__ = ["CONTENT_SECURITY_POLICY", "create_app"]
