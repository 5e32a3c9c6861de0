"""Whether an ADGM / SDGM uses its auxiliary variable: the measures against hand computations,
and on tiny models built to ignore a or to lean on it."""

from __future__ import annotations

import math

import pytest
import torch

from vaelab.distributions.families import BernoulliFamily
from vaelab.evaluation.auxiliary_use import auxiliary_use, classifier_information, idle_text, spread
from vaelab.kinds.semisupervised import auxiliary_text
from vaelab.models.m2 import M2, M2Shape, build_m2


def test_classifier_information_is_the_mutual_information_of_y_and_a() -> None:
    opposite = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])          # [S = 2, N = 1, C = 2]
    same = torch.tensor([[[0.3, 0.7]], [[0.3, 0.7]]])
    mixed = torch.tensor([[[0.9, 0.1]], [[0.5, 0.5]]])

    def h(p: list[float]) -> float:
        return -sum(q * math.log(q) for q in p if q > 0)

    assert classifier_information(opposite).item() == pytest.approx(math.log(2))
    assert classifier_information(same).item() == pytest.approx(0.0, abs=1e-7)
    assert classifier_information(mixed).item() == pytest.approx(
        h([0.7, 0.3]) - (h([0.9, 0.1]) + h([0.5, 0.5])) / 2)


def test_spread_is_the_across_image_std_of_the_mean_in_units_of_the_scale() -> None:
    means = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    scales = torch.tensor([[1.0, 0.5], [1.0, 1.5]])
    assert spread(means, scales) == pytest.approx((math.sqrt(2) / 1.0 + 0.0 / 1.0) / 2)
    with pytest.raises(ValueError, match="at least 2 images"):
        spread(means[:1], scales[:1])


def tiny(auxiliary: str | None = "adgm") -> M2:
    torch.manual_seed(0)
    return build_m2(M2Shape(3, latent_dim=2, hidden=(8,), classifier_hidden=(8,),
                            auxiliary=auxiliary, auxiliary_dim=2), (6,), BernoulliFamily()).eval()


def images() -> torch.Tensor:
    return torch.bernoulli(torch.full((40, 6), 0.5), generator=torch.Generator().manual_seed(1))


def test_a_model_built_to_ignore_a_is_called_unused_and_one_leaning_on_it_is_not() -> None:
    model = tiny()
    first = model.classifier_net.network.network.layers[0]        # reads [x (6), a (2)]
    guide_out = model.auxiliary.guide.network.layers[-1]
    with torch.no_grad():
        first.weight[:, 6:] = 0.0                                  # q(y | a, x) ignores a
        guide_out.weight.zero_()                                   # q(a | x) the same for every x
    ignored = auxiliary_use(model, images())
    assert ignored is not None
    assert ignored["classifier_information"] == pytest.approx(0.0, abs=1e-6)
    assert ignored["spread"] == pytest.approx(0.0, abs=1e-6)
    assert ignored["unused"] is True
    assert "goes unused" in auxiliary_text({"auxiliary_use": ignored})

    with torch.no_grad():
        first.weight[:, 6:] = 20.0 * torch.randn(8, 2, generator=torch.Generator().manual_seed(2))
    leaning = auxiliary_use(model, images())
    assert leaning is not None and leaning["classifier_information"] > 0.05
    assert leaning["unused"] is False
    assert auxiliary_text({"auxiliary_use": leaning}) == ""
    # the same draws every call: an evaluation's figures repeat
    assert auxiliary_use(model, images()) == leaning


def test_a_model_without_a_has_nothing_to_measure_and_bad_draws_are_refused() -> None:
    assert auxiliary_use(tiny(None), images()) is None
    assert auxiliary_text({}) == ""
    with pytest.raises(ValueError, match="draws must be >= 2"):
        auxiliary_use(tiny(), images(), draws=1)


def test_idle_units_counts_the_hidden_units_constant_over_the_images() -> None:
    model = tiny()
    hidden = model.auxiliary.guide.network.layers[0]               # q(a | x)'s one hidden layer
    assert hidden.out_features == 8
    with torch.no_grad():
        hidden.weight[:3] = 0.0                                    # 3 units: the bias only,
        hidden.bias[:3] = torch.tensor([-1.0, 0.0, 2.0])           # dead, at zero, or constant
        hidden.weight[3:] = torch.randn(5, 6, generator=torch.Generator().manual_seed(3))
        hidden.bias[3:] = 5.0                                      # the other 5 always fire
    use = auxiliary_use(model, images())
    assert use is not None and use["idle_units"] == pytest.approx(3 / 8)
    model.auxiliary.guide.network.layers[0].bias.data[3:] = -100.0  # every unit dead
    dead = auxiliary_use(model, images())
    assert dead is not None and dead["idle_units"] == 1.0
    assert dead["spread"] == pytest.approx(0.0, abs=1e-6)         # so q(a | x) is a constant
    assert "100.0% of q(a | x)'s hidden units never change" in idle_text(dead)
    assert idle_text({"classifier_information": 0.0}) == ""        # older results: nothing
