"""Help texts and `import hf_ulmfit` load no torch (help: of transformers only its argument parser); importing
`hf_ulmfit.models` registers the Auto classes, whatever was imported before.

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
# A subcommand's help parses its dataclasses with transformers' HfArgumentParser: transformers' package module and its
# light utilities load, none of its models, modeling code or Trainer.
ARGUMENT_PARSER_ONLY = (
    "transformers",
    "transformers._typing",
    "transformers.dependency_versions_",
    "transformers.hf_argparser",
    "transformers.utils",
)


def beyond_the_argument_parser(loaded: list[str]) -> list[str]:
    return [
        name
        for name in loaded
        if not any(name == allowed or name.startswith(allowed) for allowed in ARGUMENT_PARSER_ONLY)
    ]


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
def test_subcommand_help_imports_no_torch_and_of_transformers_only_its_argument_parser(command, flag):
    loaded, help_text = heavy_modules_after_cli([command, "--help"])
    assert "transformers.hf_argparser" in loaded
    assert beyond_the_argument_parser(loaded) == []
    assert f"hf-ulmfit {command}" in help_text and flag in help_text


def test_import_is_light_and_importing_the_models_registers_the_auto_classes():
    result = run_python("""
        import sys
        import hf_ulmfit
        light = not any(name.partition(".")[0] in ("torch", "transformers") for name in sys.modules)
        import hf_ulmfit.models
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
        "from hf_ulmfit.export.int8 import quantize_classifier",
    ],
)
def test_registration_survives_every_import_order(first_use):
    result = run_python(f"""
        {first_use}
        import hf_ulmfit.models
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING
        classifier_class = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[CONFIG_MAPPING["awd_lstm"]]
        int8_class = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[CONFIG_MAPPING["awd_lstm_int8"]]
        print(CONFIG_MAPPING["awd_lstm"].__name__, classifier_class.__name__, int8_class.__name__)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "AwdLstmConfig",
        "AwdLstmForSequenceClassification",
        "AwdLstmInt8ForSequenceClassification",
    ]


def test_no_import_machinery():
    """No import hook of ours: importing hf_ulmfit adds no finder to Python's (transformers may add its own)."""
    result = run_python("""
        import sys
        finders = list(sys.meta_path)
        import hf_ulmfit, hf_ulmfit.models, hf_ulmfit.cli.main
        added = [finder for finder in sys.meta_path if finder not in finders]
        print(sorted(type(finder).__module__.partition(".")[0] for finder in added))
    """)
    assert result.returncode == 0, result.stderr
    assert "hf_ulmfit" not in result.stdout
