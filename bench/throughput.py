"""Training throughput: vaelab's training step against a hand-written PyTorch loop.

Both train the identical model — MLP encoder 784-512-512-(2×32), decoder 32-512-512-784,
Bernoulli likelihood, dynamically binarized MNIST-like batches of 128, Adam — and the same VAE
in Pyro (SVI, Trace_ELBO; `pip install pyro-ppl`, a bench-only extra) — in one process,
interleaved in rounds so all see the same machine state. Prints images/s and the ratio
vaelab / hand-written (target ≥ 0.95 on CPU). vaelab uses torch's fused Adam kernel (the same
update rule); a third contender, hand-written with that same optimiser, shows how much of the
difference is the optimiser and how much the framework's own overhead. Targets: ≥ 0.95×
hand-written and ≥ 2× Pyro on CPU.

    python bench/throughput.py [--steps 20] [--rounds 30] [--device cpu] [--threads N]
                               [--compile] [--bf16] [--scaling]

--compile and --bf16 add vaelab contenders whose training step is compiled with torch.compile
or runs under bfloat16 autocast (the switches `vaelab train --compile --bf16` turn on).
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
from vaelab.models import ModelConfig, build_vae
from vaelab.objectives import importance_sampled_log_marginal, make_objective
from vaelab.training.fast_path import compiled, with_autocast
from vaelab.training.loop import RunningMeans, make_optimizer, train_step

BATCH, LATENT, HIDDEN = 128, 32, (512, 512)


class HandWrittenVAE(nn.Module):
    """The same VAE written out by hand: no distributions, no framework."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                                     nn.Linear(512, 2 * LATENT))
        self.decoder = nn.Sequential(nn.Linear(LATENT, 512), nn.ReLU(), nn.Linear(512, 512),
                                     nn.ReLU(), nn.Linear(512, 784))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)
        z = mu + log_sigma.exp() * torch.randn_like(mu)
        logits = self.decoder(z)
        reconstruction = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mu.pow(2) + (2 * log_sigma).exp() - 1.0 - 2 * log_sigma).sum(-1)
        return -(reconstruction - kl).mean()


def make_pyro_contender(device: torch.device) -> tuple | None:
    """The same VAE in Pyro (SVI with Trace_ELBO and Pyro's Adam), or None without pyro-ppl."""
    try:
        import pyro
        import pyro.distributions as pdist
        from pyro.infer import SVI, Trace_ELBO
        from pyro.optim import Adam
    except ImportError:
        return None
    pyro.clear_param_store()
    net = HandWrittenVAE().to(device)

    def model(x: torch.Tensor) -> None:
        pyro.module("decoder", net.decoder)
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", pdist.Normal(x.new_zeros(x.shape[0], LATENT), 1.0).to_event(1))
            pyro.sample("x", pdist.Bernoulli(logits=net.decoder(z)).to_event(1), obs=x)

    def guide(x: torch.Tensor) -> None:
        pyro.module("encoder", net.encoder)
        with pyro.plate("data", x.shape[0]):
            mu, log_sigma = net.encoder(x).chunk(2, dim=-1)
            pyro.sample("z", pdist.Normal(mu, log_sigma.exp()).to_event(1))

    svi = SVI(model, guide, Adam({"lr": 1e-3}), loss=Trace_ELBO())

    def time_pyro(images: torch.Tensor, steps: int, state: dict) -> float:
        generator = state["generator"]
        started = time.perf_counter()
        for i in range(steps):
            batch = images[(i * BATCH) % (images.shape[0] - BATCH):][:BATCH]
            svi.step(torch.bernoulli(batch.float().flatten(1) / 255.0, generator=generator))
        if images.is_cuda:
            torch.cuda.synchronize()
        return steps * BATCH / (time.perf_counter() - started)

    return time_pyro, {"generator": torch.Generator(device=device).manual_seed(1)}


