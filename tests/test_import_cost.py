"""Help texts and `import hf_ulmfit` load neither torch nor transformers; the Auto classes still register.

Each check runs in a fresh interpreter and reads `sys.modules`, which is robust where a timing threshold is not.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


SOURCE = str(Path(__file__).resolve().parents[1] / "src")
HEAVY = ("torch", "transformers")


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )


def heavy_modules_after_cli(argv: list[str]) -> tuple[list[str], str]:
    result = run_python(f"""
        import contextlib, io, json, sys
        from hf_ulmfit.cli.main import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main({argv!r})
            except SystemExit:
                pass
        loaded = sorted(name for name in sys.modules if name.partition(".")[0] in {HEAVY!r})
        print(json.dumps({{"loaded": loaded, "help": out.getvalue()}}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    return report["loaded"], report["help"]


def test_top_level_help_imports_neither_torch_nor_transformers():
    loaded, help_text = heavy_modules_after_cli(["--help"])
    assert loaded == []
    assert "predict" in help_text and "train-classifier" in help_text


@pytest.mark.parametrize(
    "command, flag",
    [
        ("predict", "--model_name_or_path"),
        ("export", "--output_dir"),
        ("generate", "--max_new_tokens"),
        ("convert-fastai", "--checkpoint"),
        ("tokenizer", "--tokenizer_kind"),
    ],
)
def test_subcommand_help_imports_neither_torch_nor_transformers(command, flag):
    loaded, help_text = heavy_modules_after_cli([command, "--help"])
    assert loaded == []
    assert f"hf-ulmfit {command}" in help_text and flag in help_text


def test_import_registers_auto_classes_once_transformers_loads():
    result = run_python("""
        import sys
        import hf_ulmfit
        light = not any(name.partition(".")[0] in ("torch", "transformers") for name in sys.modules)
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification
        config = AutoConfig.for_model("awd_lstm", vocab_size=40, embedding_size=8, hidden_size=16, num_layers=2)
        lm = AutoModelForCausalLM.from_config(config)
        classifier = AutoModelForSequenceClassification.from_config(config)
        print(light, type(config).__name__, type(lm).__name__, type(classifier).__name__)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "AwdLstmConfig", "AwdLstmForCausalLM", "AwdLstmForSequenceClassification"]


@pytest.mark.parametrize(
    "first_use",
    [
        "from hf_ulmfit import AwdLstmForSequenceClassification, UlmfitTrainer",
        "from transformers import pipeline",
        "import transformers.models.auto.configuration_auto",
    ],
)
def test_registration_survives_every_import_order(first_use):
    result = run_python(f"""
        {first_use}
        import hf_ulmfit
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING
        classifier_class = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[hf_ulmfit.AwdLstmConfig]
        print(CONFIG_MAPPING["awd_lstm"].__name__, classifier_class.__name__)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["AwdLstmConfig", "AwdLstmForSequenceClassification"]


def test_public_names_stay_importable():
    import hf_ulmfit

    for name in hf_ulmfit.__all__:
        assert getattr(hf_ulmfit, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_name"):
        hf_ulmfit.no_such_name
