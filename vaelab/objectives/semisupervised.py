"""The semi-supervised objective of Kingma et al. (2014), M2, with y summed out exactly; with an
auxiliary variable a, that of the ADGM / SDGM of Maaløe et al. (2016).

Labelled (x, y):   L(x, y) = E_q(z|x,y)[log p(x | y, z)] + log p(y) − KL(q(z | x, y) ‖ p(z))
Unlabelled x:      U(x)    = Σ_y q(y | x) L(x, y) + H(q(y | x))        (C bounds, no sampling of y)
Loss per step:     −(N_u/N) mean_u U(x) − mean_l L(x, y) + w · mean_l [−log q(y | x)]
                   + λ · KL(mean_u q(y | x) ‖ p(y))                      (λ = `class_balance`)

With a, one draw a ~ q(a | x) per example is shared by every class: L(x, y, a) adds
log p(a | ·) − log q(a | x) to the bound (q(z | a, y, x) in place of q(z | x, y)), and
U(x) = Σ_y q(y | a, x) L(x, y, a) + H(q(y | a, x)), an unbiased estimate of the ADGM bound
E_q(a|x)[Σ_y q(y | a, x)(log p(x, y, z, a) − log q(z | a, y, x)) + H − log q(a | x)]. The
classification term is −log q(y | a, x) at the labelled batch's own draw of a.

The paper maximises J^α = Σ_l L + Σ_u U + α E_l[log q(y | x)] with α = 0.1·N. We take the
labelled and unlabelled terms as means over their own minibatches and let each labelled example
stand for N/N_l examples (the usual reading; literally, 100 labels among 50,000 images would
weigh 1/500 of the bound), so the classification weight per labelled example is
w = α / N_l = 0.1·N/N_l (`classification_weight`): 50 for 100 labels out of 50,000, 0.1 with
every example labelled. Unlabelled minibatches are drawn from all N training images; their term
is weighted by N_u/N, the share of images without a label, so it vanishes when all are labelled
(then, as in the paper, the classifier learns from the labels alone).

The last term is not in the papers: with λ > 0 it holds the classifier's class shares on the
unlabelled batch to the prior p(y), so that no class is given up (a class whose images the
generative model explains as well under another label can otherwise lose its share: an ADGM's 5s
did). It leaves the bound as it is; at λ = 0 (M2, M1+M2 and SDGM's default) the loss is the
papers'.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from vaelab.distributions.kl import kl_or_estimate
from vaelab.models.base import LatentVariableModel
from vaelab.models.m1m2 import StackedM1M2
from vaelab.models.m2 import M2
from vaelab.objectives.result import ObjectiveValue

#: the paper's α = 0.1·N
ALPHA_FRACTION = 0.1


def classification_weight(examples: int, labelled: int, alpha_fraction: float = ALPHA_FRACTION) -> float:
    """w = α / N_l with α = alpha_fraction · N: the per-example weight of −log q(y | x)."""
    if labelled < 1 or examples < labelled:
        raise ValueError(f"need 1 <= labelled ({labelled}) <= examples ({examples})")
    return alpha_fraction * examples / labelled


def m2_view(model: LatentVariableModel, x: torch.Tensor) -> tuple[M2, torch.Tensor]:
    """The M2 and what it models of x: x itself, or M1's features for a stacked model."""
    if isinstance(model, StackedM1M2):
        return model.m2, model.features(x)
    if isinstance(model, M2):
        return model, x
    raise TypeError(f"the semi-supervised objective needs an M2 or M1+M2 model, got "
                    f"{type(model).__name__}")


#: what the unlabelled bound of a semi-supervised model bounds (`bound_of`)
PIXELS, M1_FEATURES = "pixels", "M1 features"


def bound_of(model: LatentVariableModel) -> str:
    """What the bounds of an M2 or M1+M2 model are of: the images (`PIXELS`) for M2, M1's
    features (`M1_FEATURES`; a bound on log p(z₁), not on log p(x)) for a stacked model."""
    if isinstance(model, StackedM1M2):
        return M1_FEATURES
    if isinstance(model, M2):
        return PIXELS
    raise TypeError(f"a semi-supervised bound needs an M2 or M1+M2 model, got {type(model).__name__}")


