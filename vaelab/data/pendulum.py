"""The `pendulum` dataset: image sequences of a damped, driven pendulum with their true states.

θ̈ = −(g/L) sin θ − b θ̇ + u(t) (see pendulum_physics), rendered at 32×32 (pendulum_render).
Each split is simulated from its own seed, so the data need no download: the defaults below
*are* the embedded dataset, generated in seconds and cached as uint8 arrays in an .npz file
together with the parameters that made them (regenerated when those differ).

Default splits: train 2,000 × 50 frames, validation 200 × 50, test 500 × 100 (prediction beyond
the training length). θ₀ ~ U(−π, π) and ω₀ ~ U(−2, 2) rad/s, so full rotations happen.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import torch

from vaelab.atomic_files import temporary_beside
from vaelab.data.errors import DataError
from vaelab.data.pendulum_config import PENDULUM as PENDULUM
from vaelab.data.pendulum_config import SPLITS as SPLITS
from vaelab.data.pendulum_config import PendulumConfig as PendulumConfig
from vaelab.data.pendulum_physics import integrate, sample_forces
from vaelab.data.pendulum_render import Geometry, render, to_uint8
from vaelab.data.roots import cache_root

CACHE_FORMAT: Final = "vaelab-pendulum-1"



@dataclass(frozen=True, eq=False)
class SequenceSet:
    """One split of image sequences with the truth that generated them.

    frames uint8 [N, T, 1, H, W]; actions float32 [N, T, 1] (u_t, the torque applied between
    frames t−1 and t); states float32 [N, T, 2] = (θ, ω), θ unwrapped; mask bool [N, T] (False
    where a frame was dropped: its pixels are 0 and carry no information); dt seconds per frame.
    """

    frames: torch.Tensor
    actions: torch.Tensor
    states: torch.Tensor
    mask: torch.Tensor
    name: str
    dt: float = 0.05

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, torch.Tensor) or f.dtype != torch.uint8 or f.dim() != 5 or f.shape[2] != 1:
            raise DataError(f"SequenceSet {self.name!r}: frames must be uint8 [N, T, 1, H, W], got "
                            f"{getattr(f, 'dtype', type(f).__name__)} {tuple(getattr(f, 'shape', ()))}")
        n, t = f.shape[:2]
        for field_name, shape in (("actions", (n, t, 1)), ("states", (n, t, 2)), ("mask", (n, t))):
            value = getattr(self, field_name)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
                raise DataError(f"SequenceSet {self.name!r}: {field_name} must have shape {shape}, "
                                f"got {tuple(getattr(value, 'shape', ()))}")
        if self.mask.dtype != torch.bool:
            raise DataError(f"SequenceSet {self.name!r}: mask must be bool, got {self.mask.dtype}")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def length(self) -> int:
        """Frames per sequence, T."""
        return int(self.frames.shape[1])

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one frame."""
        _, _, c, h, w = self.frames.shape
        return int(c), int(h), int(w)

    def subset(self, index: torch.Tensor | slice) -> SequenceSet:
        """The sequences at `index`."""
        return SequenceSet(self.frames[index], self.actions[index], self.states[index],
                           self.mask[index], self.name, self.dt)

    def window(self, start: int, stop: int) -> SequenceSet:
        """Frames start..stop−1 of every sequence."""
        if not 0 <= start < stop <= self.length:
            raise DataError(f"SequenceSet {self.name!r}: window [{start}, {stop}) outside "
                            f"[0, {self.length})")
        return SequenceSet(self.frames[:, start:stop], self.actions[:, start:stop],
                           self.states[:, start:stop], self.mask[:, start:stop], self.name, self.dt)


def simulate(config: PendulumConfig, count: int, steps: int, seed: int | tuple[int, ...],
             name: str = PENDULUM) -> SequenceSet:
    """`count` sequences of `steps` frames from independent seeded streams.

    Initial state, forces, process noise, pixel noise and drops each use their own child stream
    of `seed`, so switching one option on does not change what the others draw.
    """
    if count < 0 or steps < 1:
        raise DataError(f"pendulum: need count >= 0 and steps >= 1 (sequence length), got "
                        f"count={count}, steps={steps}")
    streams = np.random.SeedSequence(seed).spawn(5)
    g_init, g_force, g_process, g_pixel, g_drop = (np.random.default_rng(s) for s in streams)
    theta0 = g_init.uniform(-np.pi, np.pi, size=count)
    omega0 = g_init.uniform(-config.max_initial_speed, config.max_initial_speed, size=count)
    actions = sample_forces(config.force, count, steps, config.dt, g_force, config.max_torque)
    applied = actions if config.torque_applied else np.zeros_like(actions)  # recorded either way
    states = integrate(theta0, omega0, applied, config.physics, config.dt, config.substeps,
                       config.process_noise, g_process)
    frames = render(states[..., 0], config.image_size, Geometry())
    if config.pixel_noise > 0:
        frames = frames + config.pixel_noise * g_pixel.standard_normal(frames.shape, dtype=np.float32)
    mask = np.ones((count, steps), dtype=bool)
    if config.drop_probability > 0:
        mask = g_drop.random((count, steps)) >= config.drop_probability
        frames = frames * mask[..., None, None]
    return SequenceSet(
        frames=torch.from_numpy(to_uint8(frames)[:, :, None]),
        actions=torch.from_numpy(actions[..., None].astype(np.float32)),
        states=torch.from_numpy(states.astype(np.float32)),
        mask=torch.from_numpy(mask),
        name=name,
        dt=config.dt,
    )