def time_vaelab(images: torch.Tensor, steps: int, state: dict) -> float:
    model, optimizer, objective = state["model"], state["optimizer"], state["objective"]
    generator = state["generator"]
    started = time.perf_counter()
    for i in range(steps):
        batch = images[(i * BATCH) % (images.shape[0] - BATCH):][:BATCH]
        x = to_model_space(batch, False, "binary", generator)
        value = train_step(model, optimizer, objective, x)  # reads the loss back to check it
        state["running"].add(value, BATCH)  # the loop's per-epoch bookkeeping
    if images.is_cuda:
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - started)


def time_hand_written(images: torch.Tensor, steps: int, state: dict) -> float:
    model, optimizer, generator = state["model"], state["optimizer"], state["generator"]
    started = time.perf_counter()
    for i in range(steps):
        batch = images[(i * BATCH) % (images.shape[0] - BATCH):][:BATCH]
        x = torch.bernoulli(batch.float() / 255.0, generator=generator)
        loss = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()
    if images.is_cuda:
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - started)


#: (in, out) of each linear layer of the default model: encoder 784-512-512-(2×32), decoder 32-512-512-784
LAYERS = ((784, 512), (512, 512), (512, 2 * LATENT), (LATENT, 512), (512, 512), (512, 784))


def matmul_floor_state(device: torch.device) -> dict:
    """Random operands with the shapes of the step's matrix products (batch 128)."""
    g = torch.Generator(device=device).manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, device=device)

    return {"layers": [(rand(BATCH, i), rand(o, i), rand(BATCH, o)) for i, o in LAYERS]}


def time_matmul_floor(images: torch.Tensor, steps: int, state: dict) -> float:
    """Only the training step's matrix products: per linear layer the forward x Wᵀ, the weight
    gradient gᵀ x and (but for the input layer) the input gradient g W — the floor no framework can
    beat; everything else a step does (activations, sampling, the likelihood, Adam) is overhead."""
    layers = state["layers"]
    started = time.perf_counter()
    for _ in range(steps):
        for index, (x, w, g) in enumerate(layers):
            torch.mm(x, w.t())
            torch.mm(g.t(), x)
            if index != 0:
                torch.mm(g, w)
    if images.is_cuda:
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - started)


