"""Choosing the torch device the networks run on."""

from __future__ import annotations

from cmfr_codec.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str) -> str:
    """``auto`` picks CUDA when a GPU is usable and the CPU otherwise; ``cuda`` without a GPU is an error."""
    import torch

    if choice not in DEVICE_CHOICES:
        raise InputError(f"unknown device {choice!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but torch sees no usable CUDA GPU on this machine")
    return choice