def generate_splits(config: PendulumConfig) -> dict[str, SequenceSet]:
    """Train, valid and test splits, each seeded by (config.seed, split index)."""
    out: dict[str, SequenceSet] = {}
    for index, split in enumerate(SPLITS):
        count, steps = getattr(config, f"{split}_sequences"), getattr(config, f"{split}_length")
        out[split] = simulate(config, count, steps, (config.seed, index), f"{PENDULUM}/{split}")
    return out


def save_splits(path: Path, splits: dict[str, SequenceSet], config: PendulumConfig) -> Path:
    """Write splits as uint8/float arrays plus the config (JSON) to one compressed .npz."""
    arrays: dict[str, np.ndarray] = {"config": np.array(json.dumps(config.to_dict())),
                                     "format": np.array(CACHE_FORMAT)}
    for split, data in splits.items():
        arrays[f"{split}_frames"] = data.frames.numpy()
        arrays[f"{split}_actions"] = data.actions.numpy()
        arrays[f"{split}_states"] = data.states.numpy()
        arrays[f"{split}_mask"] = data.mask.numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = temporary_beside(path, suffix=".tmp.npz")  # ranks or jobs filling one cache at once
    try:
        np.savez_compressed(name, **arrays)
        os.replace(name, path)
    except BaseException:
        name.unlink(missing_ok=True)
        raise
    return path


def read_splits(path: Path) -> tuple[PendulumConfig, dict[str, SequenceSet]]:
    """Read what `save_splits` wrote; a damaged or foreign file is a DataError."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["format"]) != CACHE_FORMAT:
                raise DataError(f"{path}: not a vaelab pendulum file (format {archive['format']})")
            config = PendulumConfig.from_dict(json.loads(str(archive["config"])))
            splits = {
                split: SequenceSet(
                    frames=torch.from_numpy(archive[f"{split}_frames"]),
                    actions=torch.from_numpy(archive[f"{split}_actions"]),
                    states=torch.from_numpy(archive[f"{split}_states"]),
                    mask=torch.from_numpy(archive[f"{split}_mask"]),
                    name=f"{PENDULUM}/{split}",
                    dt=config.dt,
                )
                for split in SPLITS if f"{split}_frames" in archive
            }
    except (OSError, KeyError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: unreadable pendulum file ({error}); delete it to regenerate") from error
    return config, splits


def cache_path(config: PendulumConfig, data_dir: str | Path | None = None) -> Path:
    """Where this config's data are cached: <data_dir or cache_root()>/pendulum/<digest>.npz."""
    root = Path(data_dir).expanduser() if data_dir else cache_root()
    return root / PENDULUM / f"{PENDULUM}-{config.digest()}.npz"


def load_pendulum(
    config: PendulumConfig | None = None,
    data_dir: str | Path | None = None,
    cache: bool = True,
) -> dict[str, SequenceSet]:
    """The splits for `config` (default: the embedded default dataset), cached when possible.

    A cache file whose stored parameters differ from `config` is regenerated; an unwritable
    cache folder only means the data are simulated again next time.
    """
    config = config or PendulumConfig()
    path = cache_path(config, data_dir)
    if cache and path.is_file():
        try:
            stored, splits = read_splits(path)
            if stored == config and set(splits) == set(SPLITS):
                return splits
        except DataError:
            pass  # damaged: regenerate below
    splits = generate_splits(config)
    if cache:
        try:
            save_splits(path, splits, config)
        except OSError:
            pass
    return splits


def placebo(data: SequenceSet, seed: int = 0) -> SequenceSet:
    """The same sequences with the torque of another sequence: a seeded derangement, so that no
    sequence keeps its own recorded torque (needs at least two sequences). A model told this
    torque drives the state can only use it if torques of other sequences predict this one."""
    n = len(data)
    if n < 2:
        raise DataError("a placebo needs at least two sequences to exchange torques")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    others = order.roll(1)  # a cycle through a random order: every sequence gets another's torque
    source = torch.empty(n, dtype=torch.long)
    source[order] = others
    return SequenceSet(data.frames, data.actions[source], data.states, data.mask, f"{data.name}+placebo",
                       data.dt)
