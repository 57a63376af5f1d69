"""The choices of an evaluation and their defaults (no heavy imports: the CLI reads them for ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass

from cmfr_codec.hierarchy import DEFAULT_HIERARCHY, QualityHierarchy
from cmfr_codec.presets import DEFAULT_PRESET as DEFAULT_CMFR_PRESET
from cmfr_codec.weights import DEFAULT_MODEL

CODECS = ("cmfr", "x264", "x265", "svtav1")
DEFAULT_CODECS = ("cmfr", "x264")

DEFAULT_QUALITIES = (0, 21, 42, 63)
"""cmfr's four trained anchors: the quality indices where the model learned its quantisation steps."""

DEFAULT_CRF = (22, 27, 32, 37)
"""x264/x265 rate points: the four QPs of the JCT-VC common test conditions."""

DEFAULT_AV1_CRF = (27, 39, 49, 59)
"""SVT-AV1 rate points: four of the QPs of the AOM common test conditions (0..63 scale)."""

RATE_CONTROLS = ("crf", "qp")
DEFAULT_PRESET = "medium"
DEFAULT_AV1_PRESET = 8
DEFAULT_INTRA_PERIOD = 32

BD_METHODS = ("pchip", "cubic", "akima")
DEFAULT_BD_METHOD = "pchip"


@dataclass(frozen=True)
class CodecSettings:
    """Everything on the command line that changes what the codecs produce."""

    qualities: tuple[int, ...] = DEFAULT_QUALITIES
    crf: tuple[int, ...] = DEFAULT_CRF
    av1_crf: tuple[int, ...] = DEFAULT_AV1_CRF
    rate_control: str = "crf"
    preset: str = DEFAULT_PRESET
    av1_preset: int = DEFAULT_AV1_PRESET
    model: str = DEFAULT_MODEL
    cmfr_preset: str = DEFAULT_CMFR_PRESET
    cmfr_hierarchy: QualityHierarchy = DEFAULT_HIERARCHY
    device: str = "cpu"

    def points(self, codec: str) -> tuple[int, ...]:
        return {"cmfr": self.qualities, "svtav1": self.av1_crf}.get(codec, self.crf)

    def quality_kind(self, codec: str) -> str:
        """What a job's ``quality`` number is: cmfr's quality index, a CRF, or a constant QP."""
        if codec == "cmfr":
            return "quality_index"
        return "crf" if codec == "svtav1" else self.rate_control
