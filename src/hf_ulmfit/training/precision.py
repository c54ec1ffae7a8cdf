"""Which precision trains fastest on this machine: bf16 autocast or fp32.

bf16 halves the bytes an LSTM moves, but it pays only where the hardware computes it natively and fast:

- CUDA GPUs that support bf16 (Ampere and newer): bf16 autocast (cuDNN LSTM, tensor cores).
- CPUs with AMX (Sapphire Rapids and newer Xeons): oneDNN's bf16 kernels run about 3x faster than fp32.
- CPUs with AVX512-BF16 but no AMX: bf16 is *slower* (measured 145 against 262 GFLOP/s in fp32 on such a Xeon),
  so it is chosen only if a short matmul probe here says otherwise.
- CPUs without either (AVX2 only, e.g. most AMD EPYC): bf16 is emulated, about 1 GFLOP/s: never.

`resolve_bf16` turns a ``--bf16`` request (True, False or None for "whatever is faster") into the setting to use,
logging which and why, and warns when bf16 is forced where it is slower.
"""

import functools
import logging
import time

import torch


logger = logging.getLogger(__name__)

# bf16 must beat fp32 by this much in the probe to be chosen (timing noise on shared cores is a few percent).
_PROBE_MARGIN = 1.1
_PROBE_SIZE, _PROBE_REPEATS = 512, 5


def cpu_has_amx() -> bool:
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: without one of them bf16 arithmetic is emulated."""
    return cpu_has_amx() or bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


@functools.cache
def measured_cpu_bf16_speedup() -> float:
    """fp32 time over bf16 time of a 512x512 matmul on this CPU, best of 5 each (about 0.1 s on a slow CPU)."""

    def best_seconds(dtype) -> float:
        a = torch.randn(_PROBE_SIZE, _PROBE_SIZE).to(dtype)
        b = torch.randn(_PROBE_SIZE, _PROBE_SIZE).to(dtype)
        torch.matmul(a, b)  # warm-up: kernel selection, weight packing
        timings = []
        for _ in range(_PROBE_REPEATS):
            start = time.perf_counter()
            torch.matmul(a, b)
            timings.append(time.perf_counter() - start)
        return min(timings)

    return best_seconds(torch.float32) / best_seconds(torch.bfloat16)


def cpu_bf16_verdict() -> tuple[bool, str]:
    """Whether bf16 trains faster than fp32 on this CPU, and why."""
    if cpu_has_amx():
        return True, "the CPU has AMX, whose bf16 kernels run about 3x faster than fp32"
    if not cpu_has_native_bf16():
        return False, "the CPU has neither AMX nor AVX512-BF16, so bf16 is emulated and far slower than fp32"
    speedup = measured_cpu_bf16_speedup()
    if speedup >= _PROBE_MARGIN:
        return True, f"a bf16 matmul runs {speedup:.2f}x as fast as fp32 on this CPU (AVX512-BF16, no AMX)"
    return False, f"a bf16 matmul runs only {speedup:.2f}x as fast as fp32 on this CPU (AVX512-BF16, no AMX)"


def cuda_bf16_verdict() -> tuple[bool, str]:
    name = torch.cuda.get_device_name()
    if torch.cuda.is_bf16_supported():
        return True, f"the GPU ({name}) supports bf16"
    return False, f"the GPU ({name}) has no bf16 support"


def resolve_bf16(requested: bool | None, on_cpu: bool) -> bool:
    """The bf16 setting to train with: `requested` if given (with a warning where bf16 is slower on this CPU), else
    bf16 exactly where it is faster. `on_cpu`: training runs on the CPU (``--use_cpu`` or no accelerator)."""
    if not on_cpu and not torch.cuda.is_available():
        # Another accelerator (MPS, XPU...): leave transformers' own handling and default (fp32) alone.
        return bool(requested)
    faster, reason = cpu_bf16_verdict() if on_cpu else cuda_bf16_verdict()
    if requested is None:
        logger.info(
            "precision: %s, because %s (set --bf16 true/false to choose)", "bf16" if faster else "fp32", reason
        )
        return faster
    if requested and on_cpu and not faster:
        logger.warning(
            "--bf16 true: bf16 autocast is slower than fp32 here, because %s; --bf16 false trains faster", reason
        )
    return requested
