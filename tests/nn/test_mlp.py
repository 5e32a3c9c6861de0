from __future__ import annotations

import pytest
import torch

from vaelab.nn.mlp import MLP, unrepeated


def test_unrepeated_cuts_only_the_dims_that_repeat_one_entry() -> None:
    base = torch.randn(4, 6)
    repeated = base.expand(3, 4, 6)
    assert unrepeated(repeated).shape == (1, 4, 6)
    assert torch.equal(unrepeated(repeated)[0], base)
    fresh = torch.randn(3, 4, 6)
    assert unrepeated(fresh).shape == (3, 4, 6)


def test_forward_parts_equals_the_network_of_the_concatenation_values_and_gradients() -> None:
    torch.manual_seed(0)
    net = MLP((7 + 3 + 2,), (16, 8), 5, "elu", in_scale=0.5)
    x = torch.randn(4, 7, requires_grad=True)
    y = torch.eye(3)[:, None, :].expand(3, 4, 3)          # each class beside every image
    a = torch.randn(4, 2, requires_grad=True)
    parts = [x.expand(3, 4, 7), y, a.expand(3, 4, 2)]
    by_parts = net.forward_parts(parts)
    whole = net(torch.cat(parts, -1).reshape(12, 12)).reshape(3, 4, 5)
    torch.testing.assert_close(by_parts, whole)
    grads = torch.autograd.grad(by_parts.square().sum(), [x, a, net.layers[0].weight])
    expected = torch.autograd.grad(whole.square().sum(), [x, a, net.layers[0].weight])
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_forward_parts_refuses_parts_that_do_not_fill_the_first_layer() -> None:
    net = MLP((5,), (4,), 2)
    with pytest.raises(ValueError, match="add up to the first layer's 5 inputs"):
        net.forward_parts([torch.zeros(2, 3), torch.zeros(2, 1)])
