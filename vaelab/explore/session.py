"""What the explorer page asks of a trained run, answered from the model: no web code here.

An `ImageSession` decodes latent positions (one slider per latent dimension, or per principal
direction of the test set's posterior means when there are many), draws samples, scores an image
the user drew or uploaded (reconstruction, ELBO, importance-sampled log p(x) with the user's k and
the Pareto k̂ of its weights, its place in the latent scatter of the test set, and for
semi-supervised runs q(y | x) and its style in every class), and interpolates between two test
images. A `SequenceSession` shows a test sequence of the pendulum with its filtered state and the
learned constants, and rolls the model forward under a torque the user imposes — do(u) — beside
the simulator run under the same torque.
Every picture is a PNG data URL; every mistake a ValueError whose message the page shows.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vaelab.data.errors import DataError
from vaelab.evaluation.run import display
from vaelab.evaluation.trust import single_k_hat_warning
from vaelab.objectives.elbo import elbo
from vaelab.objectives.marginal import importance_sampled_log_marginal
from vaelab.runs.loader import RunLoader

#: most sliders on the page: beyond this many latent dimensions, the top principal directions
MAX_SLIDERS = 8
#: test images shown in the latent scatter
SCATTER_POINTS = 1000
MAX_K = 10_000
PIXELS_PER_SIDE = 168  # pictures are scaled up (nearest neighbour) to about this size


def png_data_url(images: torch.Tensor, columns: int | None = None, side: int = PIXELS_PER_SIDE) -> str:
    """A grid of images [N, C, H, W] in [0, 1] as a PNG data URL (each image scaled up)."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    columns = columns or n
    rows = math.ceil(n / columns)
    grid = torch.ones(c, rows * (h + 1) - 1, columns * (w + 1) - 1)
    for i in range(n):
        r, col = divmod(i, columns)
        grid[:, r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = images[i]
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    picture = Image.fromarray(array[..., 0] if c == 1 else array)
    scale = max(1, side // max(h, w))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def decode_image(data: bytes, shape: tuple[int, ...]) -> torch.Tensor:
    """An uploaded or drawn picture (PNG/JPEG bytes) as uint8 [1, C, H, W] of the run's `shape`;
    ValueError for what is not an image, an image of another size, or a blank one."""
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except Exception as error:  # PIL raises several types for bad bytes
        raise ValueError(f"that file is not an image PIL can read ({type(error).__name__})") from error
    channels, height, width = shape
    if picture.size != (width, height):
        raise ValueError(f"the image is {picture.width}×{picture.height} pixels; this model reads "
                         f"{width}×{height} (draw on the canvas, or upload an image of that size)")
    picture = picture.convert("L" if channels == 1 else "RGB")
    array = np.asarray(picture, dtype=np.uint8)
    if array.max() == array.min():
        raise ValueError("the image is blank: draw or upload something first")
    tensor = torch.from_numpy(array.copy())
    tensor = tensor[None] if channels == 1 else tensor.permute(2, 0, 1)
    return tensor[None]


def _model_units(model: Any, images: torch.Tensor, binary: bool = False) -> torch.Tensor:
    from vaelab.evaluation.classification import model_space

    return model_space(model, images, binary)


class ImageSession:
    """A trained image model (any kind whose model reads [C, H, W] images) and, when its data can
    be found, its test images. `load` is the run's kind's loader and `kind` its name (the command
    line finds both in the kinds registry)."""

    def __init__(self, run_dir: Path | str, load: RunLoader, kind: str, device: str = "cpu",
                 examples: int = SCATTER_POINTS, data_dir: str | None = None) -> None:
        self.run_dir = Path(run_dir)
        where = {} if data_dir is None else {"data_dir": data_dir}  # (a kind's load may not take it)
        try:
            self.model, self.config, splits = load(self.run_dir, device=device, data=True, **where)
            self.data_note = ""
        except DataError as error:
            self.model, self.config, splits = load(self.run_dir, device=device, data=False)
            self.data_note = f"test images unavailable ({str(error).splitlines()[0]})"
        self.model.eval()
        self.kind = kind
        self.shape = tuple(int(d) for d in self.model.data_shape)
        self.device = next(self.model.parameters()).device
        self.semisupervised = hasattr(self.model, "num_classes")
        self.single_latent = hasattr(self.model, "posterior") and hasattr(self.model, "latent_dim") \
            and not self.semisupervised
        #: a hierarchy's sliders move its top latent group, the groups below at their prior means
        self.top_group = not (self.single_latent or self.semisupervised) and hasattr(
            self.model, "decode_from_top")
        self.x_test: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        if splits is not None and getattr(splits, "test", None) is not None:
            from vaelab.evaluation.run import held_out_tensor

            self.x_test = held_out_tensor(self.model, splits, examples, self.device)
            labels = splits.test.labels
            self.labels = None if labels is None else labels[: self.x_test.shape[0]]
        self._set_up_directions()

    # --- latent directions -------------------------------------------------------------------
    @torch.no_grad()
    def _set_up_directions(self) -> None:
        """Slider directions: each latent dimension, or the top principal directions of the test
        images' posterior means (scaled by their spread) when there are more than MAX_SLIDERS."""
        self.directions: torch.Tensor | None = None
        self.centre: torch.Tensor | None = None
        self.means: torch.Tensor | None = None
        self.scatter_basis: torch.Tensor | None = None
        self.slider_names: list[str] = []
        if not (self.single_latent or self.semisupervised or self.top_group):
            return
        d = int(self.model.top_latent_dim if self.top_group else self.model.latent_dim)
        if self.x_test is not None:
            self.means = self._latent_means(self.x_test)
        if self.means is not None and self.means.shape[0] >= 2:
            centre = self.means.mean(0)
            _, s, v = torch.linalg.svd(self.means - centre, full_matrices=False)
            spread = s / math.sqrt(max(1, self.means.shape[0] - 1))
            basis = v * spread[:, None].clamp_min(1e-3)      # rows: principal directions × their std
            self.scatter_basis = v[:2]
        else:
            centre = torch.zeros(d, device=self.device)
            basis = torch.eye(d, device=self.device)
        if d <= MAX_SLIDERS:
            self.centre = torch.zeros(d, device=self.device)
            self.directions = torch.eye(d, device=self.device)
            self.slider_names = [f"z{i + 1}" for i in range(d)]
        else:
            self.centre, self.directions = centre, basis[:MAX_SLIDERS]
            self.slider_names = [f"PC{i + 1}" for i in range(MAX_SLIDERS)]

    def _latent_means(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[z | x] per image [N, d]; for semi-supervised models the style z of x in its most
        probable class."""
        if self.semisupervised:
            from vaelab.evaluation.classification import class_probabilities

            return self.model.style(x, class_probabilities(self.model, x).argmax(-1))
        if self.top_group:
            return self.model.top_guide(x).mean.reshape(x.shape[0], -1)
        return self.model.posterior(x).mean.reshape(x.shape[0], -1)

    def describe(self) -> dict[str, Any]:
        """What the page needs to lay itself out."""
        return {
            "run": self.run_dir.resolve().name, "kind": self.kind, "view": "image",
            "shape": list(self.shape), "sliders": self.slider_names,
            "slider_range": 3.0, "semisupervised": self.semisupervised,
            "classes": int(self.model.num_classes) if self.semisupervised else 0,
            "test_images": 0 if self.x_test is None else int(self.x_test.shape[0]),
            "note": self.data_note,
        }

    # --- answers -----------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, values: list[float], label: int = 0) -> dict[str, Any]:
        """E[x | z] at the latent position given by the slider values (for a semi-supervised
        model E[x | y = label, z])."""
        if self.directions is None or self.centre is None:
            raise ValueError("sliders need a model with one latent vector z or a top latent group")
        if len(values) != self.directions.shape[0]:
            raise ValueError(f"expected {self.directions.shape[0]} slider values, got {len(values)}")
        coords = torch.tensor(values, dtype=torch.float32, device=self.device).clamp(-5, 5)
        z = (self.centre + coords @ self.directions)[None]
        if self.semisupervised:
            classes = int(self.model.num_classes)
            if not 0 <= label < classes:
                raise ValueError(f"class must be in [0, {classes - 1}], got {label}")
            y = torch.nn.functional.one_hot(torch.tensor([label], device=self.device), classes).float()
            return {"image": png_data_url(display(self.model, self.model.decode_mean((y, z))))}
        if self.top_group:
            return {"image": png_data_url(display(self.model, self.model.decode_from_top(z)))}
        return {"image": png_data_url(display(self.model, self.model.decode_mean(z)))}

    @torch.no_grad()
    def sample(self, seed: int, count: int = 16) -> dict[str, Any]:
        """Draws z ~ p(z) decoded to E[x | z]."""
        generator = torch.Generator(device=self.device).manual_seed(int(seed))
        images = display(self.model, self.model.sample(count, generator))
        return {"image": png_data_url(images, columns=8, side=64)}

    @torch.no_grad()
    def scatter(self) -> dict[str, Any]:
        """The test images' posterior means projected on the first two principal directions."""
        if self.means is None or self.scatter_basis is None:
            return {"points": [], "labels": []}
        xy = ((self.means - self.means.mean(0)) @ self.scatter_basis.T).cpu()
        labels = [] if self.labels is None else self.labels.tolist()
        return {"points": xy.tolist(), "labels": labels}

    def score(self, picture: bytes, k: int) -> dict[str, Any]:
        """An image the user drew or uploaded: reconstruction, ELBO, IS log p(x) with k samples
        and the Pareto k̂ of their weights (with a warning when it is above 0.7), its place in the
        scatter; for semi-supervised runs q(y | x) and its style in every class."""
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be in [1, {MAX_K}], got {k}")
        images = decode_image(picture, self.shape)
        with torch.no_grad():
            x = _model_units(self.model, images).to(self.device)
            torch.manual_seed(0)
            bound = float(elbo(self.model, x).bound[0])
            estimate = importance_sampled_log_marginal(self.model, x, k)
            log_px, k_hat = float(estimate.log_px[0]), float(estimate.pareto_k[0])
            result: dict[str, Any] = {
                "input": png_data_url(display(self.model, x)),
                "reconstruction": png_data_url(display(self.model, self.model.reconstruct(x))),
                "elbo": bound, "log_px": log_px, "k": k,
                "pareto_k": k_hat if math.isfinite(k_hat) else None,
                "pareto_k_warning": single_k_hat_warning(k_hat, k),
            }
            if self.scatter_basis is not None and self.means is not None:
                mean = self._latent_means(x)
                result["position"] = ((mean - self.means.mean(0)) @ self.scatter_basis.T)[0].tolist()
            if self.semisupervised:
                from vaelab.evaluation.classification import analogies, class_probabilities

                probs = class_probabilities(self.model, x)[0]
                result["classes"] = probs.tolist()
                grid = analogies(self.model, x, probs.argmax()[None])[0, 1:]
                result["styles"] = png_data_url(display(self.model, grid), side=56)
        return result

    @torch.no_grad()
    def interpolate(self, first: int, second: int, steps: int = 8) -> dict[str, Any]:
        """Decoded points on the line between two test images' posterior means."""
        if self.x_test is None or not self.single_latent:
            raise ValueError("interpolation needs the run's test images and a model with one latent vector")
        n = self.x_test.shape[0]
        if not (0 <= first < n and 0 <= second < n):
            raise ValueError(f"test images are numbered 0 to {n - 1}")
        if not 2 <= steps <= 32:
            raise ValueError(f"steps must be in [2, 32], got {steps}")
        pair = self.model.posterior(self.x_test[[first, second]]).mean
        weights = torch.linspace(0, 1, steps, device=self.device)[:, None]
        z = (1 - weights) * pair[0] + weights * pair[1]
        row = torch.cat([self.x_test[[first]], self.model.decode_mean(z), self.x_test[[second]]])
        return {"image": png_data_url(display(self.model, row), side=56)}


__all__ = ["ImageSession", "MAX_SLIDERS", "decode_image", "png_data_url"]