#: a draw of the auxiliary variable with its log q(a | x): (a [*batch, d_a], log q [*batch])
AuxiliaryDraw = tuple[torch.Tensor, torch.Tensor]


def labelled_bound(model: M2, x: torch.Tensor, y: torch.Tensor, kl_weight: float = 1.0,
                   auxiliary: AuxiliaryDraw | None = None) -> dict[str, torch.Tensor]:
    """L(x, y) per example for one-hot y [*batch, C] (one reparameterised z each).

    A model with an auxiliary variable uses the draw `auxiliary` (a ~ q(a | x), log q(a | x)),
    drawing one when not given, and adds log p(a | ·) − log q(a | x) to the bound.
    Returns `bound`, its warmed-up version `objective` (KL, and a's part −kl_a, × kl_weight;
    equal at 1) and the parts `reconstruction`, `kl`, `kl_a` (0 without a), `log_py`, all
    shaped [*batch].
    """
    if auxiliary is None:
        auxiliary = model.draw_auxiliary(x)
    a = None if auxiliary is None else auxiliary[0]
    q = model.posterior(x, y, a)
    z = q.rsample()
    reconstruction = model.likelihood(y, z, a).log_prob(x)
    kl = kl_or_estimate(q, model.prior_z(), z)
    log_py = model.prior_y().log_prob(y.argmax(-1))
    kl_a = (torch.zeros_like(kl) if auxiliary is None
            else auxiliary[1] - model.log_auxiliary(x, y, z, auxiliary[0]))
    return {"bound": reconstruction + log_py - kl - kl_a,
            "objective": reconstruction + log_py - kl_weight * (kl + kl_a),
            "reconstruction": reconstruction, "kl": kl, "kl_a": kl_a, "log_py": log_py}


