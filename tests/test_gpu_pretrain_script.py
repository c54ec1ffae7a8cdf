"""benchmarks/gpu_pretrain.py is meant for a CUDA machine; its --quick mode must run anywhere (here: on the CPU)."""

import json

from benchmarks import gpu_pretrain


def test_quick_mode_measures_both_precisions_on_the_cpu(tmp_path, capsys):
    report = gpu_pretrain.main(["--quick", "--use_cpu", "--models", "small", "--scratch", str(tmp_path)])
    printed = json.loads(capsys.readouterr().out)
    assert printed == report
    assert report["device"] == "cpu" and report["quick"]
    assert [(r["model"], r["precision"]) for r in report["results"]] == [("small", "fp32"), ("small", "bf16")]
    for result in report["results"]:
        assert result["device"] == "cpu" and result["timed_steps"] == 2
        assert result["tokens_per_second"] > 0
        tokens_per_step = result["batch_size"] * result["bptt"]
        assert abs(result["tokens_per_second"] - tokens_per_step / result["step_seconds_median"]) < 1
    # The full-size settings are the ones the issue names.
    assert gpu_pretrain.MODELS["standard"] == dict(
        vocab_size=60_000, embedding_size=400, hidden_size=1152, num_layers=3
    )
