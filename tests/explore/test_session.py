"""The explorer's answers, without a browser: pictures, scores, clear errors, nothing written."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest
from PIL import Image

from vaelab.cli.main import main

pytest.importorskip("flask")

from vaelab.cli.explore_commands import make_app  # noqa: E402


def png(size: tuple[int, int], fill: bool = True) -> bytes:
    picture = Image.new("L", size)
    if fill:
        picture.paste(255, (size[0] // 3, 2, size[0] // 2, size[1] - 3))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def test_an_image_run_answers_and_refuses_bad_input(image_run: Path) -> None:
    before = snapshot(image_run)
    client = make_app(image_run).test_client()
    info = client.get("/api/describe").get_json()
    assert info["sliders"] == ["z1", "z2", "z3"] and info["shape"] == [1, 28, 28]
    first = client.post("/api/decode", json={"values": [0, 0, 0]}).get_json()["image"]
    moved = client.post("/api/decode", json={"values": [2.5, -2, 0]}).get_json()["image"]
    assert first.startswith("data:image/png;base64,") and moved != first
    scored = client.post("/api/score?k=20", data={"image": (io.BytesIO(png((28, 28))), "d.png")}).get_json()
    assert scored["log_px"] >= scored["elbo"] - 5 and len(scored["position"]) == 2
    assert scored["pareto_k"] is None and "too few samples" in scored["pareto_k_warning"]  # k = 20
    tailed = client.post("/api/score?k=200", data={"image": (io.BytesIO(png((28, 28))), "d.png")}).get_json()
    assert isinstance(tailed["pareto_k"], float)
    assert (tailed["pareto_k_warning"] is None) == (tailed["pareto_k"] <= 0.7)
    assert len(client.get("/api/scatter").get_json()["points"]) > 100
    assert client.get("/api/interpolate?a=0&b=5").status_code == 200
    for data, message in [(png((28, 28), fill=False), "blank"), (b"not an image", "not an image"),
                          (png((40, 30)), "40×30 pixels; this model reads 28×28")]:
        answer = client.post("/api/score?k=5", data={"image": (io.BytesIO(data), "x.png")})
        assert answer.status_code == 400 and message in answer.get_json()["error"]
    zero_k = client.post("/api/score?k=0", data={"image": (io.BytesIO(png((28, 28))), "d.png")})
    assert zero_k.status_code == 400
    assert client.get("/api/interpolate?a=0&b=100000").status_code == 400
    assert client.post("/api/decode", json={"values": [1]}).status_code == 400
    assert client.get("/api/sample?seed=abc").status_code == 400
    assert snapshot(image_run) == before  # the explorer never writes into the run folder


def test_a_sequence_run_intervenes(sequence_run: Path) -> None:
    client = make_app(sequence_run).test_client()
    info = client.get("/api/describe").get_json()
    assert info["view"] == "sequence" and "g_over_L" in info["learned"]
    shown = client.get("/api/sequence?index=1").get_json()
    assert len(shown["frames"]) == 24 and len(shown["filtered_theta"]) == 24
    rolled = client.post("/api/intervene", json={"index": 1, "start": 5, "torque": "constant:3",
                                                 "horizon": 12}).get_json()
    assert len(rolled["model"]) == len(rolled["simulator"]) == 12
    assert 0 <= rolled["valid_prediction_time"] <= 1
    assert rolled["torque"] == [3.0] * 12
    bad = client.post("/api/intervene", json={"index": 1, "start": 5, "torque": "wobble"})
    assert bad.status_code == 400 and "constant:V" in bad.get_json()["error"]
    assert client.get("/api/sequence?index=99").status_code == 400


def test_command_line_mistakes_are_one_line(image_run: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["explore", str(tmp_path)]) == 2
    assert "not a vaelab run folder" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["explore", str(image_run), "--port", str(port)]) == 2
    assert "choose another --port" in capsys.readouterr().err
    assert main(["explore", str(image_run), "--port", "70000"]) == 2
    assert os.environ.get("VAELAB_NEVER_SET") is None


@pytest.mark.parametrize("model", ["adgm", "sdgm"])
def test_an_auxiliary_semi_supervised_run_explores(model: str, tmp_path: Path) -> None:
    run = tmp_path / model
    assert main(["train", "--model", model, "--dataset", "mnist-5k", "--train-limit", "200",
                 "--validation-size", "50", "--labels", "20", "--latent-dim", "3", "--hidden", "16",
                 "--classifier-hidden", "16", "--auxiliary-dim", "2", "--batch-size", "50",
                 "--epochs", "1", "--no-eval", "--no-progress", "--run-dir", str(run)]) == 0
    client = make_app(run).test_client()
    info = client.get("/api/describe").get_json()
    assert info["semisupervised"] and info["classes"] == 10
    assert client.post("/api/decode", json={"values": [0, 0, 0], "label": 3}).status_code == 200
    scored = client.post("/api/score?k=20", data={"image": (io.BytesIO(png((28, 28))), "d.png")}).get_json()
    assert len(scored["classes"]) == 10 and abs(sum(scored["classes"]) - 1) < 1e-4
    assert scored["log_px"] >= scored["elbo"] - 5 and scored["styles"].startswith("data:image/png")
    assert client.get("/api/sample?seed=1").status_code == 200
