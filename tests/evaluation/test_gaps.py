"""The inference gap split into approximation and amortization gaps (Cremer et al. 2018)."""

from __future__ import annotations

import pytest
import torch

from tests.objectives.test_local_guide import ppca
from vaelab.evaluation.gaps import gap_lines, inference_gaps


def test_the_gaps_add_up_and_each_has_a_standard_error() -> None:
    model, x = ppca()
    gaps = inference_gaps(model, x, k=2000, steps=300, batch_size=16, progress=False)
    approximation, amortization = gaps["approximation_gap"], gaps["amortization_gap"]
    assert gaps["inference_gap"]["mean"] == pytest.approx(approximation["mean"] + amortization["mean"])
    assert amortization["mean"] > 10 * amortization["stderr"] > 0  # the shifted encoder costs nats
    assert 0 < approximation["stderr"] < 0.1 and gaps["examples"] == 40 and gaps["converged"] > 0.9
    assert "amortization gap" in "\n".join(gap_lines(gaps))


def test_a_guide_of_the_exact_family_at_the_posterior_has_no_gap() -> None:
    torch.manual_seed(0)
    from vaelab.models import LinearGaussianModel

    model = LinearGaussianModel(4, 2, noise_scale=0.5)
    with torch.no_grad():  # orthogonal columns: the posterior is diagonal, the guide exact
        model.weight.copy_(torch.tensor([[1.0, 0], [0, 1.0], [0, 0], [0, 0]]))
    model.set_guide_to_posterior()
    x = model.likelihood(model.prior().sample((32,))).sample()
    gaps = inference_gaps(model, x, k=500, steps=100, progress=False)
    for name in ("approximation_gap", "amortization_gap"):
        assert abs(gaps[name]["mean"]) < 3 * gaps[name]["stderr"] + 0.02, name


def test_one_example_is_refused() -> None:
    model, x = ppca()
    with pytest.raises(ValueError, match="at least 2 examples"):
        inference_gaps(model, x[:1])


def test_vaelab_gaps_takes_a_model_and_its_test_data() -> None:
    import vaelab

    model, x = ppca()
    result = vaelab.gaps(model, x, examples=10, k=200, steps=60, progress=False)
    assert result["examples"] == 10 and result["settings"]["steps"] == 60
    assert result["amortization_gap"]["mean"] > 0
    with pytest.raises(ValueError, match="k must be >= 1"):
        vaelab.gaps(model, x, k=0)


def test_a_vae_encoders_own_parameters_are_optimised_per_image() -> None:
    import vaelab
    from vaelab.models import ModelConfig, build_vae

    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=3, hidden=(16,)), (1, 4, 4))
    pixels = (torch.rand(12, 1, 4, 4) * 255).to(torch.uint8)  # grey: binarized from a fixed seed
    result = vaelab.gaps(model, pixels, k=100, steps=100, lr=0.05, progress=False)
    assert result["examples"] == 12
    assert result["elbo_optimized"]["mean"] > result["elbo_amortized"]["mean"]  # an untrained encoder
    assert result["approximation_gap"]["mean"] > -3 * result["approximation_gap"]["stderr"] - 0.05


def test_a_flow_fitted_per_example_splits_the_approximation_gap() -> None:
    from tests.objectives.test_local_flow import correlated_ppca

    model, x = correlated_ppca()
    gaps = inference_gaps(model, x, k=2000, steps=200, lr=0.05, samples=16, eval_samples=2000,
                          flow="planar:4", progress=False)
    recovers, left = gaps["flow_recovers"], gaps["flow_approximation_gap"]
    assert recovers["mean"] > 10 * recovers["stderr"] > 0  # the diagonal family misses the correlation
    assert recovers["mean"] + left["mean"] == pytest.approx(gaps["approximation_gap"]["mean"])
    assert abs(left["mean"]) < 0.1 and gaps["settings"]["flow"] == "planar:4"
    assert 0 <= gaps["flow_converged"] <= 1
    text = "\n".join(gap_lines(gaps))
    assert "planar:4 flow" in text and "of which the flow" in text
    assert "elbo_flow" not in inference_gaps(model, x[:4], k=10, steps=2, progress=False)


def test_a_bad_flow_is_refused_before_any_work() -> None:
    model, x = ppca()
    with pytest.raises(ValueError, match="unknown flow family"):
        inference_gaps(model, x, flow="spline:2")


def test_a_flow_is_fitted_on_a_flow_guides_own_family() -> None:
    """On an iaf:2 run the per-image planar steps sit on the IAF with per-image parameters."""
    import vaelab
    from vaelab.models import ModelConfig, build_vae

    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=3, hidden=(16,), posterior="iaf:2"), (1, 4, 4))
    pixels = (torch.rand(6, 1, 4, 4) * 255).to(torch.uint8)
    result = vaelab.gaps(model, pixels, k=50, steps=20, lr=0.05, flow="planar:2", progress=False)
    assert result["elbo_flow"]["n"] == 6 and result["settings"]["flow"] == "planar:2"
    assert result["elbo_flow"]["mean"] > result["elbo_amortized"]["mean"]
