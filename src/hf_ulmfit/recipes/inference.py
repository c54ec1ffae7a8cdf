"""`hf-ulmfit predict` and `hf-ulmfit generate` on saved folders (AutoModel classes, as a pipeline loads them).

Classification runs through the length-sorted pipeline (`hf_ulmfit.inference.pipelines`), the path
`pipeline("text-classification")` users take: documents in batches of similar length, at most ``batch_size``
documents and ``max_batch_tokens`` padded tokens a batch, so a very long document runs alone; the results come back
in the input order. ONNX and int8 folders (`hf-ulmfit export`) classify through the same path.
`class_probabilities` is also the forward+backward ensemble (probabilities averaged) that `hf-ulmfit evaluate` uses.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..argument_limits import check_limits


if TYPE_CHECKING:
    import numpy as np
    import torch

# numpy, torch, transformers (and `.checks`, which needs torch) are imported inside the functions, so
# `hf-ulmfit predict --help` stays fast.

logger = logging.getLogger(__name__)


@dataclass
class PredictArguments:
    model_name_or_path: str = field(metadata={"help": "A saved classifier folder."})
    texts: list[str] = field(default_factory=list, metadata={"help": "Texts to classify."})
    input_file: str | None = field(
        default=None,
        metadata={"help": "A UTF-8 text file, one document per line (split on newlines only); - reads stdin."},
    )
    output_file: str | None = field(default=None, metadata={"help": "Write JSON lines here instead of printing."})
    backward_model_name_or_path: str | None = field(
        default=None, metadata={"help": "A backward classifier to ensemble with (probabilities averaged)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Documents per batch."})
    max_batch_tokens: int = field(
        default=65_536,
        metadata={"help": "Padded tokens per batch at most (documents x longest); a longer document runs alone."},
    )
    explain: bool = field(
        default=False,
        metadata={
            "help": "Also show, per text, the tokens that moved the prediction most (and the attention weights of a "
            "classifier with attention pooling), and write them as an HTML highlight (--explain_html)."
        },
    )
    explain_method: str = field(
        default="integrated_gradients",
        metadata={"choices": ["integrated_gradients", "gradient_x_input"], "help": "Attribution on the embeddings."},
    )
    explain_top_k: int = field(default=5, metadata={"help": "Tokens shown per text with --explain."})
    explain_html: str = field(default="explanations.html", metadata={"help": "Where --explain writes its HTML."})

    def __post_init__(self):
        check_limits(self)


@dataclass
class GenerateArguments:
    model_name_or_path: str = field(metadata={"help": "A saved language model folder."})
    prompt: str = field(default="", metadata={"help": "The text to continue."})
    max_new_tokens: int = field(default=50, metadata={"help": "Tokens to generate."})
    do_sample: bool = field(default=False, metadata={"help": "Sample instead of greedy/beam search."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_k: int = field(default=50, metadata={"help": "Sample from the k most likely tokens."})
    num_beams: int = field(default=1, metadata={"help": "Beam search width."})
    num_return_sequences: int = field(default=1, metadata={"help": "Continuations to return."})
    seed: int = field(default=42, metadata={"help": "Random seed for sampling."})
    prompt_lookup_num_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Prompt-lookup decoding: draft up to this many tokens by copying what followed the last words "
            "where they occur earlier in the prompt; the model checks the drafts in one forward. Greedy output is "
            "unchanged."
        },
    )
    assistant_model: str | None = field(
        default=None,
        metadata={
            "help": "Assisted decoding: a (smaller) saved language model with the same vocabulary drafts tokens that "
            "the model checks in one forward. Greedy output is unchanged."
        },
    )

    def __post_init__(self):
        check_limits(self)


def input_lines(data: bytes, where: str) -> list[str]:
    """The lines of a UTF-8 text as `wc -l` counts them: split on ``\n`` only (``\r\n`` too), a UTF-8 BOM dropped.
    `str.splitlines` would also split on U+2028/U+2029, form feeds and other separators inside a line, giving more
    results than lines and shifting every result after them."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(f"{where} is not valid UTF-8 (line {line}, byte {error.start}).") from None
    if text.endswith("\n"):
        text = text[:-1]
    return [line.removesuffix("\r") for line in text.split("\n")] if text else []


