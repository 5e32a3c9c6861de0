"""The report of sequence (pendulum) runs on tiny real runs: the Run and Causal checks sections, the
evidence comparison of two input hypotheses, and `vaelab report` on sequence runs."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from vaelab.cli.main import build_parser, main
from vaelab.evaluation.interventions import STANDARD_INTERVENTIONS, intervene, load_torque
from vaelab.kinds.ssm_training import load_sequence_run
from vaelab.reports import write_sequence_report
from vaelab.reports.sequence_report import CONTEXT, HORIZON, STRIP_EVERY

TINY_DATA = {"train_sequences": 16, "train_length": 12, "valid_sequences": 2, "valid_length": 12,
             "test_sequences": 4, "test_length": 12, "image_size": 16}
TINY_MODEL = {"encoder_hidden": [16, 8], "rnn_hidden": 8, "combiner_hidden": 8, "decoder_hidden": [16],
              "transition_hidden": 8}
#: test sequences the report uses (small: fast)
SEQUENCES = 3


def _train(root: Path, name: str, *extra: str) -> Path:
    config = root / f"{name}.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "train": {"batch_size": 8},
                                  "data": {"data_dir": str(root / "data"), "pendulum": TINY_DATA}}))
    run = root / name
    assert main(["train", "--model", "ssm", "--config", str(config), "--epochs", "1", "--no-eval",
                 "--no-progress", "--run-dir", str(run), *extra]) == 0
    return run


@pytest.fixture(scope="module")
def driven(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A physics run whose recorded torque drives the state."""
    return _train(tmp_path_factory.mktemp("sequence-runs"), "driven")


@pytest.fixture(scope="module")
def undriven(driven: Path) -> Path:
    """The same model and data under the hypothesis "no input acts" (`--input none`)."""
    return _train(driven.parent, "undriven", "--input", "none")


def _section(page: str, key: str) -> str:
    start = page.index(f'<section id="{key}"')
    return page[start:page.index("</section>", start)]


def _pngs(html: str) -> list[Image.Image]:
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(s))) for s in sources]


def _rows(html: str) -> list[list[str]]:
    """The body rows of the tables in `html`, as lists of cell texts (header rows left out)."""
    rows = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)]
    return [row for row in rows if row]


