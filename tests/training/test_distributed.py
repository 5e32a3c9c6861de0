"""Training on torch.distributed (gloo on CPU): the same update as one process, and a job
that survives a killed worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from vaelab.objectives import ObjectiveValue
from vaelab.runs.distributed import Distributed, teardown
from vaelab.training import CHECKPOINT, ExperimentConfig, fit, read_metrics
from vaelab.training.engine import Loop, LoopSettings, TrainingTask, _fresh_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary_data(path: Path) -> Path:
    """0/1 images (no binarization randomness), 256 to train on and 32 to test."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=(rng.random((256, 6, 6)) < 0.3).astype(np.uint8),
             x_test=(rng.random((32, 6, 6)) < 0.3).astype(np.uint8))
    return path


def config(data: Path, batch_size: int) -> ExperimentConfig:
    return ExperimentConfig().with_overrides({
        "model": {"latent_dim": 3, "hidden": (16,)},
        "data": {"dataset": str(data), "validation_size": 0},
        "train": {"epochs": 2, "batch_size": batch_size, "learning_rate": 1e-2},
    })


def noiseless_elbo(name: str, samples: int, free_bits: float = 0.0, kl_balance: bool = False):
    """The ELBO at z = E_q[z | x]: no sampling noise, so ranks and a single process can be
    compared number for number (the objective's randomness is per process by design)."""
    def objective(model, x, kl_weight):
        q = model.posterior(x)
        reconstruction = model.likelihood(q.mean).log_prob(x)
        kl = torch.distributions.kl_divergence(q, model.prior())
        bound = reconstruction - kl
        return ObjectiveValue(-bound.mean(), bound.detach(), {"kl": kl.detach().mean()})
    return objective


