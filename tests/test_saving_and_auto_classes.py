"""Saved folders: safetensors round trips, Auto classes, pipelines, and remote code without hf_ulmfit installed, for
both recurrent cells (`rnn_type` "lstm" and "qrnn")."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from tiny_models import tiny_config
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    pipeline,
)

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification, AwdLstmModel
from hf_ulmfit.models.awd_lstm.configuration_awd_lstm import RNN_TYPES


QUESTIONS = ["How far is it from Denver to Aspen ?", "Who wrote Hamlet ?", "What is the capital of France ?"]


@pytest.fixture(scope="module", params=RNN_TYPES)
def saved_folders(request, tmp_path_factory, tokenizer, trec):
    torch.manual_seed(0)
    folders = {}
    labels = trec["train"].features["label"].names
    lm = AwdLstmForCausalLM(tiny_config(tokenizer, rnn_type=request.param)).eval()
    classifier = AwdLstmForSequenceClassification(
        tiny_config(
            tokenizer,
            rnn_type=request.param,
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
        )
    ).eval()
    for name, model in (("lm", lm), ("classifier", classifier)):
        folder = tmp_path_factory.mktemp(name)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[name] = (folder, model)
    return folders


def encode(tokenizer, texts):
    return tokenizer(texts, return_tensors="pt", padding=True)


def test_saved_folder_holds_safetensors_and_the_model_code(saved_folders):
    folder, model = saved_folders["lm"]
    files = {path.name for path in folder.iterdir()}
    assert "model.safetensors" in files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    # The modeling file's relative import (the QRNN layer) travels with it.
    assert {"configuration_awd_lstm.py", "modeling_awd_lstm.py", "qrnn.py", "tokenizer.json"} <= files
    saved_config = json.loads((folder / "config.json").read_text())
    assert saved_config["rnn_type"] == model.config.rnn_type
    auto_map = saved_config["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoModelForSequenceClassification"}


def test_round_trip_gives_identical_outputs(saved_folders, tokenizer):
    inputs = encode(tokenizer, QUESTIONS)
    for name, model_class in (("lm", AwdLstmForCausalLM), ("classifier", AwdLstmForSequenceClassification)):
        folder, model = saved_folders[name]
        reloaded = model_class.from_pretrained(folder).eval()
        assert torch.equal(reloaded(**inputs).logits, model(**inputs).logits)


def test_auto_classes_load_saved_folders(saved_folders, tokenizer):
    lm_folder, lm = saved_folders["lm"]
    classifier_folder, classifier = saved_folders["classifier"]
    inputs = encode(tokenizer, QUESTIONS)
    assert isinstance(AutoConfig.from_pretrained(lm_folder), AwdLstmConfig)
    base = AutoModel.from_pretrained(lm_folder).eval()
    assert isinstance(base, AwdLstmModel)
    assert torch.equal(base(**inputs).last_hidden_state, lm.awd_lstm(**inputs).last_hidden_state)
    causal = AutoModelForCausalLM.from_pretrained(lm_folder).eval()
    assert isinstance(causal, AwdLstmForCausalLM)
    assert torch.equal(causal(**inputs).logits, lm(**inputs).logits)
    sequence = AutoModelForSequenceClassification.from_pretrained(classifier_folder).eval()
    assert torch.equal(sequence(**inputs).logits, classifier(**inputs).logits)
    reloaded_tokenizer = AutoTokenizer.from_pretrained(lm_folder)
    assert reloaded_tokenizer(QUESTIONS)["input_ids"] == tokenizer(QUESTIONS)["input_ids"]


def test_text_classification_pipeline(saved_folders, tokenizer):
    folder, model = saved_folders["classifier"]
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    results = classify(QUESTIONS, top_k=None, batch_size=2)
    expected = model(**encode(tokenizer, QUESTIONS)).logits.softmax(-1)
    for result, probabilities in zip(results, expected):
        scores = {entry["label"]: entry["score"] for entry in result}
        assert set(scores) == set(model.config.id2label.values())
        for index, label in model.config.id2label.items():
            assert scores[label] == pytest.approx(probabilities[index].item(), abs=1e-5)


def test_text_generation_pipeline(saved_folders, tokenizer):
    folder, model = saved_folders["lm"]
    generate = pipeline("text-generation", model=str(folder), device="cpu")
    prompt = tokenizer("Who wrote", return_tensors="pt")
    tokens = model.generate(**prompt, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    as_ids = generate("Who wrote", max_new_tokens=6, do_sample=False, return_tensors=True)
    assert list(as_ids[0]["generated_token_ids"]) == tokens[0].tolist()
    # The text: whether the continuation keeps the space after the prompt differs between transformers releases
    # (5.6 cuts the decoded full text after the prompt; 5.24 decodes the new tokens alone, and a Metaspace decoder
    # drops a text's leading space), so the words are compared.
    continuation = generate("Who wrote", max_new_tokens=6, do_sample=False, return_full_text=False)
    new_tokens = tokens[0, prompt["input_ids"].shape[1] :]
    assert continuation[0]["generated_text"].split() == tokenizer.decode(new_tokens, skip_special_tokens=True).split()


REMOTE_CODE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_ulmfit"] = None  # the package is not installed here
    try:
        import hf_ulmfit
    except ImportError:
        pass
    else:
        raise SystemExit("hf_ulmfit should not be importable")
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    lm_folder, classifier_folder, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    tokenizer = AutoTokenizer.from_pretrained(lm_folder, trust_remote_code=True)
    inputs = tokenizer(texts, return_tensors="pt", padding=True)
    # The tokenizer class itself reads no config.json, so it loads without remote code and without a prompt.
    from transformers import PreTrainedTokenizerFast
    plain = PreTrainedTokenizerFast.from_pretrained(lm_folder)
    result = {"plain_tokenizer_ids": plain(texts, padding=True)["input_ids"]}
    with torch.no_grad():
        lm = AutoModelForCausalLM.from_pretrained(lm_folder, trust_remote_code=True).eval()
        result["lm"] = lm(**inputs).logits.tolist()
        result["lm_module"] = type(lm).__module__
        result["layer_type"] = type(lm.awd_lstm.layers[0]).__name__
        base = AutoModel.from_pretrained(lm_folder, trust_remote_code=True).eval()
        result["base"] = base(**inputs).last_hidden_state.tolist()
        clf = AutoModelForSequenceClassification.from_pretrained(classifier_folder, trust_remote_code=True).eval()
        result["classifier"] = clf(**inputs).logits.tolist()
        result["generated"] = lm.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=1).tolist()
    print(json.dumps(result))
    """
)