def read_texts(args: PredictArguments) -> list[str]:
    """``--texts``, then the lines of ``--input_file`` (``-`` reads standard input), one document per line."""
    import sys

    texts = list(args.texts)
    if args.input_file == "-":
        texts += input_lines(sys.stdin.buffer.read(), "standard input")
    elif args.input_file:
        path = Path(args.input_file)
        if not path.exists() or path.is_dir():
            raise FileNotFoundError(f"input file {path} not found")
        texts += input_lines(path.read_bytes(), str(path))
    empty = [index for index, text in enumerate(texts) if not text.strip()]
    if not texts:
        raise ValueError("nothing to classify: give --texts or --input_file")
    if empty:
        raise ValueError(f"texts {empty} are empty (0-based, --texts first, then --input_file lines)")
    return texts


def device() -> "torch.device":
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_classifier(path: str, what: str = "classifier"):
    """A saved classifier and its tokenizer, checked: folder, weights file, finite weights, tokenizer fit. An ONNX
    folder gives its onnxruntime classifier, which takes the same inputs and returns the same logits."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ..inference.onnx_runtime import OnnxAwdLstmForSequenceClassification, is_onnx_folder
    from .checks import check_tokenizer_fits, load_pretrained

    if is_onnx_folder(path):
        model = OnnxAwdLstmForSequenceClassification.from_pretrained(path)
    else:
        model = load_pretrained(
            AutoModelForSequenceClassification, path, what, kinds=("classifier", "int8 classifier")
        ).to(device())
    tokenizer = AutoTokenizer.from_pretrained(path)
    check_tokenizer_fits(tokenizer, model.config, path)
    return model, tokenizer


def class_names(model_or_config) -> list[str]:
    config = getattr(model_or_config, "config", model_or_config)
    return [config.id2label[index] for index in range(config.num_labels)]


def require_same_labels(labels: list[str], other_labels: list[str], path: str, other_path: str) -> None:
    if labels != other_labels:
        raise ValueError(
            f"Cannot ensemble classifiers with different labels: {path} has {labels}, {other_path} has {other_labels}."
        )


def ensemble_paths(args) -> list[str]:
    """`args.model_name_or_path`, and `args.backward_model_name_or_path` to average it with when given."""
    return [args.model_name_or_path] + ([args.backward_model_name_or_path] if args.backward_model_name_or_path else [])


def ensemble_labels(paths: list[str]) -> list[str]:
    """The class names the saved classifiers at `paths` share, read from their configs: a forward and a backward
    classifier with different labels cannot be averaged, and this says so before any model or data is loaded."""
    from transformers import AutoConfig

    configs = [AutoConfig.from_pretrained(path) for path in paths]
    labels = [class_names(config) for config in configs]
    for path, other_labels in zip(paths[1:], labels[1:]):
        require_same_labels(labels[0], other_labels, paths[0], path)
    if len(paths) == 2:
        require_directions(configs, paths)
    return labels[0]


def require_directions(configs: list, paths: list[str]) -> None:
    """A forward+backward ensemble averages a model reading the text forward with one reading it backward (the
    config's ``backwards``): two models of one direction would be averaged as if they were the pair."""
    for config, path, flag, backwards in zip(
        configs, paths, ("--model_name_or_path", "--backward_model_name_or_path"), (False, True)
    ):
        if bool(getattr(config, "backwards", False)) != backwards:
            reads = "backward" if config.backwards else "forward"
            raise ValueError(
                f"{flag} {path} is a {reads} model (its config says backwards={config.backwards}): give the forward "
                "classifier as --model_name_or_path and the backward one as --backward_model_name_or_path."
            )


def class_probabilities(
    paths: str | list[str], texts: list[str], batch_size: int, max_batch_tokens: int
) -> tuple["np.ndarray", list[str]]:
    """Class probabilities `(documents, labels)` of one saved classifier, or the average over several: ULMFiT's
    forward+backward ensemble. Each classifier reads the texts through its own tokenizer in the length-sorted
    pipeline (`hf_ulmfit.inference.pipelines`: at most `batch_size` documents and `max_batch_tokens` padded tokens a
    batch); one model is in memory at a time. A multi-label classifier's are each label's own probability (sigmoid);
    a regression model's, its predicted values `(documents, 1)`."""
    import numpy as np

    from ..inference.pipelines import pipeline_over

    paths = [paths] if isinstance(paths, str) else list(paths)
    labels = ensemble_labels(paths)
    probabilities = []
    for path in paths:
        classify = pipeline_over(*load_classifier(path))
        results = classify(list(texts), batch_size=batch_size, max_batch_tokens=max_batch_tokens, top_k=None)
        column = {label: index for index, label in enumerate(labels)}
        scores = np.zeros((len(results), len(labels)), dtype=np.float32)
        for row, result in enumerate(results):
            for score in result:
                scores[row, column[score["label"]]] = score["score"]
        if not np.isfinite(scores).all():
            rows = np.flatnonzero(~np.isfinite(scores).all(-1)).tolist()
            raise ValueError(f"{path} gave NaN or infinite scores for document(s) {rows[:10]}: the model is broken.")
        probabilities.append(scores)
    return sum(probabilities) / len(probabilities), labels


def describe_predictions(config, texts: list[str], scores: "np.ndarray", labels: list[str]) -> list[dict]:
    """One result per text: ``label`` and ``scores`` (one class per text), ``labels`` at or above the saved
    threshold and ``scores`` (multi-label), or ``value`` (regression)."""
    if config.problem_type == "regression":
        return [{"text": text, "value": float(row[0])} for text, row in zip(texts, scores)]
    if config.problem_type == "multi_label_classification":
        threshold = config.multi_label_threshold or 0.5
        return [
            {
                "text": text,
                "labels": [label for label, p in zip(labels, row) if p >= threshold],
                "scores": {label: float(p) for label, p in zip(labels, row)},
            }
            for text, row in zip(texts, scores)
        ]
    return [
        {
            "text": text,
            "label": labels[int(row.argmax())],
            "scores": {label: float(p) for label, p in zip(labels, row)},
        }
        for text, row in zip(texts, scores)
    ]


def result_line(result: dict) -> str:
    """What `predict` prints for one text: the label (or labels, or value), its score, the text."""
    if "value" in result:
        return f"{result['value']:.4g}\t{result['text']}"
    if "labels" in result:
        chosen = ",".join(result["labels"]) or "-"
        return f"{chosen}\t{result['text']}"
    return f"{result['label']}\t{result['scores'][result['label']]:.3f}\t{result['text']}"


def predict(args: PredictArguments) -> list[dict]:
    from .checks import require_model_folder

    paths = ensemble_paths(args)
    for path, what in zip(paths, ("classifier", "backward classifier")):
        require_model_folder(path, what)
    ensemble_labels(paths)
    texts = read_texts(args)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(paths[0])
    probabilities, labels = class_probabilities(paths, texts, args.batch_size, args.max_batch_tokens)
    results = describe_predictions(config, texts, probabilities, labels)
    explanations = explain_results(args, texts, results) if args.explain else None
    lines = [json.dumps(result) for result in results]
    if args.output_file:
        Path(args.output_file).write_text("\n".join(lines) + "\n")
    else:
        for index, result in enumerate(results):
            print(result_line(result))
            if explanations:
                print("  " + format_explanation(explanations[index], args.explain_top_k).replace("\n", "\n  "))
    return results


def format_explanation(explanation, top_k: int) -> str:
    from ..evaluation.explanations import format_explanation as formatted

    return formatted(explanation, top_k)


def explain_results(args: PredictArguments, texts: list[str], results: list[dict]):
    """`--explain`: each text's token attributions (of the classifier of --model_name_or_path), added to its result
    as ``explanation`` and written as an HTML highlight to --explain_html."""
    from ..evaluation.explanations import explain, explanations_html

    model, tokenizer = load_classifier(args.model_name_or_path)
    explanations = [explain(model, tokenizer, text, method=args.explain_method) for text in texts]
    for result, explanation in zip(results, explanations):
        result["explanation"] = {
            "target": explanation.target,
            "top_tokens": explanation.top_tokens(args.explain_top_k),
            "tokens": explanation.tokens,
            "scores": explanation.scores.tolist(),
            **({"attention": explanation.attention.tolist()} if explanation.attention is not None else {}),
        }
    Path(args.explain_html).write_text(explanations_html(explanations), encoding="utf-8")
    logger.info("wrote the explanations' highlights to %s", args.explain_html)
    return explanations


def generate(args: GenerateArguments) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    from .checks import check_tokenizer_fits, load_pretrained

    set_seed(args.seed)
    model = load_pretrained(AutoModelForCausalLM, args.model_name_or_path, "language model", kinds=("language model",))
    model = model.to(device()).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    check_tokenizer_fits(tokenizer, model.config, args.model_name_or_path)
    drafting = drafting_arguments(args, model)
    inputs = tokenizer(args.prompt, return_tensors="pt").to(model.device)
    sampling = dict(temperature=args.temperature, top_k=args.top_k) if args.do_sample else {}
    sequences = model.generate(
        **inputs,
        max_new_tokens=args.max_new_tokens,
        do_sample=args.do_sample,
        num_beams=args.num_beams,
        num_return_sequences=args.num_return_sequences,
        **sampling,
        **drafting,
    )
    texts = [
        prompt_with_continuation(tokenizer, args.prompt, inputs["input_ids"][0], sequence) for sequence in sequences
    ]
    for text in texts:
        print(text)
    return texts


def drafting_arguments(args: GenerateArguments, model) -> dict:
    """`generate()` arguments for prompt-lookup or assisted decoding, checked before the run: transformers drafts
    only for greedy decoding and sampling of one sequence, and the assistant must share the model's vocabulary."""
    from transformers import AutoModelForCausalLM

    from .checks import load_pretrained

    if args.prompt_lookup_num_tokens is None and args.assistant_model is None:
        return {}
    if args.prompt_lookup_num_tokens is not None and args.assistant_model is not None:
        raise ValueError("give --prompt_lookup_num_tokens or --assistant_model, not both")
    flag = "--prompt_lookup_num_tokens" if args.assistant_model is None else "--assistant_model"
    if args.num_beams > 1 or args.num_return_sequences > 1:
        raise ValueError(f"{flag} drafts for one sequence without beams: drop --num_beams/--num_return_sequences")
    if args.prompt_lookup_num_tokens is not None:
        if args.prompt_lookup_num_tokens < 1:
            raise ValueError(f"--prompt_lookup_num_tokens must be at least 1, got {args.prompt_lookup_num_tokens}")
        return {"prompt_lookup_num_tokens": args.prompt_lookup_num_tokens}
    assistant = load_pretrained(
        AutoModelForCausalLM, args.assistant_model, "assistant language model", kinds=("language model",)
    )
    if assistant.config.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"--assistant_model {args.assistant_model} has a vocabulary of {assistant.config.vocab_size} tokens, "
            f"the model {model.config.vocab_size}: the assistant must use the same tokenizer"
        )
    return {"assistant_model": assistant.to(model.device).eval()}


def prompt_with_continuation(tokenizer, prompt: str, prompt_ids, sequence) -> str:
    """The prompt as typed, then the continuation as it reads when decoded together with the prompt: decoding the new
    tokens alone would drop the space before the first word ("What is the" + "name" -> "What is thename")."""
    decoded = tokenizer.decode(sequence, skip_special_tokens=True)
    decoded_prompt = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    if decoded.startswith(decoded_prompt):
        return prompt + decoded[len(decoded_prompt) :]
    return decoded  # the tokenizer normalised the prompt (e.g. lowercasing): show what the model read
