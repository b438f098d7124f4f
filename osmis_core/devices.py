"""Choosing the compute device and the autocast precision (light: no training modules imported)."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device '{name}' is not valid (use auto, cpu, cuda or cuda:i).") from None
    if device.type not in ("cpu", "cuda"):  # meta, xla, ...: tensors there hold no numbers to train or save
        raise ConfigError(f"device '{name}' is not supported (use auto, cpu, cuda or cuda:i).")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' was asked for but no CUDA GPU is available.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        # else torch's "invalid device ordinal" at the first tensor moved there, after the data was loaded
        count = torch.cuda.device_count()
        raise ConfigError(
            f"device '{name}' was asked for but this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})."
        )
    return device


def native_bf16(device: torch.device) -> bool:
    """True when bf16 arithmetic is native on the device (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return (" avx512_bf16" in flags or " amx_bf16" in flags) and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision setting, or None for plain fp32."""
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether torch failed to allocate memory: a GPU's torch.OutOfMemoryError, or the CPU allocator's RuntimeError
    ("DefaultCPUAllocator: can't allocate memory", "not enough memory"), which has no class of its own."""
    text = str(exc)
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in text or "not enough memory" in text
