"""The inter codec: every CMFR switch trains and codes, the decoder rebuilds the encoder's frames and
reference buffers exactly, and the next reference feature is what the CMFR method says it is."""

import dataclasses
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from clips import example_frames

from cmfr_codec.models.config import TINY, InterConfig
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.inter import InterCodec
from cmfr_codec.models.intra import IntraCodec
from cmfr_codec.models.layers import yuv420_to_tensor
from cmfr_codec.models.motion import warp

REPOSITORY = Path(__file__).resolve().parents[1]
STREAM_NAMES = {"motion", "frame"}
DPB_FIELDS = ("frame", "feature", "motion_feature", "latent", "motion_latent")
FLAG_COMBINATIONS = [
    dict(zip(("feature_residual", "sff", "motion_refiner"), flags, strict=True))
    for flags in itertools.product((True, False), repeat=3)
] + [{"integer_entropy": False}]


@pytest.fixture(scope="module")
def frames() -> list[torch.Tensor]:
    """Three consecutive real 64x64 crops of the example clip: (1, 6, 32, 32), a multiple of 32 already."""
    return [yuv420_to_tensor(frame.y, frame.u, frame.v) for frame in example_frames(3, width=64, height=64)]


def build(seed: int = 0, **flags: bool) -> InterCodec:
    torch.manual_seed(seed)
    model = InterCodec(dataclasses.replace(TINY.inter, **flags)).eval()
    model.update_tables()
    return model


@pytest.fixture(scope="module")
def codec() -> InterCodec:
    return build()


def assert_same_dpb(decoded: DecodedPictureBuffer, encoded: DecodedPictureBuffer) -> None:
    for name in DPB_FIELDS:
        assert torch.equal(getattr(decoded, name), getattr(encoded, name)), name


@pytest.mark.parametrize("flags", FLAG_COMBINATIONS, ids=lambda flags: "-".join(
    f"{name}={'on' if value else 'off'}" for name, value in flags.items()))
def test_every_combination_of_the_cmfr_switches_trains_and_round_trips_two_p_frames_exactly(frames, flags):
    model = build(**flags).train()
    batch = torch.cat([frames[1], frames[2]])
    output = model(batch, DecodedPictureBuffer(frame=torch.cat([frames[0], frames[1]])),
                   quality_index=torch.tensor([10.0, 50.0]))
    loss = torch.mean((output.x_hat - batch) ** 2) + 0.01 * output.bpp
    loss.backward()
    assert bool(torch.isfinite(loss))
    without_gradient = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert without_gradient == []
    assert all(bool(torch.isfinite(parameter.grad).all()) for parameter in model.parameters())

    model.eval()
    encoder_dpb = decoder_dpb = DecodedPictureBuffer(frame=frames[0])
    for x in frames[1:]:
        encoded, streams = model.compress(x, encoder_dpb, 30)
        decoded = model.decompress(streams, decoder_dpb, 30)
        assert torch.equal(decoded.x_hat, encoded.x_hat)
        assert_same_dpb(decoded.dpb, encoded.dpb)
        encoder_dpb, decoder_dpb = encoded.dpb, decoded.dpb


def test_an_i_frame_and_two_p_frames_are_rebuilt_from_their_streams_alone(codec, frames):
    torch.manual_seed(1)
    intra = IntraCodec(TINY.intra).eval()
    intra.update_tables()
    intra_encoded, intra_streams = intra.compress(frames[0], 40)
    encoder_dpb = DecodedPictureBuffer(frame=intra_encoded.x_hat)
    records = []
    for x in frames[1:]:
        encoded, streams = codec.compress(x, encoder_dpb, 40)
        records.append((encoded, streams))
        encoder_dpb = encoded.dpb

    intra_decoded = intra.decompress(intra_streams, 40, *frames[0].shape[-2:])
    assert torch.equal(intra_decoded.x_hat, intra_encoded.x_hat)
    decoder_dpb = DecodedPictureBuffer(frame=intra_decoded.x_hat)
    for encoded, streams in records:
        decoded = codec.decompress(streams, decoder_dpb, 40)
        assert torch.equal(decoded.x_hat, encoded.x_hat)
        assert_same_dpb(decoded.dpb, encoded.dpb)
        decoder_dpb = decoded.dpb


