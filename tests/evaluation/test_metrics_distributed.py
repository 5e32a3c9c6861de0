"""held_out_metrics on one rank of several: each scores its shard; an empty shard still joins."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vaelab.evaluation.metrics import held_out_metrics
from vaelab.models import ModelConfig, build_vae
from vaelab.runs.distributed import Distributed


@dataclass(frozen=True)
class OtherRanksContext(Distributed):
    """A rank without a process group: gather appends what the other ranks would send."""

    others: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        return torch.cat([values, self.others.to(values.dtype)])


def test_a_rank_with_no_examples_still_gathers_the_others() -> None:
    # 2 test digits on 3 ranks: rank 2's shard is empty, yet it must reach the gather that
    # ranks 0 and 1 wait in, not fail on an empty concatenation and leave them hanging
    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=2, hidden=(8,), likelihood="bernoulli"), (1, 3, 3))
    x = (torch.rand(2, 1, 3, 3) < 0.5).float()
    context = OtherRanksContext(rank=2, world_size=3, device=torch.device("cpu"),
                                others=torch.tensor([-5.0, -6.0]))
    result = held_out_metrics(model, x, k=10, context=context, progress=False)
    assert result["examples"] == 2
    assert abs(result["log_px_is"]["mean"] - (-5.5)) < 1e-9