def unlabelled_bound(model: M2, x: torch.Tensor,
                     kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """U(x) = Σ_y q(y | x) L(x, y) + H(q(y | x)) per example, enumerating all C classes at once
    (with an auxiliary variable: one draw a ~ q(a | x) for every class, and q(y | a, x)).

    x is repeated C times ([C, B, ...]) and every class's bound computed in one batched pass.
    Returns `bound`, `objective` (warm-up), the q(y | x)-weighted `reconstruction`, `kl` and
    `kl_a`, the `entropy` of q(y | x) and q(y | x)'s `probs` [B, C].
    """
    c, batch = model.num_classes, x.shape[0]
    drawn = model.draw_auxiliary(x)
    repeated = None if drawn is None else (drawn[0].expand(c, *drawn[0].shape), drawn[1].expand(c, batch))
    ys = torch.eye(c, dtype=x.dtype, device=x.device)[:, None, :].expand(c, batch, c)
    per_class = labelled_bound(model, x.expand(c, *x.shape), ys, kl_weight, repeated)  # each [C, B]
    q_y = model.classifier(x, None if drawn is None else drawn[0])
    probs = q_y.probs
    entropy = q_y.entropy()

    def expect(values: torch.Tensor) -> torch.Tensor:
        return (probs * values.transpose(0, 1)).sum(-1)

    return {"bound": expect(per_class["bound"]) + entropy,
            "objective": expect(per_class["objective"]) + entropy,
            "reconstruction": expect(per_class["reconstruction"]),
            "kl": expect(per_class["kl"]), "kl_a": expect(per_class["kl_a"]),
            "entropy": entropy, "probs": probs}


def class_share_kl(probs: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """KL(mean_b probs[b] ‖ prior) in nats: how far a batch's predicted class shares [B, C] are
    from the prior's [C]."""
    shares = probs.mean(0)
    return (shares * (shares.clamp_min(1e-12).log() - prior.log())).sum()


def semisupervised_loss(model: LatentVariableModel, x_unlabelled: torch.Tensor,
                        x_labelled: torch.Tensor, y_labelled: torch.Tensor, weight: float,
                        kl_weight: float = 1.0, unlabelled_weight: float = 1.0,
                        class_balance: float = 0.0) -> ObjectiveValue:
    """−(unlabelled_weight · mean U + mean L) + weight · mean cross-entropy
    + class_balance · KL(unlabelled class shares ‖ p(y)), for integer labels `y_labelled`.

    `bound` is U(x) per unlabelled example (nats); terms hold the parts, the class-share KL and
    the labelled batch's classification error. With `unlabelled_weight` 0 (every image
    labelled) U is still reported but kept out of the gradient, and so is the class-share term.
    """
    m2, h_u = m2_view(model, x_unlabelled)
    _, h_l = m2_view(model, x_labelled)
    with torch.set_grad_enabled(unlabelled_weight > 0 and torch.is_grad_enabled()):
        unlabelled = unlabelled_bound(m2, h_u, kl_weight)
    drawn = m2.draw_auxiliary(h_l)  # a ~ q(a | x) of the labelled batch, for both terms
    labelled = labelled_bound(m2, h_l, m2.one_hot(y_labelled).to(h_l.dtype), kl_weight, drawn)
    logits = m2.classifier(h_l, None if drawn is None else drawn[0]).logits
    cross_entropy = F.cross_entropy(logits, y_labelled)
    loss = -labelled["objective"].mean() + weight * cross_entropy
    share_kl = class_share_kl(unlabelled["probs"], m2.prior_y().probs.to(unlabelled["probs"].dtype))
    if unlabelled_weight > 0:
        loss = loss - unlabelled_weight * unlabelled["objective"].mean()
        if class_balance > 0:
            loss = loss + class_balance * share_kl
    return ObjectiveValue(
        loss=loss,
        bound=unlabelled["bound"].detach(),
        terms={"reconstruction": unlabelled["reconstruction"].detach().mean(),
               "kl": unlabelled["kl"].detach().mean(),
               **({} if drawn is None else {"kl_a": unlabelled["kl_a"].detach().mean()}),
               "entropy_y": unlabelled["entropy"].detach().mean(),
               "class_share_kl": share_kl.detach(),
               "labelled_bound": labelled["bound"].detach().mean(),
               "cross_entropy": cross_entropy.detach(),
               "labelled_error": (logits.argmax(-1) != y_labelled).float().mean().detach()},
    )


class SemiSupervisedObjective:
    """objective(model, x, kl_weight) for the training loop: x is an unlabelled minibatch; each
    call draws a labelled minibatch (with replacement, from the global torch RNG, so a resumed
    run draws the same ones) from the small labelled set it carries.

    `labelled_images` are stored values on the model's device; `prepare` turns them into model
    space (e.g. a fresh binarization) per draw; `unlabelled_weight` is N_u / N; `class_balance`
    the weight λ of the class-share term.
    """

    def __init__(self, labelled_images: torch.Tensor, labels: torch.Tensor, weight: float,
                 batch_size: int = 100,
                 prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 unlabelled_weight: float = 1.0, class_balance: float = 0.0) -> None:
        if labelled_images.shape[0] != labels.shape[0] or labels.shape[0] == 0:
            raise ValueError(f"need as many labels as labelled images (> 0), got "
                             f"{labels.shape[0]} and {labelled_images.shape[0]}")
        if batch_size < 1:
            raise ValueError(f"labelled batch size must be >= 1, got {batch_size}")
        self.images = labelled_images
        self.labels = labels.long()
        self.weight = float(weight)
        self.batch_size = batch_size
        self.prepare = prepare or (lambda images: images.float())
        self.unlabelled_weight = float(unlabelled_weight)
        self.class_balance = float(class_balance)

    def __call__(self, model: LatentVariableModel, x: torch.Tensor,
                 kl_weight: float = 1.0) -> ObjectiveValue:
        index = torch.randint(self.labels.shape[0], (self.batch_size,)).to(self.labels.device)
        x_l = self.prepare(self.images[index])
        return semisupervised_loss(model, x, x_l, self.labels[index], self.weight, kl_weight,
                                   self.unlabelled_weight, self.class_balance)