def test_a_p_frame_writes_exactly_the_motion_and_frame_streams(codec, frames):
    _, streams = codec.compress(frames[1], DecodedPictureBuffer(frame=frames[0]), 20)
    assert set(streams) == STREAM_NAMES
    assert all(isinstance(data, bytes) for data in streams.values())


def test_the_next_dpb_holds_the_reconstructed_feature_decoded_residual_plus_masked_prediction(frames):
    """CMFR: F_hat = R_hat + m * P becomes the next reference feature (not the generator's feature)."""
    model = build()
    seen = {}
    hooks = [
        getattr(model, name).register_forward_hook(lambda _module, _inputs, output, name=name: seen.update({name: output}))
        for name in ("contextual_decoder", "feature_predictor", "mask_network")
    ]
    hooks.append(model.projection.register_forward_hook(
        lambda _module, inputs, _output: seen.update(projection_input=inputs[0])))
    decoded, _ = model.compress(frames[1], DecodedPictureBuffer(frame=frames[0]), 30)
    for hook in hooks:
        hook.remove()
    expected = seen["contextual_decoder"] + torch.sigmoid(seen["mask_network"]) * seen["feature_predictor"]
    assert decoded.dpb.feature.shape == (1, TINY.inter.feature_channels, 32, 32)
    assert torch.allclose(decoded.dpb.feature, expected, atol=1e-6)
    assert not torch.allclose(decoded.dpb.feature, seen["projection_input"])


def test_without_feature_residual_the_next_dpb_holds_the_frame_generators_feature(frames):
    model = build(feature_residual=False)
    seen = {}
    hook = model.projection.register_forward_hook(lambda _module, inputs, _output: seen.update(generated=inputs[0]))
    decoded, _ = model.compress(frames[1], DecodedPictureBuffer(frame=frames[0]), 30)
    hook.remove()
    assert torch.equal(decoded.dpb.feature, seen["generated"])


def test_switching_a_method_off_removes_its_networks():
    full = build()
    assert full.motion_refiner is not None and hasattr(full, "mask_network")
    assert build(motion_refiner=False).motion_refiner is None
    assert not hasattr(build(feature_residual=False), "mask_network")
    assert not hasattr(build(sff=False).contextual_encoder.fuse1, "projection")


def test_only_the_float_path_conditions_the_frame_prior_on_the_motion_compensated_context():
    assert build().context_prior is None
    assert build(integer_entropy=False).context_prior is not None


def test_forward_reports_rate_per_luma_pixel_and_the_warped_reference_for_the_motion_loss(codec, frames):
    reference = DecodedPictureBuffer(frame=frames[0])
    with torch.no_grad():
        output = codec(frames[1], reference, 30, quantization="ste")
    assert set(output.likelihoods) == {"motion_y", "motion_z", "y", "z"}
    expected_bits = -sum(likelihoods.log2().sum() for likelihoods in output.likelihoods.values())
    assert torch.allclose(output.bits, expected_bits)
    assert torch.allclose(output.bpp, output.bits / (4 * 32 * 32))
    assert output.flow.shape == (1, 2, 32, 32)
    assert torch.equal(output.warped, warp(frames[0], output.flow))
    assert output.x_hat.shape == frames[1].shape


def test_forward_reports_the_flow_estimators_own_output_for_distilling_a_teacher_into_it(frames):
    model = build()
    for level_net in model.flow_estimator.level_nets:
        torch.nn.init.normal_(level_net[-1].weight, std=0.01)  # not the untrained estimator's zero flow
    with torch.no_grad():
        output = model(frames[1], DecodedPictureBuffer(frame=frames[0]), 30, quantization="ste")
        estimated = model.flow_estimator(frames[1], frames[0])
    assert estimated.abs().max() > 0
    assert torch.equal(output.estimated_flow, estimated)
    assert not torch.equal(output.flow, estimated), "the flow the contexts use went through motion coding"


