"""`vaelab.report` of a model trained with `vaelab.fit`, including one whose examples are not images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vaelab
from vaelab.models import LinearGaussianModel


def test_a_model_of_vectors_gets_a_report_without_pictures(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = torch.randn(64, 5, generator=torch.Generator().manual_seed(1))
    model = LinearGaussianModel(5, 2)
    vaelab.fit(model, data[:48], valid=data[48:], epochs=2, batch_size=16, run_dir=tmp_path / "run",
               progress=False, log=lambda _: None)
    page = vaelab.report(model, tmp_path / "run", data[48:], k=8, progress=False).read_text()
    assert "importance" in page.lower() and "Training curves" in page
    for picture in ("Samples from the prior", "Reconstructions", "Interpolations", "Latent traversals"):
        assert picture not in page
    with pytest.raises(FileNotFoundError, match="elsewhere is not a folder"):
        vaelab.report(model, tmp_path / "elsewhere", data[48:], k=8, progress=False)
