"""Building-block layers and the YUV 4:2:0 <-> 6-channel tensor layout."""

import numpy as np
import pytest
import torch
from clips import example_frames

from cmfr_codec.models.layers import (
    DepthwiseBlock,
    PointwiseConv2d,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    crop_to,
    pad_to_multiple,
    subpixel_conv3x3,
    tensor_to_yuv420,
    yuv420_to_tensor,
)


def random_planes(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return (
        rng.integers(0, 256, (height, width), dtype=np.uint8),
        rng.integers(0, 256, chroma, dtype=np.uint8),
        rng.integers(0, 256, chroma, dtype=np.uint8),
    )


def assert_same_planes(restored: tuple[np.ndarray, ...], original: tuple[np.ndarray, ...]) -> None:
    for restored_plane, original_plane in zip(restored, original, strict=True):
        assert restored_plane.dtype == np.uint8
        assert np.array_equal(restored_plane, original_plane)


def assert_every_parameter_gets_a_finite_gradient(module: torch.nn.Module, output: torch.Tensor) -> None:
    output.square().mean().backward()
    for name, parameter in module.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("block_type", [ResidualBlock, DepthwiseBlock])
def test_same_size_blocks_keep_shape_on_an_odd_size_and_pass_gradients(block_type: type[torch.nn.Module]):
    torch.manual_seed(0)
    block = block_type(8)
    x = torch.randn(2, 8, 21, 15)
    out = block(x)
    assert out.shape == x.shape
    assert_every_parameter_gets_a_finite_gradient(block, out)


@pytest.mark.parametrize("block_type", [ResidualBlock, DepthwiseBlock])
def test_same_size_blocks_are_the_identity_when_their_last_convs_are_zero(block_type: type[torch.nn.Module]):
    torch.manual_seed(0)
    block = block_type(8)
    last_convs = (
        [block.conv2] if isinstance(block, ResidualBlock) else [block.spatial[-1], block.feed_forward[-1]]
    )
    with torch.no_grad():
        for conv in last_convs:
            conv.weight.zero_()
            conv.bias.zero_()
    x = torch.randn(1, 8, 16, 16)
    assert torch.equal(block(x), x)


def test_pointwise_conv_on_channels_last_input_is_the_same_map_in_the_same_layout():
    torch.manual_seed(0)
    pointwise = PointwiseConv2d(12, 20, kernel_size=1)
    x = torch.randn(2, 12, 9, 14).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        fast = pointwise(x)
        reference = torch.nn.functional.conv2d(x.contiguous(), pointwise.weight, pointwise.bias)
    assert fast.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)


def test_pointwise_conv_with_a_stride_or_a_planar_input_is_torchs_convolution():
    torch.manual_seed(0)
    strided = PointwiseConv2d(6, 4, kernel_size=1, stride=2)
    x = torch.randn(1, 6, 10, 12)
    with torch.no_grad():
        assert torch.equal(strided(x), torch.nn.functional.conv2d(x, strided.weight, strided.bias, stride=2))
        planar = PointwiseConv2d(6, 4, kernel_size=1)
        assert torch.equal(planar(x), torch.nn.functional.conv2d(x, planar.weight, planar.bias))


def test_the_depthwise_block_is_much_cheaper_than_a_residual_block():
    def parameter_count(module: torch.nn.Module) -> int:
        return sum(parameter.numel() for parameter in module.parameters())

    assert parameter_count(DepthwiseBlock(64)) < parameter_count(ResidualBlock(64)) / 2


def test_strided_block_halves_the_size_and_changes_channels():
    torch.manual_seed(0)
    block = ResidualBlockWithStride(8, 16)
    out = block(torch.randn(2, 8, 40, 56))
    assert out.shape == (2, 16, 20, 28)
    assert_every_parameter_gets_a_finite_gradient(block, out)


def test_strided_block_with_stride_one_and_equal_channels_has_an_identity_shortcut():
    block = ResidualBlockWithStride(8, 8, stride=1)
    assert isinstance(block.shortcut, torch.nn.Identity)
    assert block(torch.randn(1, 8, 12, 12)).shape == (1, 8, 12, 12)


def test_upsample_block_doubles_the_size_and_changes_channels():
    torch.manual_seed(0)
    block = ResidualBlockUpsample(16, 8)
    out = block(torch.randn(2, 16, 20, 28))
    assert out.shape == (2, 8, 40, 56)
    assert_every_parameter_gets_a_finite_gradient(block, out)


def test_subpixel_conv_puts_each_conv_output_channel_block_on_one_subpixel_phase():
    torch.manual_seed(0)
    layer = subpixel_conv3x3(4, 2, 3)
    x = torch.randn(1, 4, 5, 7)
    out = layer(x)
    assert out.shape == (1, 2, 15, 21)
    conv_out = layer[0](x)
    assert torch.equal(out[0, 1, 2::3, 1::3], conv_out[0, 1 * 9 + 2 * 3 + 1])


def test_unet_maps_in_channels_to_out_channels_at_the_same_size():
    torch.manual_seed(0)
    unet = UNet(6, 3, channels=(8, 12, 16))
    out = unet(torch.randn(2, 6, 40, 56))
    assert out.shape == (2, 3, 40, 56)
    assert_every_parameter_gets_a_finite_gradient(unet, out)


@pytest.mark.parametrize("size", [(42, 56), (40, 54), (33, 17)])
def test_unet_rejects_sizes_that_are_not_multiples_of_four(size: tuple[int, int]):
    with pytest.raises(ValueError, match="multiple of 4"):
        UNet(6, 3, channels=(8, 8, 8))(torch.zeros(1, 6, *size))


