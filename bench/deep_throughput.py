"""Training throughput of the deep top-down VAE: vaelab's training step against bare PyTorch.

Both train the identical network — the `--model deep` preset's (read from vaelab's PRESETS: 3
latent groups of 24, ELU; until 2026-12-05 4 × 16 with ReLU), residual cells 256 wide,
Bernoulli likelihood, built by vaelab and its weights copied into the bare contender — on
dynamically binarized MNIST-like batches of 100 (the preset's batch), Adam, in one process,
interleaved in rounds so all see the same machine state. The bare contender is the same network
as plain tensor code: bottom-up features, per group the prior's and the guide's parameters by
chunking, a reparameterised draw, the closed-form Gaussian KL, the cell's update, the decoder's
binary cross-entropy with logits, an Adam step — no torch.distributions, no loop, no logging.
Prints images/s and the ratio vaelab / bare (issue 26 target: ≥ 0.7).

    python bench/deep_throughput.py [--steps 10] [--rounds 20] [--device cpu] [--threads 1]

Contenders: "vaelab" is `train_step` with the ELBO and vaelab's optimiser (fused Adam), as
bench/throughput.py times it; "vaelab+guards" adds the preset's gradient clipping and skipping
(what `vaelab train --model deep` runs: one gradient-norm pass more); "bare" uses
`torch.optim.Adam` with its defaults, "bare+fused" vaelab's optimiser choice, which isolates the
framework's own overhead.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
import torch.nn.functional as F
from interleaved import fake_mnist, interleaved_rates, print_rates
from interleaved import paired_ratio as ratio_of
from torch import nn

from vaelab.data.representation import to_model_space
from vaelab.kinds.vae import PRESETS
from vaelab.models.config import ModelConfig, build_model
from vaelab.models.deep import LOG_SCALE_BOUND, DeepVAE
from vaelab.objectives import make_objective
from vaelab.training.engine import RunningMeans, make_optimizer, train_step

BATCH = 100
#: the `--model deep` preset's network (vaelab/kinds/vae.py PRESETS) and its guards
PRESET = ModelConfig(**PRESETS["deep"]["model"])
GRAD_CLIP, GRAD_SKIP = PRESETS["deep"]["train"]["grad_clip"], PRESETS["deep"]["train"]["grad_skip"]
ACTIVATION = {"relu": F.relu, "elu": F.elu}[PRESET.activation]


def _linear(layer: nn.Module) -> tuple[nn.Parameter, nn.Parameter]:
    assert isinstance(layer, nn.Linear)
    return (nn.Parameter(layer.weight.detach().clone()), nn.Parameter(layer.bias.detach().clone()))


class BareDeepVAE(nn.Module):
    """The preset's DeepVAE as plain tensor code over copies of its weights (the preset's
    activation, one stem layer; the constructor checks the layout it copies)."""

    def __init__(self, model: DeepVAE) -> None:
        super().__init__()
        stem = [m for m in model.bottom_up[0] if isinstance(m, nn.Linear)]
        assert len(stem) == 1, "the bare contender is written for hidden = (W,)"
        self.bottom_up = nn.ParameterList(
            [p for block in [stem[0], *(b[0] for b in model.bottom_up[1:])] for p in _linear(block)])
        self.prior_heads = nn.ParameterList([p for g in model.groups for p in _linear(g.prior_head)])
        self.posterior_heads = nn.ParameterList([p for g in model.groups for p in _linear(g.posterior_head)])
        self.cells = nn.ParameterList([p for g in model.groups for c in (g.cell[0], g.cell[2])
                                       for p in _linear(c)])
        network = model.decoder.network
        self.decoder = nn.ParameterList([*_linear(network[1]), *_linear(network[3])])
        self.initial_state = nn.Parameter(model.initial_state.detach().clone())
        self.groups = len(model.groups)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """−ELBO averaged over the batch, the KL of each group in closed form."""
        flat, b = x.flatten(1), self.bottom_up
        h = ACTIVATION(F.linear(flat, b[0], b[1]))
        features = [h]
        for i in range(1, self.groups):
            h = ACTIVATION(F.linear(h, b[2 * i], b[2 * i + 1]))
            features.append(h)
        state = self.initial_state.expand(x.shape[0], -1)
        kl = x.new_zeros(x.shape[0])
        bound = LOG_SCALE_BOUND
        for g, h in enumerate(reversed(features)):
            p_loc, p_log_scale = F.linear(state, self.prior_heads[2 * g],
                                          self.prior_heads[2 * g + 1]).chunk(2, -1)
            p_log_scale = bound * torch.tanh(p_log_scale / bound)
            shift, log_ratio = F.linear(torch.cat([state, h], -1), self.posterior_heads[2 * g],
                                        self.posterior_heads[2 * g + 1]).chunk(2, -1)
            q_loc, q_log_scale = p_loc + shift, bound * torch.tanh((p_log_scale + log_ratio) / bound)
            q_scale = q_log_scale.exp()
            z = q_loc + q_scale * torch.randn_like(q_loc)
            kl = kl + (p_log_scale - q_log_scale
                       + 0.5 * (q_scale.pow(2) + shift.pow(2)) * torch.exp(-2.0 * p_log_scale) - 0.5).sum(-1)
            c = self.cells
            inner = ACTIVATION(F.linear(torch.cat([state, z], -1), c[4 * g], c[4 * g + 1]))
            state = state + F.linear(inner, c[4 * g + 2], c[4 * g + 3])
        d = self.decoder
        logits = F.linear(ACTIVATION(F.linear(ACTIVATION(state), d[0], d[1])), d[2], d[3])
        reconstruction = -F.binary_cross_entropy_with_logits(logits, flat, reduction="none").sum(-1)
        return -(reconstruction - kl).mean()


def _batch(images: torch.Tensor, i: int) -> torch.Tensor:
    return images[(i * BATCH) % (images.shape[0] - BATCH):][:BATCH]


def time_vaelab(images: torch.Tensor, steps: int, state: dict) -> float:
    model, optimizer, objective = state["model"], state["optimizer"], state["objective"]
    started = time.perf_counter()
    for i in range(steps):
        x = to_model_space(_batch(images, i), False, "binary", state["generator"])
        value = train_step(model, optimizer, objective, x, grad_clip=state["clip"], grad_skip=state["skip"])
        state["running"].add(value, BATCH)  # the loop's per-epoch bookkeeping
    if images.is_cuda:
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - started)


def time_bare(images: torch.Tensor, steps: int, state: dict) -> float:
    model, optimizer = state["model"], state["optimizer"]
    started = time.perf_counter()
    for i in range(steps):
        x = torch.bernoulli(_batch(images, i).float() / 255.0, generator=state["generator"])
        loss = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()
    if images.is_cuda:
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - started)


def check_same_network(model: DeepVAE, bare: BareDeepVAE, images: torch.Tensor) -> float:
    """|vaelab's loss − the bare loss| on one batch with the same noise (same global seed)."""
    x = torch.bernoulli(images[:BATCH].float() / 255.0, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(5)
    ours = make_objective("elbo", 1)(model, x, 1.0).loss
    torch.manual_seed(5)
    theirs = bare.loss(x)
    return float((ours - theirs).detach().abs())


def make_contenders(device: torch.device) -> dict[str, tuple[Any, dict]]:
    """Each timed contender by name: its timer and the state it steps."""
    def generator() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(1)

    contenders: dict[str, tuple[Any, dict]] = {}
    for name, clip, skip in (("vaelab", 0.0, 0.0), ("vaelab+guards", GRAD_CLIP, GRAD_SKIP)):
        model = build_model(PRESET, (1, 28, 28)).to(device)
        contenders[name] = (time_vaelab, {
            "model": model, "objective": make_objective("elbo", 1), "optimizer": make_optimizer(model, 1e-3),
            "generator": generator(), "running": RunningMeans(), "clip": clip, "skip": skip})
    template = build_model(PRESET, (1, 28, 28))
    assert isinstance(template, DeepVAE)
    for name, fused in (("bare", False), ("bare+fused", True)):
        bare = BareDeepVAE(template).to(device)
        optimizer = make_optimizer(bare, 1e-3) if fused else torch.optim.Adam(bare.parameters(), lr=1e-3)
        contenders[name] = (time_bare, {"model": bare, "optimizer": optimizer, "generator": generator()})
    vaelab_model = contenders["vaelab"][1]["model"]
    assert sum(p.numel() for p in vaelab_model.parameters()) == sum(
        p.numel() for p in contenders["bare"][1]["model"].parameters()), "models differ in size"
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    images = fake_mnist(4096, device)
    template = build_model(PRESET, (1, 28, 28)).to(device)
    assert isinstance(template, DeepVAE)
    difference = check_same_network(template, BareDeepVAE(template).to(device), images)
    print(f"same network: |vaelab loss − bare loss| = {difference:.2e} nats on one batch, same noise")
    assert difference < 1e-2, "the bare contender does not compute vaelab's loss"

    contenders = make_contenders(device)
    rates = interleaved_rates(contenders, images, args.rounds, args.steps, warmup=3)
    print_rates(rates, f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
                f"batch {BATCH}, {args.rounds} interleaved rounds x {args.steps} steps")

    def paired_ratio(a: str, b: str) -> float:
        return ratio_of(rates, a, b)

    print(f"ratio vaelab / bare:          {paired_ratio('vaelab', 'bare'):.3f} "
          "(median of paired rounds)  target >= 0.7")
    print(f"ratio vaelab / bare+fused:    {paired_ratio('vaelab', 'bare+fused'):.3f} "
          "(framework overhead alone)")
    print(f"ratio vaelab+guards / bare:   {paired_ratio('vaelab+guards', 'bare'):.3f} "
          "(the preset's clip and skip)")


if __name__ == "__main__":
    main()
