"""L[q*_flow]: a planar flow fitted per example on the guide's family, against the closed form of a
linear-Gaussian model whose posterior is correlated (so a diagonal q* cannot reach log p(x))."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Independent, Normal

from vaelab.models import LinearGaussianModel
from vaelab.objectives.local_flow import (
    identity_planar_steps,
    optimized_flow_elbo,
    parse_local_flow,
    planar_on,
)
from vaelab.objectives.local_guide import optimized_elbo


def correlated_ppca(seed: int = 0) -> tuple[LinearGaussianModel, torch.Tensor]:
    """PPCA whose first two weight columns nearly align: p(z | x) is strongly correlated."""
    torch.manual_seed(seed)
    model = LinearGaussianModel(6, 3, noise_scale=0.3)
    with torch.no_grad():
        model.weight.normal_()
        model.weight[:, 1] += model.weight[:, 0]
    model.set_guide_to_posterior()
    return model, model.likelihood(model.prior().sample((24,))).sample()


def test_the_flow_closes_the_gap_a_diagonal_q_star_cannot() -> None:
    model, x = correlated_ppca()
    with torch.no_grad():
        exact = model.exact_log_marginal(x)
    diagonal = optimized_elbo(model, x, steps=300, lr=0.05, samples=32, eval_samples=4000)
    flow = optimized_flow_elbo(model, x, "planar:4", steps=300, lr=0.05, samples=32, eval_samples=4000)
    # a lower bound on log p(x), up to the Monte-Carlo error of 4,000 draws
    assert float((flow.optimized - exact).max()) < 0.05
    assert float((exact - flow.optimized).mean()) < 0.05  # and close to it: the flow fits p(z | x)
    recovered = flow.optimized - diagonal.optimized
    assert float(recovered.mean()) > 0.3 and float(recovered.min()) > 0  # the diagonal q* misses
    # at the start the flow is the identity and the base the encoder's output: L[q] (mean over
    # examples of two 4,000-draw estimates)
    assert abs(float((flow.amortized - diagonal.amortized).mean())) < 0.05
    assert flow.converged.float().mean() > 0.9


def test_identity_steps_leave_the_base_as_it_is() -> None:
    base = Independent(Normal(torch.randn(5, 3), torch.rand(5, 3) + 0.5), 1)
    u, w, b = identity_planar_steps(5, 4, 3, torch.zeros(1))
    assert u.shape == w.shape == (5, 4, 3) and b.shape == (5, 4)
    q = planar_on(base, u, w, b)
    z = q.rsample((7,))
    assert z.shape == (7, 5, 3)
    torch.testing.assert_close(q.log_prob(z), base.log_prob(z), atol=1e-5, rtol=0)


def test_each_examples_flow_is_its_own_problem() -> None:
    """One batch of independent problems: an example's result does not depend on the others."""
    model, x = correlated_ppca()
    torch.manual_seed(1)
    both = optimized_flow_elbo(model, x[:2], "planar:2", steps=20, samples=4, eval_samples=10)
    assert both.optimized.shape == both.amortized.shape == both.converged.shape == (2,)


@pytest.mark.parametrize("spec, message", [
    ("radial:4", "unknown flow family 'radial:4'"), ("iaf:2", "unknown flow family"),
    ("planar", "K must be an integer >= 1"), ("planar:0", "K must be an integer >= 1"),
    ("planar:-2", "K must be an integer >= 1"), ("planar:x", "K must be an integer >= 1"),
    (4, "unknown flow family"),
])
def test_a_bad_flow_is_one_clear_error(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_local_flow(spec)
    model, x = correlated_ppca()
    with pytest.raises(ValueError, match=message):
        optimized_flow_elbo(model, x, spec, steps=2)  # type: ignore[arg-type]


def test_parse_reads_the_steps() -> None:
    assert parse_local_flow("planar:16") == ("planar", 16)