def test_unet_skip_connections_reach_the_output_when_the_bottleneck_is_cut():
    torch.manual_seed(0)
    unet = UNet(2, 2, channels=(8, 8, 8))
    with torch.no_grad():
        unet.up2[0].weight.zero_()
        unet.up2[0].bias.zero_()
    x = torch.randn(1, 2, 16, 16, requires_grad=True)
    unet(x)[0, 0, 5, 5].backward()
    assert x.grad[0, :, 5, 5].abs().sum() > 0


def test_pad_to_multiple_replicates_the_last_row_and_column():
    x = torch.arange(3 * 5, dtype=torch.float32).reshape(1, 1, 3, 5)
    padded, (pad_bottom, pad_right) = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 4, 8)
    assert (pad_bottom, pad_right) == (1, 3)
    assert torch.equal(padded[..., 3, :5], x[..., 2, :])
    assert torch.equal(padded[..., :3, 5:], x[..., :, 4:5].expand(-1, -1, -1, 3))


def test_pad_to_multiple_leaves_conforming_tensors_unchanged():
    x = torch.randn(2, 3, 8, 16)
    padded, padding = pad_to_multiple(x, 8)
    assert padding == (0, 0)
    assert torch.equal(padded, x)


def test_crop_to_undoes_pad_to_multiple():
    x = torch.randn(1, 6, 17, 29)
    padded, _ = pad_to_multiple(x, 16)
    assert torch.equal(crop_to(padded, 17, 29), x)


def test_crop_to_refuses_to_grow_a_tensor():
    with pytest.raises(ValueError, match="cannot crop"):
        crop_to(torch.zeros(1, 1, 4, 4), 5, 4)


def test_frame_tensor_layout_is_luma_phases_then_u_then_v_in_unit_range():
    y, u, v = random_planes(8, 6, seed=1)
    t = yuv420_to_tensor(y, u, v)
    assert t.shape == (1, 6, 3, 4)
    assert t.dtype == torch.float32
    expected_channels = [y[0::2, 0::2], y[0::2, 1::2], y[1::2, 0::2], y[1::2, 1::2], u, v]
    for channel, plane in enumerate(expected_channels):
        assert torch.equal(t[0, channel], torch.from_numpy(plane).float() / 255), channel


def test_odd_luma_sizes_are_padded_by_replicating_the_last_row_and_column():
    y, u, v = random_planes(5, 3, seed=2)
    t = yuv420_to_tensor(y, u, v)
    assert t.shape == (1, 6, 2, 3)
    bottom_right_phase = t[0, 3]
    assert bottom_right_phase[1, 2] == float(y[2, 4]) / 255
    assert torch.equal(bottom_right_phase[1, :2], torch.from_numpy(y[2, 1:4:2]).float() / 255)


@pytest.mark.parametrize("size", [(64, 48), (33, 17), (17, 33), (1, 1), (2, 3)])
def test_planes_round_trip_exactly_through_the_tensor_layout(size: tuple[int, int]):
    width, height = size
    planes = random_planes(width, height, seed=width * 100 + height)
    assert_same_planes(tensor_to_yuv420(yuv420_to_tensor(*planes), height, width), planes)


def test_every_8_bit_value_round_trips_exactly():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    y = np.repeat(np.repeat(values, 2, axis=0), 2, axis=1)
    assert_same_planes(tensor_to_yuv420(yuv420_to_tensor(y, values, values), 32, 32), (y, values, values))


def test_real_frames_round_trip_exactly_at_an_odd_size():
    frame = example_frames(1, width=33, height=17)[0]
    assert_same_planes(tensor_to_yuv420(yuv420_to_tensor(frame.y, frame.u, frame.v), 17, 33), frame.planes())


def test_output_is_clamped_and_rounded_to_the_nearest_8_bit_value():
    t = torch.tensor([-0.3, 1.7, 100.4 / 255, 100.6 / 255, 7.0 / 255, 0.0]).reshape(1, 6, 1, 1)
    y, u, v = tensor_to_yuv420(t, 2, 2)
    assert y.tolist() == [[0, 255], [100, 101]]
    assert (u.tolist(), v.tolist()) == ([[7]], [[0]])


def test_output_is_cropped_from_a_padded_tensor():
    y, u, v = random_planes(33, 17, seed=3)
    padded, _ = pad_to_multiple(yuv420_to_tensor(y, u, v), 8)
    back = tensor_to_yuv420(padded, 17, 33)
    assert [plane.shape for plane in back] == [(17, 33), (9, 17), (9, 17)]
    assert np.array_equal(back[0], y)


def test_mismatched_chroma_planes_are_rejected():
    y, u, v = random_planes(8, 8, seed=4)
    with pytest.raises(ValueError, match="chroma planes"):
        yuv420_to_tensor(y, u[:3], v)


def test_non_8_bit_planes_are_rejected():
    y, u, v = random_planes(8, 8, seed=5)
    with pytest.raises(ValueError, match="uint8"):
        yuv420_to_tensor(y.astype(np.uint16), u, v)


def test_a_tensor_smaller_than_the_frame_is_rejected():
    with pytest.raises(ValueError, match="too small"):
        tensor_to_yuv420(torch.zeros(1, 6, 4, 4), 10, 8)


def test_a_tensor_that_is_not_one_six_channel_frame_is_rejected():
    with pytest.raises(ValueError, match="expected"):
        tensor_to_yuv420(torch.zeros(2, 6, 4, 4), 8, 8)