def make_contenders(args: argparse.Namespace, device: torch.device) -> dict[str, tuple[Any, dict]]:
    """Each timed contender by name: its timer and the state it steps (models built in this order,
    from the caller's seed)."""
    vaelab_model = build_vae(ModelConfig(latent_dim=LATENT, hidden=HIDDEN), (1, 28, 28)).to(device)
    hand_model = HandWrittenVAE().to(device)
    hand_fused_model = HandWrittenVAE().to(device)
    assert sum(p.numel() for p in vaelab_model.parameters()) == sum(
        p.numel() for p in hand_model.parameters()), "models differ in size"

    def generator() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(1)

    contenders = {
        # vaelab's own training step, optimiser (fused Adam where available) and bookkeeping
        "vaelab": (time_vaelab, {"model": vaelab_model, "objective": make_objective("elbo", 1),
                                 "optimizer": make_optimizer(vaelab_model, 1e-3),
                                 "generator": generator(), "running": RunningMeans()}),
        # what a user writes by hand: torch.optim.Adam with its defaults
        "hand-written": (time_hand_written, {
            "model": hand_model, "generator": generator(),
            "optimizer": torch.optim.Adam(hand_model.parameters(), lr=1e-3)}),
        # the same by hand with vaelab's optimiser choice: isolates the framework's own overhead
        "hand+fused": (time_hand_written, {
            "model": hand_fused_model, "generator": generator(),
            "optimizer": make_optimizer(hand_fused_model, 1e-3)}),
    }
    switches = {"vaelab+compile": args.compile, "vaelab+bf16": args.bf16,
                "vaelab+both": args.compile and args.bf16}
    for name in (n for n, wanted in switches.items() if wanted):
        model = build_vae(ModelConfig(latent_dim=LATENT, hidden=HIDDEN), (1, 28, 28)).to(device)
        objective = make_objective("elbo", 1)
        if name != "vaelab+compile":
            objective = with_autocast(objective, "bf16", device)
        if name != "vaelab+bf16":
            objective = compiled(objective)
        contenders[name] = (time_vaelab, {"model": model, "objective": objective,
                                          "optimizer": make_optimizer(model, 1e-3),
                                          "generator": generator(), "running": RunningMeans()})
    # the step's matrix products alone: the floor of a training step of this model (issue 14)
    contenders["matmul floor"] = (time_matmul_floor, matmul_floor_state(device))
    pyro_contender = make_pyro_contender(device)
    if pyro_contender is not None:  # Pyro's SVI, Trace_ELBO: the probabilistic-programming peer
        contenders["pyro"] = pyro_contender
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--compile", action="store_true", help="add vaelab with torch.compile")
    parser.add_argument("--bf16", action="store_true", help="add vaelab under bf16 autocast")
    parser.add_argument("--scaling", action="store_true",
                        help="also print images/s against batch and latent size, IS time against k")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    images = fake_mnist(4096, device)

    contenders = make_contenders(args, device)
    rates = interleaved_rates(contenders, images, args.rounds, args.steps, warmup=5)
    print_rates(rates, f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
                f"batch {BATCH}, {args.rounds} interleaved rounds x {args.steps} steps", width=10)

    def paired_ratio(a: str, b: str) -> float:
        return ratio_of(rates, a, b)

    print(f"ratio vaelab / hand-written: {paired_ratio('vaelab', 'hand-written'):.3f} "
          "(median of paired rounds)  target >= 0.95")
    print(f"ratio vaelab / hand+fused:  {paired_ratio('vaelab', 'hand+fused'):.3f} "
          "(framework overhead alone)")
    floor = 1 / paired_ratio("vaelab", "matmul floor")
    print(f"step time vaelab / matrix products alone: {floor:.3f}  target <= 1.3")
    for name in (n for n in rates if n.startswith("vaelab+")):
        print(f"step time {name} / matrix products alone: {1 / paired_ratio(name, 'matmul floor'):.3f}")
    for name in (n for n in rates if n.startswith("vaelab+")):
        print(f"ratio {name} / vaelab: {paired_ratio(name, 'vaelab'):.3f}")
    if "pyro" in rates:
        print(f"ratio vaelab / pyro:        {paired_ratio('vaelab', 'pyro'):.3f}  target >= 2")
    else:
        print("pyro: not installed (pip install pyro-ppl) — comparison skipped")
    if args.scaling:
        print_scaling(device, images)


def print_scaling(device: torch.device, images: torch.Tensor) -> None:
    """How cost grows: images/s against batch and latent size; IS time against k."""
    print("\nimages/s of vaelab's training step (MLP 784-512-512-d, Bernoulli):")
    print("| batch \\ latent | " + " | ".join(str(d) for d in (8, 32, 128)) + " |")
    print("| ---: | ---: | ---: | ---: |")
    for batch in (32, 128, 512):
        cells = []
        for latent in (8, 32, 128):
            model = build_vae(ModelConfig(latent_dim=latent, hidden=HIDDEN), (1, 28, 28)).to(device)
            optimizer, objective = make_optimizer(model, 1e-3), make_objective("elbo", 1)
            x = torch.bernoulli(images[:batch].float() / 255.0)
            for _ in range(3):
                train_step(model, optimizer, objective, x)
            steps = max(5, 2048 // batch)
            started = time.perf_counter()
            for _ in range(steps):
                train_step(model, optimizer, objective, x)
            cells.append(f"{steps * batch / (time.perf_counter() - started):.0f}")
        print(f"| {batch} | " + " | ".join(cells) + " |")
    print("\nimportance-sampled log p(x) on 100 images (latent 32): seconds against k")
    print("| k | seconds | images x samples / s |")
    print("| ---: | ---: | ---: |")
    model = build_vae(ModelConfig(latent_dim=LATENT, hidden=HIDDEN), (1, 28, 28)).to(device)
    x = torch.bernoulli(images[:100].float() / 255.0)
    for k in (100, 1000, 5000):
        started = time.perf_counter()
        importance_sampled_log_marginal(model, x, k)
        seconds = time.perf_counter() - started
        print(f"| {k} | {seconds:.2f} | {100 * k / seconds:.0f} |")


if __name__ == "__main__":
    main()