def test_remote_code_loads_where_hf_ulmfit_cannot_be_imported(saved_folders, tokenizer, tmp_path):
    lm_folder, lm = saved_folders["lm"]
    classifier_folder, classifier = saved_folders["classifier"]
    completed = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_SCRIPT, str(lm_folder), str(classifier_folder), json.dumps(QUESTIONS)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Do you wish to run the custom code" not in completed.stdout + completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["plain_tokenizer_ids"] == encode(tokenizer, QUESTIONS)["input_ids"].tolist()
    assert result["lm_module"].startswith("transformers_modules")
    assert result["layer_type"] == type(lm.awd_lstm.layers[0]).__name__
    inputs = encode(tokenizer, QUESTIONS)
    torch.testing.assert_close(torch.tensor(result["lm"]), lm(**inputs).logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        torch.tensor(result["base"]), lm.awd_lstm(**inputs).last_hidden_state, rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(torch.tensor(result["classifier"]), classifier(**inputs).logits, rtol=1e-5, atol=1e-5)
    expected = lm.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=1)
    assert torch.equal(torch.tensor(result["generated"]), expected)


def test_a_new_classifier_head_has_no_uninitialised_buffers(tmp_path, tokenizer):
    """The head's BatchNorm counters start at zero, whether the classifier is new or built on a saved encoder (where
    transformers allocates the missing head without values and `_init_weights` must fill every buffer)."""
    AwdLstmForCausalLM(tiny_config(tokenizer)).save_pretrained(tmp_path)
    for classifier in (
        AwdLstmForSequenceClassification(tiny_config(tokenizer, num_labels=3)),
        AwdLstmForSequenceClassification.from_pretrained(tmp_path, num_labels=3),
    ):
        buffers = dict(classifier.named_buffers())
        counters = [name for name in buffers if name.endswith("num_batches_tracked")]
        assert counters
        for name in counters:
            assert buffers[name].item() == 0, name
        for name, buffer in buffers.items():
            if name.endswith("running_mean") or name.endswith("running_var"):
                expected = 0.0 if name.endswith("running_mean") else 1.0
                assert torch.equal(buffer, torch.full_like(buffer, expected)), name