def test_forward_motion_codes_a_given_flow_in_place_of_the_estimators(frames):
    model = build()
    reference = DecodedPictureBuffer(frame=frames[0])
    given = torch.full((1, 2, *frames[1].shape[-2:]), 40.0)  # far from the untrained estimator's zero flow
    with torch.no_grad():
        own = model(frames[1], reference, 30, quantization="ste")
        forced = model(frames[1], reference, 30, quantization="ste", flow=given)
    assert torch.equal(forced.estimated_flow, given)
    assert own.estimated_flow.abs().max() == 0
    assert not torch.equal(forced.likelihoods["motion_y"], own.likelihoods["motion_y"])


def test_compress_reconstructs_what_forward_with_rounding_reconstructs(codec, frames):
    reference = DecodedPictureBuffer(frame=frames[0])
    encoded, _ = codec.compress(frames[1], reference, 45)
    with torch.no_grad():
        trained_path = codec(frames[1], reference, 45, quantization="ste")
    assert torch.allclose(encoded.x_hat, trained_path.x_hat, atol=1e-4)


def test_a_frame_not_padded_to_the_model_multiple_is_rejected(codec):
    x = torch.zeros(1, 6, 24, 32)
    with pytest.raises(ValueError, match="multiple of 32"):
        codec(x, DecodedPictureBuffer(frame=x), 10)


def test_a_reference_of_another_size_is_rejected(codec, frames):
    with pytest.raises(ValueError, match="does not match"):
        codec.compress(frames[1], DecodedPictureBuffer(frame=torch.zeros(1, 6, 64, 32)), 10)


def test_compress_codes_one_frame_at_a_time(codec):
    x = torch.zeros(2, 6, 32, 32)
    with pytest.raises(ValueError, match="one frame"):
        codec.compress(x, DecodedPictureBuffer(frame=x), 10)


def test_inter_config_rejects_a_first_context_width_the_alignment_groups_cannot_split():
    with pytest.raises(ValueError, match="^context_channels:"):
        dataclasses.replace(TINY.inter, context_channels=(6, 8, 8), alignment_groups=4)


CHILD = """
import sys
import torch
torch.set_num_threads(1)
from cmfr_codec.models.config import InterConfig
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.inter import InterCodec
saved = torch.load(sys.argv[1])
codec = InterCodec(InterConfig.from_dict(saved["config"])).eval()
codec.load_state_dict(saved["state_dict"])
decoded = codec.decompress(saved["streams"], DecodedPictureBuffer(**saved["dpb"]), saved["quality_index"])
torch.save({"x_hat": decoded.x_hat, **{name: getattr(decoded.dpb, name) for name in saved["fields"]}}, sys.argv[2])
"""


def test_another_process_on_one_thread_decodes_exactly_the_same_floats(codec, frames, tmp_path):
    """The second P-frame (a full DPB as reference), encoded on two threads, decoded in a child
    process on one.  Coding runs single-threaded whatever the caller asks (cmfr_codec.determinism);
    the parent's thread count is still set to two so the two processes are configured differently."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first, _ = codec.compress(frames[1], DecodedPictureBuffer(frame=frames[0]), 33)
        encoded, streams = codec.compress(frames[2], first.dpb, 33)
    finally:
        torch.set_num_threads(threads)
    reference = {name: getattr(first.dpb, name) for name in DPB_FIELDS}
    torch.save({"config": codec.config.to_dict(), "state_dict": codec.state_dict(), "streams": streams,
                "dpb": reference, "quality_index": 33, "fields": DPB_FIELDS}, tmp_path / "encoded.pt")
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPOSITORY))
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "encoded.pt"), str(tmp_path / "decoded.pt")],
                           env=environment, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    decoded = torch.load(tmp_path / "decoded.pt")
    assert torch.equal(decoded["x_hat"], encoded.x_hat)
    for name in DPB_FIELDS:
        assert torch.equal(decoded[name], getattr(encoded.dpb, name)), name
    assert InterConfig.from_dict(codec.config.to_dict()) == codec.config