def _rank_main(rank: int, world: int, port: int, data: str, run_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from vaelab.training import loop

    loop.make_objective = noiseless_elbo
    _, state = fit(config(Path(data), batch_size=16), Path(run_dir), progress=False, log=lambda _: None)
    (Path(run_dir).parent / f"seconds-rank{rank}.txt").write_text(repr(state.seconds))
    (Path(run_dir).parent / f"noise-rank{rank}.txt").write_text(repr(torch.rand(1).item()))
    teardown()  # all ranks together: a rank leaving first can abort the other in gloo


@pytest.mark.slow
def test_two_ranks_of_batch_b_match_one_process_of_batch_2b(tmp_path: Path, monkeypatch) -> None:
    data = binary_data(tmp_path / "data.npz")
    mp.spawn(_rank_main, args=(2, free_port(), str(data), str(tmp_path / "ddp")), nprocs=2)
    from vaelab.training import loop

    monkeypatch.setattr(loop, "make_objective", noiseless_elbo)
    fit(config(data, batch_size=32), tmp_path / "single", progress=False, log=lambda _: None)
    ddp, single = (load_file(str(tmp_path / name / CHECKPOINT)) for name in ("ddp", "single"))
    # one clock for all ranks (the slowest's), so a time-paced learning rate is the same on each
    seconds = [float((tmp_path / f"seconds-rank{r}.txt").read_text()) for r in (0, 1)]
    assert seconds[0] == seconds[1] > 0
    # ranks draw different noise (the same seed everywhere would give every rank the same ε)
    noise = [(tmp_path / f"noise-rank{r}.txt").read_text() for r in (0, 1)]
    assert noise[0] != noise[1]
    weights = [k for k in single if k.startswith("model.")]
    assert weights
    for key in weights:
        torch.testing.assert_close(ddp[key], single[key], atol=2e-5, rtol=1e-4)
    # metrics are reduced over ranks: the logged bound is the mean over all examples
    ddp_records, single_records = read_metrics(tmp_path / "ddp"), read_metrics(tmp_path / "single")
    assert ddp_records[-1]["step"] == single_records[-1]["step"] == 16
    assert ddp_records[-1]["train_bound"] == pytest.approx(single_records[-1]["train_bound"],
                                                           abs=1e-3)


#: models whose parameters go beyond an encoder and decoder: a flow guide's MADE networks, a deep
#: VAE's top-down groups (with per-group KL terms, gradient skipping and active units)
DDP_MODELS = {
    "iaf": ({"model": {"posterior": "iaf:2"}, "train": {"epochs": 1}}, ".made."),
    "deep": ({"model": {"architecture": "deep", "groups": 2, "latent_dim": 3, "hidden": (16,)},
              "train": {"epochs": 1, "grad_skip": 1e4}}, "groups."),
}


def _model_rank_main(rank: int, world: int, port: int, data: str, run_dir: str, which: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    settings = config(Path(data), batch_size=16).with_overrides(DDP_MODELS[which][0])
    model, _ = fit(settings, Path(run_dir), progress=False, log=lambda _: None)
    torch.save(model.state_dict(), Path(run_dir).parent / f"{which}-rank{rank}.pt")
    teardown()


@pytest.mark.slow
@pytest.mark.parametrize("which", sorted(DDP_MODELS))
def test_flow_guides_and_deep_models_train_under_ddp_in_step(tmp_path: Path, which: str) -> None:
    """An IAF's MADE networks and a deep VAE's groups are the model's parameters: DDP averages
    their gradients too, so both ranks end with the same weights (the real, noisy ELBO)."""
    data = binary_data(tmp_path / "data.npz")
    mp.spawn(_model_rank_main, args=(2, free_port(), str(data), str(tmp_path / "ddp"), which), nprocs=2)
    ranks = [torch.load(tmp_path / f"{which}-rank{r}.pt") for r in (0, 1)]
    own = [k for k in ranks[0] if DDP_MODELS[which][1] in k]
    assert own and ranks[0].keys() == ranks[1].keys()
    for key in ranks[0]:
        torch.testing.assert_close(ranks[0][key], ranks[1][key], atol=1e-6, rtol=1e-5)
    assert read_metrics(tmp_path / "ddp")[-1]["step"] == 8


CRASHING_JOB = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    from vaelab.cli.main import main
    from vaelab.training import loop

    real = loop.make_objective

    def crash_once(name, samples, free_bits=0.0, kl_balance=False):
        objective, calls = real(name, samples, free_bits, kl_balance), [0]
        def run(model, x, kl_weight):
            calls[0] += 1
            first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
            if first_attempt and os.environ["RANK"] == "1" and calls[0] == 20:
                os._exit(17)  # a worker dies in the middle of epoch 3
            return objective(model, x, kl_weight)
        return run

    loop.make_objective = crash_once
    sys.exit(main(sys.argv[1:]))
''')


@pytest.mark.slow
def test_a_killed_worker_restarts_from_the_last_checkpoint(tmp_path: Path) -> None:
    data = binary_data(tmp_path / "data.npz")
    script = tmp_path / "job.py"
    script.write_text(CRASHING_JOB)
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "--max-restarts=1", str(script), "train", "--dataset", str(data), "--epochs", "4",
         "--batch-size", "16", "--latent-dim", "2", "--hidden", "8", "--validation-size", "0",
         "--eval-samples", "5", "--no-progress", "--run-dir", str(run_dir)],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restarted by the launcher" in result.stdout
    records = read_metrics(run_dir)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]  # epoch 3 redone once, logged once
    assert (run_dir / "metrics.json").is_file()


def _fit_rank_main(rank: int, world: int, port: int, run_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import vaelab

    vaelab.fit(_tiny_model(), _fit_data(), valid=_valid_data(), objective=noiseless_elbo("elbo", 1),
               epochs=2, batch_size=16, lr=1e-2, run_dir=run_dir, device="cpu", progress=False,
               log=lambda _: None)
    teardown()  # all ranks together: a rank leaving first can abort the other in gloo


def _tiny_model() -> torch.nn.Module:
    from vaelab.models import ModelConfig, build_vae

    torch.manual_seed(0)
    return build_vae(ModelConfig(latent_dim=3, hidden=(16,)), (1, 6, 6))


def _fit_data() -> torch.Tensor:
    return (torch.rand(256, 1, 6, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()


def _valid_data() -> torch.Tensor:
    """Fewer examples than one global batch (2 × 16), and an odd number: rank 0 scores one more."""
    return (torch.rand(21, 1, 6, 6, generator=torch.Generator().manual_seed(1)) < 0.3).float()


@pytest.mark.slow
def test_vaelab_fit_under_torchrun_matches_one_process(tmp_path: Path) -> None:
    import vaelab

    mp.spawn(_fit_rank_main, args=(2, free_port(), str(tmp_path / "ddp")), nprocs=2)
    vaelab.fit(_tiny_model(), _fit_data(), valid=_valid_data(), objective=noiseless_elbo("elbo", 1),
               epochs=2, batch_size=32, lr=1e-2, run_dir=tmp_path / "single", device="cpu",
               progress=False, log=lambda _: None)
    ddp, single = (load_file(str(tmp_path / name / CHECKPOINT)) for name in ("ddp", "single"))
    weights = [k for k in single if k.startswith("model.")]
    for key in weights:
        torch.testing.assert_close(ddp[key], single[key], atol=2e-5, rtol=1e-4)
    assert read_metrics(tmp_path / "ddp")[-1]["step"] == read_metrics(tmp_path / "single")[-1]["step"] == 16
    # the validation bound scores all 21 examples once across the ranks, as one process does
    for ddp_record, single_record in zip(read_metrics(tmp_path / "ddp"), read_metrics(tmp_path / "single"),
                                         strict=True):
        assert ddp_record["valid_bound"] == pytest.approx(single_record["valid_bound"], rel=1e-4)


@dataclass(frozen=True)
class RecordingContext(Distributed):
    """A rank without a process group: each barrier records whether the run has a checkpoint."""

    run_dir: Path = Path()
    seen: list[bool] = field(default_factory=list)

    def barrier(self) -> None:
        self.seen.append((self.run_dir / CHECKPOINT).exists())


def test_rank_0_writes_a_fresh_run_folder_only_after_every_rank_has_looked_at_it(tmp_path: Path) -> None:
    # The other rank refuses a folder that already holds a checkpoint: if rank 0 wrote before
    # the first barrier, a slow rank 1 would find rank 0's checkpoint and stop the job.
    context = RecordingContext(rank=0, world_size=2, device=torch.device("cpu"), run_dir=tmp_path / "run")
    model = torch.nn.Linear(2, 2)
    task = TrainingTask(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                        objective=None, batches=None, learning_rate=lambda epoch, seconds: 0.1,
                        save_config=lambda path: path.write_text("{}"))
    _fresh_run(Loop(task, LoopSettings(epochs=1), tmp_path / "run", context, say=lambda _: None,
                    callbacks=[]))
    assert context.seen == [False]
    assert (tmp_path / "run" / CHECKPOINT).exists()