def test_one_run_gets_its_hypothesis_constants_and_interventions(driven: Path) -> None:
    path = write_sequence_report([driven], load_sequence_run, sequences=SEQUENCES, progress=False)
    assert path == driven / "report.html"
    page = path.read_text()
    assert re.findall(r'<section id="([^"]+)"', page) == ["run1-run", "run1-causal"]
    assert "<script" not in page and "default-src 'none'" in page

    run = _section(page, "run1-run")
    assert "input</td><td>recorded: the recorded torque drives the state" in run
    assert "epochs trained</td><td class=\"num\">1</td>" in run
    assert "image_size=16" in run and "test_sequences=4" in run  # the settings that differ from defaults
    model, config, splits = load_sequence_run(driven)
    learned = model.physical_constants()
    assert learned is not None
    assert ["g/L (1/s²)", f"{learned['g_over_L']:.3f}", "9.810"] in _rows(run)
    assert ["input gain", f"{learned['input_gain']:.3f}", "1.000"] in _rows(run)

    causal = _section(page, "run1-causal")
    table = causal[causal.index("<table>"):causal.index("</table>")]
    rows = _rows(table)
    assert [r[0] for r in rows] == list(STANDARD_INTERVENTIONS)  # one row per torque
    # the numbers are those of the intervention itself
    torque = load_torque("constant:5", HORIZON, config.data.pendulum.dt)
    result = intervene(model, splits["test"], config.data.pendulum, torque, CONTEXT, slice(0, SEQUENCES))
    summary = result.summary()
    vpt = f"{summary['valid_prediction_time']:.3f} ± {summary['valid_prediction_time_stderr']:.3f}"
    assert rows[0][:2] == ["constant:5", vpt]
    assert rows[0][2:] == [f"{summary['mse_per_step'][t - 1]:.4f}" for t in (1, 30, 60, 90)]
    assert "would not be fooled" in causal and "negative control" in causal

    strips, curves = _pngs(causal)[:-1], _pngs(causal)[-1]
    assert len(strips) == len(STANDARD_INTERVENTIONS)
    pitch = 16 + 2  # a 16×16 frame and the grid's padding
    for strip in strips:  # simulator and model rows for 3 sequences, one frame in 3 of the 90
        assert strip.size == ((HORIZON // STRIP_EVERY) * pitch + 2, 2 * SEQUENCES * pitch + 2)
    assert curves.size == (800, 380)


def test_two_hypotheses_are_compared_by_evidence_and_interventions(driven: Path, undriven: Path,
                                                                   tmp_path: Path) -> None:
    path = write_sequence_report([driven, undriven], load_sequence_run, out=tmp_path,
                                 sequences=SEQUENCES, k=2,
                                 torques=("constant:5",), progress=False)
    assert path == tmp_path / "report.html"
    page = path.read_text()
    assert re.findall(r'<section id="([^"]+)"', page) == [
        "comparison-evidence", "comparison-interventions", "run1-run", "run1-causal", "run2-run",
        "run2-causal"]
    evidence = _section(page, "comparison-evidence")
    assert "identical test sequences" in evidence
    tables = re.findall(r"<table>.*?</table>", evidence, flags=re.S)
    rows = _rows(tables[0])
    labels = ["driven (pendulum, input recorded)", "undriven (pendulum, input none)"]
    assert sorted(r[0] for r in rows) == labels
    assert [r[4] for r in rows][0] == "best" and rows[1][4].startswith("-")  # the other trails the best
    assert f"on the same {SEQUENCES} test sequences" in tables[0] and "IWAE_2/frame" in tables[0]
    constants = {r[0]: r[1:] for r in _rows(tables[1])}
    assert constants["undriven (pendulum, input none)"][2] == "— (no input)"
    assert constants["simulator"] == ["9.810", "0.100", "1.000"]

    summary = _rows(_section(page, "comparison-interventions"))
    assert [r[0] for r in summary] == labels
    assert all(len(r) == 2 and re.fullmatch(r"\d\.\d{3} ± \d\.\d{3}", r[1]) for r in summary)
    assert "no input: its rollout ignores the torque" in _section(page, "run2-causal")
    # what the checks can and cannot conclude is said once, beside the comparison
    assert page.count("would not be fooled") == 1
    assert "would not be fooled" in _section(page, "comparison-interventions")


def test_runs_on_different_data_are_refused(driven: Path, tmp_path: Path) -> None:
    other = tmp_path / "damped"
    shutil.copytree(driven, other)
    config = json.loads((other / "config.json").read_text())
    config["data"]["pendulum"]["damping"] = 0.2
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"damped was trained on different data than .*driven "
                                         r"\(damping 0.1 vs 0.2\)"):
        write_sequence_report([driven, other], load_sequence_run, out=tmp_path, sequences=SEQUENCES, k=2,
                              progress=False)
    assert not (tmp_path / "report.html").exists()


def test_cli_writes_the_report_of_a_sequence_run(driven: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "pendulum.html"
    assert main(["report", str(driven), "--sequences", "2", "--torque", "none", "--torque", "constant:3",
                 "--out", str(out), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    causal = _section(out.read_text(), "run1-causal")
    assert [r[0] for r in _rows(causal)] == ["none", "constant:3"]
    assert "do(u): for each of the first 2 test sequences" in causal


@pytest.mark.parametrize(("argv", "message"), [
    (["--torque", "wobble:3"], "--torque: torque 'wobble:3'"),
    (["--torque", "{tmp}/u.csv"], "--torque: torque file"),
    (["--sequences", "-1"], "--sequences must be >= 0"),
    (["-k", "0"], "-k must be >= 1"),
    (["{tmp}"], "is not a vaelab run folder"),
])
def test_cli_mistakes_end_in_one_line(argv: list[str], message: str, driven: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(driven), *[a.format(tmp=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaelab: error: ") and message in err and err.count("\n") == 1


def test_image_and_sequence_runs_do_not_mix(driven: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    image_run = tmp_path / "vae"
    image_run.mkdir()
    (image_run / "config.json").write_text(json.dumps({"model": {}, "data": {}, "train": {}}))
    assert main(["report", str(driven), str(image_run)]) == 2
    err = capsys.readouterr().err
    assert f"{image_run} is a run of kind 'vae', {driven} of kind 'ssm': `vaelab report` them" in err
    assert err.count("\n") == 1


def test_report_help_states_the_real_horizon_and_torques() -> None:
    report = next(a for a in build_parser()._actions if a.dest == "command").choices["report"]
    torque = next(a for a in report._actions if a.dest == "torque").help
    assert f"for {HORIZON} steps after {CONTEXT} context frames" in torque
    assert f"default: {' and '.join(STANDARD_INTERVENTIONS)}" in torque
