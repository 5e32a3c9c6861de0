"""vaelab: deep latent-variable models and amortized variational inference on PyTorch.

A model is p(x, z | θ) = p(x | z; θ) p(z): a simple prior and a network that maps parents to
the parameters of a distribution family, η = f_DNN(Pa(x)), p(x | Pa(x)) = Family(η).

Three ways in: the command line (`vaelab train ...`, configs); `vaelab.fit(model, data)` with a
model built from your own networks (`VAE.from_networks`) or your own `LatentVariableModel`; and
models declared as a graph of conditionals (`vaelab.models.graph`). Public names load on first
use, so `import vaelab` (and `vaelab --help`) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaelab._lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> module that defines it
_PUBLIC: dict[str, str] = {
    # training and evaluation of any model
    "fit": "vaelab.training.fit_model",
    "Run": "vaelab.training.fit_model",
    "load_weights": "vaelab.training.fit_model",
    "Callback": "vaelab.training.callbacks",
    "evaluate": "vaelab.evaluation.evaluate_model",
    "gaps": "vaelab.evaluation.evaluate_model",
    "bdmc": "vaelab.evaluation.bdmc",
    "load": "vaelab.kinds",
    "report": "vaelab.reports.own_model",
    "TensorBoardLogger": "vaelab.reports.tensorboard",
    # model kinds as plug-ins
    "ModelKind": "vaelab.kinds",
    "register_kind": "vaelab.kinds",
    # models
    "LatentVariableModel": "vaelab.models.base",
    "SingleLatentModel": "vaelab.models.base",
    "ConditionalDistribution": "vaelab.models.conditional",
    "VAE": "vaelab.models.vae",
    "GraphModel": "vaelab.models.graph",
    "Latent": "vaelab.models.graph_nodes",
    "Observed": "vaelab.models.graph_nodes",
    "HierarchicalVAE": "vaelab.models.hierarchical",
    "LadderVAE": "vaelab.models.ladder",
    "DeepVAE": "vaelab.models.deep",
    "TopDownGroup": "vaelab.models.deep",
    "LinearGaussianModel": "vaelab.models.linear_gaussian",
    "StateSpaceModel": "vaelab.models.ssm",
    "ModelConfig": "vaelab.models.config",
    "build_model": "vaelab.models.config",
    # objectives and estimators
    "ObjectiveValue": "vaelab.objectives.result",
    "Estimate": "vaelab.objectives.result",
    "elbo": "vaelab.objectives.elbo",
    "iwae_bound": "vaelab.objectives.iwae",
    "importance_sampled_log_marginal": "vaelab.objectives.marginal",
    "prior_monte_carlo_log_marginal": "vaelab.objectives.marginal",
    "annealed_importance_sampling": "vaelab.objectives.ais",
    "smc_log_marginal": "vaelab.objectives.smc",
    # data
    "ImageSet": "vaelab.data.imageset",
    "SequenceSet": "vaelab.data.pendulum",
    "PendulumConfig": "vaelab.data.pendulum",
    "load_dataset": "vaelab.data.load",
    "open_dataset": "vaelab.data.load",
    "StreamedImages": "vaelab.data.streamed",
    "load_pendulum": "vaelab.data.pendulum",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from vaelab.data.imageset import ImageSet
    from vaelab.data.load import load_dataset, open_dataset
    from vaelab.data.pendulum import PendulumConfig, SequenceSet, load_pendulum
    from vaelab.data.streamed import StreamedImages
    from vaelab.evaluation.bdmc import bdmc
    from vaelab.evaluation.evaluate_model import evaluate, gaps
    from vaelab.kinds import ModelKind, load, register_kind
    from vaelab.models.base import LatentVariableModel, SingleLatentModel
    from vaelab.models.conditional import ConditionalDistribution
    from vaelab.models.config import ModelConfig, build_model
    from vaelab.models.deep import DeepVAE, TopDownGroup
    from vaelab.models.graph import GraphModel
    from vaelab.models.graph_nodes import Latent, Observed
    from vaelab.models.hierarchical import HierarchicalVAE
    from vaelab.models.ladder import LadderVAE
    from vaelab.models.linear_gaussian import LinearGaussianModel
    from vaelab.models.ssm import StateSpaceModel
    from vaelab.models.vae import VAE
    from vaelab.objectives.ais import annealed_importance_sampling
    from vaelab.objectives.elbo import elbo
    from vaelab.objectives.iwae import iwae_bound
    from vaelab.objectives.marginal import importance_sampled_log_marginal, prior_monte_carlo_log_marginal
    from vaelab.objectives.result import Estimate, ObjectiveValue
    from vaelab.objectives.smc import smc_log_marginal
    from vaelab.reports.own_model import report
    from vaelab.reports.tensorboard import TensorBoardLogger
    from vaelab.training.callbacks import Callback
    from vaelab.training.fit_model import Run, fit, load_weights
