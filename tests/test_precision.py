"""Precision follows the hardware: bf16 where it trains faster (AMX CPUs, a probe on AVX512-BF16 CPUs, CUDA GPUs with
bf16), fp32 elsewhere. The hardware is simulated by monkeypatching the probes, so both ways run on any machine."""

import logging

import pytest
import torch

from hf_ulmfit.cli.main import parse
from hf_ulmfit.models.awd_lstm import modeling_awd_lstm
from hf_ulmfit.training import UlmfitTrainingArguments, precision


def simulate_cpu(monkeypatch, *, amx: bool, avx512_bf16: bool, speedup: float | None = None):
    """A CPU with these features; `speedup` is what the bf16 matmul probe measures (None: it must not run)."""

    def probe():
        if speedup is None:
            raise AssertionError("the matmul probe ran although the CPU features decide")
        return speedup

    monkeypatch.setattr(precision, "cpu_has_amx", lambda: amx)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: amx or avx512_bf16)
    monkeypatch.setattr(precision, "measured_cpu_bf16_speedup", probe)


@pytest.mark.parametrize(
    "amx, avx512_bf16, speedup, faster",
    [
        (True, True, None, True),  # AMX: bf16 without measuring
        (False, False, None, False),  # emulated bf16 (AVX2 only): fp32 without measuring
        (False, True, 0.55, False),  # AVX512-BF16 alone, measured slower (as on the Xeons of the notes)
        (False, True, 1.8, True),  # AVX512-BF16 alone, measured faster
    ],
)
def test_cpu_verdict_comes_from_amx_or_the_probe(monkeypatch, amx, avx512_bf16, speedup, faster):
    simulate_cpu(monkeypatch, amx=amx, avx512_bf16=avx512_bf16, speedup=speedup)
    verdict, reason = precision.cpu_bf16_verdict()
    assert verdict is faster
    assert ("AMX" in reason) if amx else ("emulated" in reason if not avx512_bf16 else f"{speedup:.2f}x" in reason)


def test_probe_measures_a_real_ratio():
    precision.measured_cpu_bf16_speedup.cache_clear()
    speedup = precision.measured_cpu_bf16_speedup()
    assert 0 < speedup < 100
    assert precision.measured_cpu_bf16_speedup() == speedup  # measured once per process


@pytest.mark.parametrize("faster", [True, False])
def test_stages_default_to_the_faster_precision_and_say_why(monkeypatch, caplog, tmp_path, faster):
    simulate_cpu(monkeypatch, amx=faster, avx512_bf16=True, speedup=None if faster else 0.55)
    with caplog.at_level(logging.INFO, logger=precision.__name__):
        *_, training_args = parse("pretrain", ["--output_dir", str(tmp_path), "--use_cpu", "true"])
    assert training_args.bf16 is faster
    expected = "bf16, because the CPU has AMX" if faster else "fp32, because a bf16 matmul runs only 0.55x"
    assert f"precision: {expected}" in caplog.text


@pytest.mark.parametrize("flag, expected", [(["--bf16"], True), (["--bf16", "false"], False)])
def test_an_explicit_flag_wins_over_the_default(monkeypatch, caplog, tmp_path, flag, expected):
    simulate_cpu(monkeypatch, amx=True, avx512_bf16=True)
    with caplog.at_level(logging.INFO, logger=precision.__name__):
        *_, training_args = parse("finetune-lm", ["--model_name_or_path", "m", "--output_dir", str(tmp_path), *flag])
    assert training_args.bf16 is expected
    assert "precision:" not in caplog.text


def test_forcing_bf16_where_it_is_slower_warns_and_runs_on_the_cpu(monkeypatch, caplog, tmp_path):
    simulate_cpu(monkeypatch, amx=False, avx512_bf16=True, speedup=0.55)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *args, **kwargs: None)
    with caplog.at_level(logging.WARNING, logger=precision.__name__):
        args = UlmfitTrainingArguments(output_dir=str(tmp_path), bf16=True, report_to="none")
    assert args.bf16 and args.use_cpu  # transformers would refuse bf16 on a machine without a GPU otherwise
    assert "--bf16 true: bf16 autocast is slower than fp32 here" in caplog.text


def test_the_python_api_keeps_transformers_default(monkeypatch, tmp_path):
    simulate_cpu(monkeypatch, amx=True, avx512_bf16=True)
    assert UlmfitTrainingArguments(output_dir=str(tmp_path), report_to="none").bf16 is False


@pytest.mark.parametrize("supported", [True, False])
def test_cuda_uses_bf16_autocast_where_the_gpu_supports_it(monkeypatch, caplog, supported):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: supported)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args, **kwargs: "NVIDIA H200")
    with caplog.at_level(logging.INFO, logger=precision.__name__):
        assert precision.resolve_bf16(None, on_cpu=False) is supported
    assert f"precision: {'bf16' if supported else 'fp32'}, because the GPU (NVIDIA H200)" in caplog.text


@pytest.mark.parametrize(
    "amx, avx512_bf16, expected", [(True, True, True), (False, True, False), (False, False, False)]
)
def test_model_runs_the_lstm_in_bf16_only_with_amx(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert modeling_awd_lstm._cpu_runs_bf16_lstm() is expected


def test_without_a_fast_bf16_lstm_the_recurrence_runs_in_fp32_under_autocast(monkeypatch):
    monkeypatch.setattr(modeling_awd_lstm, "CPU_RUNS_BF16_LSTM", False)
    layer = modeling_awd_lstm.WeightDroppedLstm(8, 6, weight_dropout=0.0)
    for weight in layer.parameters():
        torch.nn.init.uniform_(weight, -0.3, 0.3)
    hidden = torch.randn(2, 5, 8)
    state = (torch.zeros(1, 2, 6), torch.zeros(1, 2, 6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, (h, c) = layer(hidden.to(torch.bfloat16), state)
    assert output.dtype == h.dtype == c.dtype == torch.float32
    reference, _ = layer(hidden.to(torch.bfloat16).float(), state)
    torch.testing.assert_close(output, reference)
