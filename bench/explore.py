"""`vaelab explore`: slider-to-image latency and the server's memory, for the default model.

Builds a run folder of the default MLP VAE (784-512-512-32, `vaelab train --epochs 0`: the
latency does not depend on the weights' values), serves it with the real server on a free local
port, and times HTTP requests a moving slider makes (POST /api/decode: decode E[x | z], encode the
PNG, answer JSON) from request to parsed answer. Target (issue 13): < 100 ms per update on CPU.

    python bench/explore.py                 # 200 slider moves
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch
from werkzeug.serving import make_server

from vaelab.cli.explore_commands import make_app
from vaelab.cli.main import main as vaelab


def post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "default"
        assert vaelab(["train", "--epochs", "0", "--no-eval", "--no-progress", "--out", str(run)]) == 0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        app = make_app(run)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/api/decode"
        sliders = len(app.test_client().get("/api/describe").get_json()["sliders"])
        rng = random.Random(0)
        values = [0.0] * sliders
        for _ in range(10):  # warm up
            post(url, {"values": values})
        times = []
        for _ in range(args.moves):
            values[rng.randrange(sliders)] = rng.uniform(-3, 3)
            started = time.perf_counter()
            post(url, {"values": values})
            times.append(1000 * (time.perf_counter() - started))
        server.shutdown()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"default MLP VAE (784-512-512-32), {sliders} sliders, {args.moves} slider moves over HTTP, "
          f"torch threads {args.threads}")
    print(f"slider -> image latency: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
          f"max {times[-1]:.1f} ms (target < 100 ms)")
    print(f"server process peak memory: {rss:.0f} MB (of which {rss - rss_before:.0f} MB after the run was "
          f"trained: model, 1,000 test images, latent statistics)")


if __name__ == "__main__":
    main()
