"""Integer networks: the values that select coding tables are exact integers, whatever computes them."""

import numpy as np
import pytest
import torch
from torch import nn

from cmfr_codec.models.integer import (
    ACTIVATION_BITS,
    ACTIVATION_LIMIT,
    WEIGHT_BITS,
    WEIGHT_LIMIT,
    IntegerConv2d,
    IntegerLeakyReLU,
    IntegerNetwork,
    IntegerPixelShuffle,
    integer_block,
    integer_hyper_synthesis,
)


def reference(network: IntegerNetwork, inputs: torch.Tensor) -> np.ndarray:
    """The fixed-point spec of docs/determinism.md in plain int64 numpy: what every device must compute."""
    units = np.floor(inputs.double().numpy() * (1 << ACTIVATION_BITS) + 0.5).astype(np.int64)
    units = np.clip(units, -ACTIVATION_LIMIT, ACTIVATION_LIMIT)
    for layer in network:
        if isinstance(layer, IntegerConv2d):
            weight = np.clip(np.round(layer.weight.detach().double().numpy() * (1 << WEIGHT_BITS)),
                             -WEIGHT_LIMIT, WEIGHT_LIMIT).astype(np.int64)
            bias = np.round(layer.bias.detach().double().numpy() * (1 << (ACTIVATION_BITS + WEIGHT_BITS)))
            units = _reference_convolution(units, weight, bias.astype(np.int64), layer.depthwise)
        elif isinstance(layer, IntegerLeakyReLU):
            units = np.where(units >= 0, units, units >> 3)
        elif isinstance(layer, IntegerPixelShuffle):
            units = nn.functional.pixel_shuffle(torch.from_numpy(units), layer.upscale_factor).numpy()
        else:
            raise AssertionError(f"unexpected layer {layer}")
    return units.astype(np.float64) / (1 << ACTIVATION_BITS)


def _reference_convolution(units: np.ndarray, weight: np.ndarray, bias: np.ndarray, depthwise: bool) -> np.ndarray:
    kernel = weight.shape[-1]
    radius = kernel // 2
    batch, channels, height, width = units.shape
    padded = np.pad(units, ((0, 0), (0, 0), (radius, radius), (radius, radius)))
    total = np.zeros((batch, weight.shape[0], height, width), dtype=np.int64) + bias[None, :, None, None]
    for row in range(kernel):
        for column in range(kernel):
            window = padded[:, :, row:row + height, column:column + width]
            if depthwise:
                total += window * weight[None, :, 0, row, column, None, None]
            else:
                total += np.einsum("oi,bihw->bohw", weight[:, :, row, column], window)
    return np.clip((total + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS, -ACTIVATION_LIMIT, ACTIVATION_LIMIT)


def trained_like(network: IntegerNetwork, seed: int) -> IntegerNetwork:
    """Weights of trained magnitude (about +-1, some large), so sums reach far beyond float32's 24 bits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.8)
    return network.eval()


def latent_like(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Decoded-latent-like inputs: integers plus means on the 1/256 grid, a few large."""
    generator = torch.Generator().manual_seed(seed)
    return torch.round(torch.randn(shape, generator=generator) * 40 * 256) / 256


NETWORKS = {
    "quadtree step": lambda: integer_block(24, 32, 16),
    "hyper synthesis": lambda: integer_hyper_synthesis(8, 12),
    "temporal prior": lambda: IntegerNetwork(IntegerConv2d(12, 12, 3), IntegerLeakyReLU(), IntegerConv2d(12, 12, 3)),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_coding_path_equals_the_int64_fixed_point_spec(name):
    network = trained_like(NETWORKS[name](), seed=1)
    inputs = latent_like((2, network[0].weight.shape[1], 6, 10), seed=2)
    out = network.coding(inputs)
    assert out.dtype == torch.float64
    np.testing.assert_array_equal(out.numpy(), reference(network, inputs))


@pytest.mark.parametrize("name", NETWORKS)
def test_training_forward_computes_the_coding_function_bit_for_bit(name):
    network = trained_like(NETWORKS[name](), seed=3)
    inputs = latent_like((1, network[0].weight.shape[1], 8, 8), seed=4)
    with torch.no_grad():
        trained = network(inputs)
    assert trained.dtype == torch.float32
    assert torch.equal(trained.double(), network.coding(inputs))


def test_outputs_do_not_depend_on_the_order_a_library_sums_in():
    """Reversing the input channels (and the weights with them) changes every GEMM's summation order."""
    network = trained_like(integer_block(48, 32, 8, depthwise_layers=1), seed=5)
    inputs = latent_like((1, 48, 5, 7), seed=6)
    reversed_network = trained_like(integer_block(48, 32, 8, depthwise_layers=1), seed=5)
    with torch.no_grad():
        reversed_network[0].weight.copy_(network[0].weight.flip(1))
    assert torch.equal(reversed_network.coding(inputs.flip(1)), network.coding(inputs))


def test_autocast_does_not_reach_the_integer_arithmetic():
    network = trained_like(integer_block(16, 16, 8), seed=7)
    inputs = latent_like((1, 16, 6, 6), seed=8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = network(inputs)
    assert torch.equal(under_autocast.double(), network.coding(inputs))


def test_training_forward_passes_gradients_to_weights_and_inputs():
    network = trained_like(integer_hyper_synthesis(4, 8), seed=9).train()
    inputs = latent_like((1, 4, 3, 3), seed=10).requires_grad_()
    network(inputs).square().sum().backward()
    assert inputs.grad is not None and bool(inputs.grad.abs().sum() > 0)
    assert all(parameter.grad is not None and bool(parameter.grad.abs().sum() > 0)
               for parameter in network.parameters())


def test_the_float_path_is_a_plain_float_network():
    network = trained_like(integer_block(8, 8, 4, quantized=False), seed=11)
    inputs = torch.randn(1, 8, 4, 4)
    assert not network.quantized
    with torch.no_grad():
        assert torch.equal(network.coding(inputs), network(inputs))
    assert network.coding(inputs).dtype == torch.float32


def test_a_fan_in_too_large_for_exact_sums_is_refused():
    with pytest.raises(ValueError, match="fan-in"):
        IntegerConv2d(10_000, 8, 3)
