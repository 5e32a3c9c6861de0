"""What a new user meets first: the CLI starts without loading torch, every flag explains itself
with its real default, and a mistyped value is one line."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

import pytest

from vaelab.cli.main import build_parser, interrupted_message, main

HEAVY = ("torch", "numpy", "matplotlib", "sklearn", "safetensors")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_help_and_argument_errors_import_no_heavy_library() -> None:
    script = textwrap.dedent(f"""
        import sys
        from vaelab.cli.main import main
        for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"], ["simulate", "--help"],
                     ["train", "--epochs", "abc"], ["evaluate", "run", "--ks", "1,abc"]):
            try:
                main(argv)
            except SystemExit:
                pass
        loaded = [name for name in {HEAVY!r} if name in sys.modules]
        print("LOADED", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "LOADED []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]


def test_every_flag_has_a_description_and_no_default_reads_none() -> None:
    for name, sub in _subcommands().items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                flag = f"vaelab {name} {action.option_strings[0]}"
                assert action.help, f"{flag} has no description"
                shown = formatter._get_help_string(action) or ""
                assert shown.count("(default") <= 1, f"{flag} states its default twice: {shown}"
        text = sub.format_help()
        assert "default: None" not in text, name


def test_train_help_states_each_kinds_real_default(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("passes over the training data; with a time budget and no --epochs (flag or config file) "
            "training runs until the budget is used up (default: 10 (vae, deep); ssm: 30; m2, m1m2, adgm, "
            "sdgm: 100)") in text
    assert "not the final evaluation, which comes after it" in text  # --time-budget says what it covers
    assert ("size of the latent vector z (default: 32 (vae); deep: 24; ssm: 3; m2, m1m2, adgm, "
            "sdgm: 50)") in text
    assert "adgm, sdgm: size of the auxiliary variable a (default: 50)" in text  # theirs alone
    assert "(default: 0 (vae, deep, ssm, m2, m1m2); adgm, sdgm: 0.999)" in text  # --ema
    assert "(default: bound (m2, m1m2); adgm, sdgm: error)" in text  # --select-by
    # the deep preset's guards for 8-bit likelihoods, beside its binary ones (vaelab.kinds.vae)
    assert ("(default: 0 (vae, m2, m1m2, adgm, sdgm); deep: 200; deep with an 8-bit likelihood: 3500; "
            "ssm: 50)") in text
    assert "(default: 0.001 (vae, deep with an 8-bit likelihood, adgm, sdgm); deep, ssm: 0.002;" in text
    assert "train on random windows of this many frames (0 = whole) (default: 25)" in text
    assert "evaluation uses the means) (default: sample)" in text  # an m1m2-only flag: its default alone
    assert "smooth for physics rules, filter for generic, frame for none (default: auto)" in text


@pytest.mark.parametrize("argv", [["train", "--epochs", "abc"], ["train", "--hidden", "512,abc"],
                                  ["evaluate", "run", "--ks", "1,abc"], ["sample"], ["nonsense"]])
def test_a_bad_value_is_one_line_with_a_hint(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vaelab: error: ") and "--help" in err


def test_interrupting_says_what_happens_to_the_work() -> None:
    assert "--resume" in interrupted_message("train")
    assert "--resume" not in interrupted_message("evaluate")


def test_out_is_the_run_folder_flag_and_run_dir_stays_an_alias() -> None:
    train = _subcommands()["train"]
    assert train.parse_args(["--out", "a"]).run_dir == train.parse_args(["--run-dir", "a"]).run_dir


def test_explore_without_flask_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)  # as if Flask were not installed
    assert main(["explore", str(tmp_path)]) == 2
    assert "pip install 'vaelab[explore]'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["evaluate", "run", "--k", "5"], ["train", "--epoch", "3"],
                                  ["sample", "run", "--col", "4"], ["train", "--time", "1"]])
def test_a_flag_must_be_typed_whole(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    """argparse's prefix matching would read --k 5 as --ks 5 (a k = 1,000 evaluation nobody asked for)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    flag = next(word for word in argv if word.startswith("--"))
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {flag}" in err and f"vaelab {argv[0]} --help" in err
    if argv[2:3] == ["--k"]:
        assert "did you mean --ks or -k?" in err
