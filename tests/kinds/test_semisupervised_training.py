"""Semi-supervised training on the embedded MNIST subset: tiny M2 runs learn to classify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vaelab.data import ImageSet
from vaelab.data.labelled import UNLABELLED
from vaelab.data.representation import to_model_space
from vaelab.data.splits import SPLIT_SEED
from vaelab.evaluation.classification import class_probabilities
from vaelab.evaluation.run import held_out_tensor
from vaelab.kinds.semisupervised_experiment import (
    SemiSupervisedExperiment,
    default_experiment,
    load_experiment,
)
from vaelab.kinds.semisupervised_training import (
    fit_semisupervised,
    held_out_error,
    labelled_subset,
    load_semisupervised_run,
    load_semisupervised_splits,
)
from vaelab.runs.checkpoint import load_checkpoint
from vaelab.runs.files import LABELLED_JSON
from vaelab.runs.metrics_log import read_metrics
from vaelab.training.config import ConfigError
from vaelab.training.experiment import load_trained_model

CHANCE = 0.9


def tiny(labels: int | str, epochs: int = 8, **semi: object) -> SemiSupervisedExperiment:
    """M2 with small networks on 2,000 training digits: 40 steps of 50 per epoch."""
    return default_experiment("m2").with_overrides({
        "model": {"latent_dim": 16, "hidden": (128,)},
        "data": {"dataset": "mnist-5k", "train_limit": 2000, "validation_size": 100},
        "train": {"epochs": epochs, "learning_rate": 1e-3, "batch_size": 50},
        "semisupervised": {"labels": labels, "classifier_hidden": (128,),
                           "labelled_batch_size": 50, **semi},
    })


def test_error(run: Path) -> float:
    model, _, splits = load_semisupervised_run(run)
    x = held_out_tensor(model, splits, 0, torch.device("cpu"))
    assert splits.test.labels is not None
    return float((class_probabilities(model, x).argmax(-1) != splits.test.labels).float().mean())


test_error.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def m2_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """320 steps of M2 with 100 labels (10 per class), its best weights picked by the
    validation error."""
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("m2") / "run"
    fit_semisupervised(tiny(100, select_by="error"), run, progress=False, log=lambda message: None)
    return run


@pytest.mark.slow
def test_tiny_m2_drops_error_well_below_chance(m2_run: Path) -> None:
    assert test_error(m2_run) < 0.5 < CHANCE


def test_every_epoch_records_the_validation_error_and_it_falls(m2_run: Path) -> None:
    errors = [record["valid_error"] for record in read_metrics(m2_run)]
    assert len(errors) == 8 and all(0.0 <= error <= 1.0 for error in errors)
    assert min(errors) < 0.5 and errors[0] > min(errors)


def test_the_best_weights_are_those_of_the_first_epoch_with_the_lowest_validation_error(
        m2_run: Path) -> None:
    errors = [record["valid_error"] for record in read_metrics(m2_run)]
    model, _, splits = load_semisupervised_run(m2_run)  # model_best.safetensors
    assert splits.valid is not None
    assert held_out_error(model, splits.valid, SPLIT_SEED) == pytest.approx(min(errors))
    assert load_checkpoint(m2_run, model).best_epoch == errors.index(min(errors)) + 1


def test_picking_by_the_error_without_labelled_validation_images_is_refused_before_training(
        tmp_path: Path) -> None:
    config = tiny(100, select_by="error").with_overrides({"data": {"validation_size": 0}})
    with pytest.raises(ConfigError, match="needs labelled validation images"):
        fit_semisupervised(config, tmp_path / "run", progress=False, log=lambda message: None)
    assert not (tmp_path / "run").exists()
    calibrated = tiny(100, calibrate=True).with_overrides({"data": {"validation_size": 0}})
    with pytest.raises(ConfigError, match="fits a temperature on labelled validation images"):
        fit_semisupervised(calibrated, tmp_path / "run", progress=False, log=lambda message: None)
    assert not (tmp_path / "run").exists()


def test_the_validation_error_is_the_share_of_wrong_most_probable_classes(m2_run: Path) -> None:
    model, _, splits = load_semisupervised_run(m2_run)
    valid = splits.valid
    assert valid is not None and valid.labels is not None

    def share_wrong(rows: slice) -> float:  # the labelled rows binarized in order from the seed
        x = to_model_space(valid.images[rows], valid.binary, model.data_kind,
                           torch.Generator().manual_seed(SPLIT_SEED))
        return (class_probabilities(model, x).argmax(-1) != valid.labels[rows]).double().mean().item()

    assert held_out_error(model, valid, SPLIT_SEED) == pytest.approx(share_wrong(slice(None)))
    # unlabelled images are not scored; with none labelled there is no error to report
    labels = valid.labels.clone()
    labels[::2] = UNLABELLED
    half = ImageSet(valid.images, labels, valid.binary, valid.name)
    assert held_out_error(model, half, SPLIT_SEED) == pytest.approx(share_wrong(slice(1, None, 2)))
    none = ImageSet(valid.images, torch.full_like(labels, UNLABELLED), valid.binary, valid.name)
    assert held_out_error(model, none, SPLIT_SEED) is None


def test_labelled_subset_is_saved_balanced_and_read_back(m2_run: Path) -> None:
    saved = json.loads((m2_run / LABELLED_JSON).read_text())
    assert saved["per_class"] == [10] * 10 and len(saved["indices"]) == 100
    config = load_experiment(m2_run / "config.json")
    assert isinstance(config, SemiSupervisedExperiment) and config.semisupervised.classes == 10
    _, _, splits = load_semisupervised_run(m2_run)
    index = labelled_subset(config, splits.train, m2_run)
    assert index.tolist() == saved["indices"]
    assert splits.train.labels is not None
    assert splits.train.labels[index].tolist() == saved["targets"]


def test_resume_continues_with_the_same_labels(m2_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(m2_run, copy)
    before = (copy / LABELLED_JSON).read_text()
    config = load_experiment(copy / "config.json")
    assert isinstance(config, SemiSupervisedExperiment)
    longer = config.with_overrides({"train": {"epochs": 9}})
    fit_semisupervised(longer, copy, resume=True, progress=False, log=lambda message: None)
    assert (copy / LABELLED_JSON).read_text() == before
    assert len((copy / "metrics.jsonl").read_text().splitlines()) == 9


@pytest.mark.slow
def test_with_all_labels_the_classifier_beats_logistic_regression(tmp_path: Path) -> None:
    """Supervised M2 (its classifier trained on every label) against multinomial logistic
    regression on the same 2,000 grey-level training digits, both scored on 1,000 test digits."""
    run = tmp_path / "all"
    fit_semisupervised(tiny("all", epochs=6), run, progress=False, log=lambda message: None)
    m2_error = test_error(run)
    _, _, splits = load_semisupervised_run(run)
    assert splits.train.labels is not None and splits.test.labels is not None
    x_train = splits.train.images.flatten(1).float() / 255
    x_test = splits.test.images.flatten(1).float() / 255
    weights = torch.zeros(784, 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    optimiser = torch.optim.Adam([weights, bias], lr=0.01)
    for _ in range(300):
        loss = F.cross_entropy(x_train @ weights + bias, splits.train.labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        logistic_error = float(((x_test @ weights + bias).argmax(-1) != splits.test.labels).float().mean())
    assert m2_error < logistic_error, (m2_error, logistic_error)


def test_m1m2_trains_m1_first_and_m2_on_its_features(tmp_path: Path) -> None:
    config = default_experiment("m1m2").with_overrides({
        "model": {"latent_dim": 8, "hidden": (64,)},
        "data": {"dataset": "mnist-5k", "train_limit": 500, "validation_size": 100},
        "train": {"epochs": 1, "batch_size": 50},
        "semisupervised": {"labels": 20, "m1_epochs": 1, "m2_latent_dim": 4, "m2_hidden": (16,),
                           "classifier_hidden": (16,)},
    })
    run = tmp_path / "stack"
    saved = fit_semisupervised(config, run, progress=False, log=lambda message: None)
    assert saved.semisupervised.m1_run == str((run / "m1").resolve())
    model, loaded, _ = load_semisupervised_run(run)
    m1, _, _ = load_trained_model(run / "m1")  # M1 is a VAE run
    for name, value in m1.state_dict().items():  # M1 stayed frozen while M2 trained
        torch.testing.assert_close(model.m1.state_dict()[name], value)
    assert isinstance(loaded, SemiSupervisedExperiment) and loaded.semisupervised.kind == "m1m2"


@pytest.mark.parametrize(("section", "message"), [
    ({"labels": 0}, "labels: must be a positive integer or 'all'"),
    ({"labels": "some"}, "labels: must be a positive integer or 'all'"),
    ({"kind": "m3"}, "kind: 'm3' is not one of"),
    ({"classes": 1}, "classes: must be >= 2"),
    ({"colour": 1}, "unknown key"),
])
def test_bad_settings_name_the_field(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        default_experiment("m2").with_overrides({"semisupervised": section})


def test_labels_beyond_the_data_and_classes_below_the_labels_are_refused(tmp_path: Path) -> None:
    from vaelab.data import DataError

    with pytest.raises(DataError, match="hold only 2000 labelled examples"):
        fit_semisupervised(tiny(5000), tmp_path / "a", progress=False, log=lambda message: None)
    with pytest.raises(DataError, match="fewer than one per class"):
        fit_semisupervised(tiny(7), tmp_path / "b", progress=False, log=lambda message: None)
    with pytest.raises(DataError, match=r"outside the class range \[0, 5\) .*: 5, 6, 7, 8, 9$"):
        fit_semisupervised(tiny(100, classes=5), tmp_path / "c", progress=False,
                           log=lambda message: None)


def test_semi_supervised_runs_refuse_streamed_data(tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "images.npy", np.zeros((30, 8, 8, 3), dtype=np.uint8))
    semi = default_experiment("m2").with_overrides(
        {"data": {"dataset": str(tmp_path / "images.npy"), "stream": True}})
    with pytest.raises(ConfigError, match="data.stream"):
        load_semisupervised_splits(semi, "unit")


def test_new_m1m2_runs_train_on_posterior_draws_and_old_configs_keep_the_means() -> None:
    assert default_experiment("m1m2").semisupervised.m1_features == "sample"
    assert default_experiment("m2").semisupervised.m1_features == "mean"
    saved = default_experiment("m1m2").to_dict()
    del saved["semisupervised"]["m1_features"]  # a run folder written before the field existed
    assert SemiSupervisedExperiment.from_dict(saved).semisupervised.m1_features == "mean"
    with pytest.raises(ConfigError, match="m1_features: 'median' is not one of mean, sample"):
        default_experiment("m1m2").with_overrides({"semisupervised": {"m1_features": "median"}})


def test_the_best_weights_are_picked_by_the_bound_unless_asked_and_old_configs_keep_it() -> None:
    assert default_experiment("m2").semisupervised.select_by == "bound"
    asked = default_experiment("m1m2").with_overrides({"semisupervised": {"select_by": "error"}})
    assert asked.semisupervised.select_by == "error"
    saved = asked.to_dict()
    del saved["semisupervised"]["select_by"]  # a run folder written before the field existed
    assert SemiSupervisedExperiment.from_dict(saved).semisupervised.select_by == "bound"
    with pytest.raises(ConfigError, match="select_by: 'accuracy' is not one of error, bound"):
        default_experiment("m2").with_overrides({"semisupervised": {"select_by": "accuracy"}})


def test_a_launcher_restart_of_a_fresh_command_continues_the_run(m2_run: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # torchrun --max-restarts re-runs the original (fresh) command after a failure: the run
    # folder exists, and refusing it would use up every restart on FileExistsError
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(m2_run, copy)
    # as if the command had asked for 9 epochs and a worker died after the 8th
    saved = load_experiment(copy / "config.json")
    saved.with_overrides({"train": {"epochs": 9}}).save(copy / "config.json")
    with pytest.raises(FileExistsError):
        fit_semisupervised(tiny(100, epochs=9), copy, progress=False, log=lambda message: None)
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    fit_semisupervised(tiny(100, epochs=9), copy, progress=False, log=lambda message: None)
    assert len((copy / "metrics.jsonl").read_text().splitlines()) == 9


def _adgm_rank_main(rank: int, world: int, port: int, run_dir: str) -> None:
    import os

    from vaelab.runs.distributed import teardown

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    config = default_experiment("adgm").with_overrides({
        "model": {"latent_dim": 4, "hidden": (32,)},
        "data": {"dataset": "mnist-5k", "train_limit": 200, "validation_size": 100},
        "train": {"epochs": 1, "batch_size": 25, "device": "cpu"},
        "semisupervised": {"labels": 20, "classifier_hidden": (32,), "auxiliary_dim": 3,
                           "labelled_batch_size": 10, "validation_labels": 31}})
    fit_semisupervised(config, Path(run_dir), progress=False, log=lambda message: None)
    teardown()  # all ranks together: a rank leaving first can abort the other in gloo


def test_an_adgm_run_trains_on_two_ranks_and_counts_every_validation_label_once(tmp_path: Path) -> None:
    """Two gloo ranks: the checkpoint is written, and the per-epoch confusion matrix, summed over
    the ranks (each scores every second validation image), counts the 31 validation labels."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_adgm_rank_main, args=(2, port, str(tmp_path / "ddp")), nprocs=2)
    (record,) = read_metrics(tmp_path / "ddp")
    assert sum(map(sum, record["valid_confusion"])) == 31
    assert record["valid_error"] is not None and (tmp_path / "ddp" / "checkpoint.safetensors").is_file()


def test_a_class_predicted_for_under_half_its_labelled_share_is_called_collapsed() -> None:
    from vaelab.kinds.semisupervised_training import ClassificationError, collapsed_classes

    confusion = torch.tensor([[40., 0., 0.], [0., 35., 5.], [16., 5., 19.]])  # predicted 56, 40, 24
    share = torch.tensor([1 / 3, 1 / 3, 1 / 3])
    assert collapsed_classes(confusion, share) == []  # 24 / 120 = 20 % ≥ half of 33 %
    confusion[2] = torch.tensor([20., 15., 5.])  # class 2 now predicted 10 times in 120
    assert collapsed_classes(confusion, share) == [2]
    assert collapsed_classes(confusion, torch.tensor([0.45, 0.45, 0.1])) == []  # few labels of 2
    line = ClassificationError.describe(None, {"valid_error": 0.25, "valid_ece": 0.1,  # type: ignore[arg-type]
                                               "collapsed_classes": [2]})
    assert line == ("  valid error 25.00 %  ECE 0.100  WARNING: class 2 collapsed (predicted for "
                    "under half its share of the labels)")
