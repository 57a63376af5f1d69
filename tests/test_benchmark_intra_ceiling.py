"""benchmarks/intra_ceiling.py: the intra codec's I-frames with the latent rounded and unrounded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from benchmark_modules import load_benchmark, table_rows, tiny_weights

from cmfr_codec.training import trainer

intra_ceiling = load_benchmark("intra_ceiling")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"


class HalfStepIntra:
    """An intra codec whose analysis outputs 0.3 everywhere and whose synthesis returns the latent as the picture.

    Rounded, the latent is 0 (a black picture); unrounded it is 0.3, the source itself.
    """

    def __call__(self, x, quality, quantization):
        assert quantization == "ste"
        return SimpleNamespace(x_hat=torch.zeros_like(x), bpp=torch.tensor(0.125))

    def _analyse(self, x, quality):
        return torch.full_like(x, 0.3)

    def _decode(self, y_hat, quality, height, width):
        return SimpleNamespace(x_hat=y_hat[..., :height, :width])


def test_the_unrounded_columns_decode_the_latent_without_rounding():
    x = torch.full((1, 6, 8, 8), 0.3)
    values = dict(zip(intra_ceiling.COLUMNS, intra_ceiling.measure(HalfStepIntra(), x, quality=63), strict=True))
    assert values["bpp"] == 0.125
    assert values["PSNR-Y dB"] == pytest.approx(10 * torch.log10(torch.tensor(1 / 0.09)).item(), abs=1e-4)
    assert values["unrounded PSNR-Y dB"] == values["unrounded PSNR-YUV dB"] == float("inf")


def test_a_picture_at_a_lower_resolution_keeps_less_of_real_content():
    luma = torch.rand(64, 96, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.avg_pool2d(luma[None, None], 9, stride=1, padding=4)[0, 0]
    half, quarter = (intra_ceiling.downscaled_luma_psnr(smooth, factor) for factor in (2, 4))
    assert half > quarter > 10
    assert intra_ceiling.downscaled_luma_psnr(torch.full((16, 16), 0.5, dtype=torch.float64), 4) == float("inf")


def test_the_script_prints_a_row_per_input_and_quality_and_the_references(tmp_path: Path, capsys):
    stem = tiny_weights(tmp_path)
    assert intra_ceiling.main([str(EXAMPLE), "--model", str(stem), "--quality", "0", "63", "--frame", "1",
                               "--fit", "2"]) == 0
    output = capsys.readouterr().out
    assert f"{intra_ceiling.FIT_COLUMN} (q 63, 2 steps)" in output
    rows = table_rows(output)
    named = [row.split(" | ") for row in rows if row.startswith(f"| {EXAMPLE.name} | ")]
    assert [len(cells) for cells in named] == [2 + len(intra_ceiling.COLUMNS)] * 2 + [4]
    assert [cells[1] for cells in named[:2]] == ["0", "63"]
    half, quarter, fitted = (float(cell.strip(" |")) for cell in named[2][1:])
    assert half > quarter and fitted == fitted


def test_a_frame_past_the_end_is_a_usage_error(tmp_path: Path):
    stem = tiny_weights(tmp_path)
    with pytest.raises(SystemExit) as raised:
        intra_ceiling.main([str(EXAMPLE), "--model", str(stem), "--frame", "100000"])
    assert raised.value.code == 2


def test_fitting_the_transforms_to_the_frame_raises_its_unrounded_psnr_and_leaves_the_model_alone():
    torch.manual_seed(0)
    intra = trainer.new_codec("tiny").intra.eval()
    before = {name: value.clone() for name, value in intra.state_dict().items()}
    x = torch.rand(1, 6, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        unfitted = intra_ceiling.measure(intra, x, quality=63)[intra_ceiling.COLUMNS.index("unrounded PSNR-Y dB")]
    fitted = intra_ceiling.fitted_luma_psnr(intra, x, quality=63, steps=40)
    assert fitted > unfitted + 1
    assert all(torch.equal(value, before[name]) for name, value in intra.state_dict().items())
    assert not intra.training
