"""Hostile bitstreams: real files, mutated, decoded end to end; only a video or a BitstreamError comes out.

A few hundred derandomized cases of tests/fuzzing.py's harness; benchmarks/fuzz.py runs
10,000 and prints the tally (docs/bitstream.md, "Hostile input").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzing import MUTATIONS, Seed, cases, decode_file, make_seeds, parse, run_case, tiny_model

from cmfr_codec.bitstream import BitstreamReader
from cmfr_codec.errors import InputError
from cmfr_codec.pipeline import DEFAULT_MAX_DECODE_PIXELS, MAX_DECODE_PIXELS_VARIABLE
from cmfr_codec.weights import LoadedModel

CASES_PER_KIND = 40
CASE_SECONDS = 20.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def model(folder: Path) -> LoadedModel:
    return tiny_model(folder)


@pytest.fixture(scope="module")
def seeds(model: LoadedModel, folder: Path) -> list[Seed]:
    return make_seeds(model, folder)


def resized(seed: Seed, width: int, height: int) -> bytes:
    """The seed with another frame size in its header (and a header CRC that matches)."""
    stream = parse(seed.data)
    stream.set_header_field("width", width)
    stream.set_header_field("height", height)
    return stream.to_bytes()


def test_the_seeds_decode(model: LoadedModel, seeds: list[Seed], folder: Path) -> None:
    assert [run_case(seed.data, model, folder).kind for seed in seeds] == ["decoded"] * len(seeds)


def test_the_last_seed_codes_its_latents_in_row_bands(seeds: list[Seed], folder: Path) -> None:
    with BitstreamReader(folder / "seed_64x256_25.bin") as reader:
        assert [sorted(record.substreams) for record in reader] == [
            ["frame", "frame_1"], ["frame", "frame_1", "motion", "motion_1"]]


@pytest.mark.parametrize("kind", MUTATIONS)
def test_a_mutated_bitstream_decodes_or_fails_with_a_bitstream_error(
    kind: str, model: LoadedModel, seeds: list[Seed], folder: Path
) -> None:
    failures = []
    for case in cases(seeds, CASES_PER_KIND, base_seed=2024, kinds=[kind]):
        outcome = run_case(case.data, model, folder, limit=CASE_SECONDS)
        if outcome.kind == "failure":
            failures.append(f"case {case.number} ({case.seed}): {outcome.detail}")
    assert failures == []


def test_payload_mutations_with_fixed_crcs_reach_the_entropy_decoder(
    model: LoadedModel, seeds: list[Seed], folder: Path
) -> None:
    details = [
        run_case(case.data, model, folder).detail
        for case in cases(seeds, CASES_PER_KIND, base_seed=7, kinds=["payload (CRCs fixed)"])
    ]
    assert any("entropy-coded data" in detail for detail in details)
    assert not any("CRC" in detail for detail in details)


def test_a_frame_above_the_decoders_limit_is_refused_before_decoding(
    model: LoadedModel, seeds: list[Seed], folder: Path
) -> None:
    outcome = run_case(resized(seeds[0], 16384, 16384), model, folder)
    assert (outcome.kind, "limit of 9437184 pixels" in outcome.detail) == ("BitstreamError", True)
    assert outcome.seconds < 1.0


def test_the_limit_admits_uhd_and_dci_4k() -> None:
    assert 3840 * 2160 <= 4096 * 2160 <= DEFAULT_MAX_DECODE_PIXELS


@pytest.mark.parametrize(("limit", "expected"), [("4096", "decoded"), ("4095", "BitstreamError")])
def test_the_environment_sets_the_decoders_limit(
    limit: str, expected: str, model: LoadedModel, seeds: list[Seed], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_DECODE_PIXELS_VARIABLE, limit)
    assert run_case(seeds[0].data, model, folder).kind == expected  # the first seed is 64x64


@pytest.mark.parametrize("limit", ["", "0", "-5", "4k", "1e6"])
def test_a_limit_in_the_environment_that_is_not_a_positive_number_is_an_input_error(
    limit: str, model: LoadedModel, seeds: list[Seed], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_DECODE_PIXELS_VARIABLE, limit)
    (folder / "limit.bin").write_bytes(seeds[0].data)
    with pytest.raises(InputError, match=MAX_DECODE_PIXELS_VARIABLE):
        decode_file(folder / "limit.bin", model, folder / "limit.yuv")


def test_cmfr_decode_of_a_damaged_payload_is_one_line_and_exit_code_1(
    model: LoadedModel, seeds: list[Seed], folder: Path, run_cmfr
) -> None:
    case = next(
        case for case in cases(seeds, CASES_PER_KIND, base_seed=7, kinds=["payload (CRCs fixed)"])
        if "entropy-coded data" in run_case(case.data, model, folder).detail
    )
    (folder / "damaged.bin").write_bytes(case.data)
    result = run_cmfr("decode", folder / "damaged.bin", folder / "damaged.y4m", "--model", folder / "tiny.intra.cmfrw")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1
    assert len(lines) == 1 and lines[0].startswith("error: bitstream error (frame ")
    assert not (folder / "damaged.y4m").exists()
