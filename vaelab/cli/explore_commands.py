"""`vaelab explore RUN`: serve the interactive page of a trained run on this machine."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from vaelab.cli.common import add_command, add_data_dir, add_device, add_run
from vaelab.training.config_files import ConfigError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
INSTALL_HINT = "vaelab explore needs Flask: pip install 'vaelab[explore]'"


def add_explore(sub: Any) -> None:
    """Start a local web server with a page to explore RUN: latent sliders with the decoded image,
    samples, a canvas to draw (or upload) an image and see its reconstruction, ELBO and log p(x),
    interpolations; q(y|x) and styles for semi-supervised runs; for the pendulum, test sequences
    with the filtered state and the model's rollout under a torque you impose beside the
    simulator's. Works offline; reads the run folder and never writes into it. Needs `pip install
    'vaelab[explore]'`."""
    p = add_command(sub, "explore", "an interactive page to look inside a trained model", add_explore.__doc__)
    add_run(p)
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but this machine (127.0.0.1) must be asked "
                        "for here explicitly, and anyone who can reach it can use the page")
    add_device(p, "cpu")
    add_data_dir(p)
    p.set_defaults(handler=run_explore)


def make_app(run: Path, device: str = "cpu", data_dir: str | None = None) -> Any:
    """The Flask app for a run folder (ConfigError when Flask is missing); `data_dir`: where the
    run's data are now, when they moved."""
    try:
        import flask  # noqa: F401
    except ImportError as error:
        raise ConfigError(INSTALL_HINT) from error
    from vaelab import kinds
    from vaelab.explore.server import create_app

    session = kinds.command_of(kinds.kind_of_run(run), "explore_session")
    return create_app(session(run, device=device, data_dir=data_dir))


def check_free(host: str, port: int) -> None:
    """ConfigError (one line) when `host:port` cannot be listened on, e.g. a port in use."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                          "choose another --port") from error


def run_explore(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be in [1, 65535], got {args.port}")
    check_free(args.host, args.port)
    app = make_app(args.run, args.device, args.data_dir)
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request; errors still show
    server = make_server(args.host, args.port, app, threaded=True)
    if args.host not in LOCAL_HOSTS:
        print(f"vaelab: warning: serving on {args.host}: other machines that can reach it can use "
              "the page", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"vaelab explore: http://{host}:{server.server_port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("vaelab explore: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
