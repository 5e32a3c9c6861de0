"""ConditionalDistribution: a network's output as a family's parameters."""

from __future__ import annotations

import torch

from vaelab.distributions.families import GaussianFamily
from vaelab.models.conditional import ConditionalDistribution
from vaelab.nn.mlp import MLP


def test_under_bf16_autocast_the_products_are_bf16_and_the_distribution_float32() -> None:
    torch.manual_seed(0)
    conditional = ConditionalDistribution(MLP((6,), (16,), 2 * 3), GaussianFamily(), (3,), (6,))
    parents, z = torch.randn(5, 6), torch.randn(5, 3)
    exact = conditional(parents).log_prob(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conditional.network(parents).dtype == torch.bfloat16  # the products: bf16
        q = conditional(parents)
        parts = conditional.from_parts([parents[:, :4], parents[:, 4:]])
        density = q.log_prob(z)
    assert q.mean.dtype == parts.mean.dtype == density.dtype == torch.float32
    # only the products' rounding differs from float32: a few hundredths of a nat, not more
    torch.testing.assert_close(density, exact, atol=0.1, rtol=0.02)
