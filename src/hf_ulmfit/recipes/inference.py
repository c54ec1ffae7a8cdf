"""`hf-ulmfit predict` and `hf-ulmfit generate`: transformers pipelines on saved folders."""

import json
from dataclasses import dataclass, field
from pathlib import Path

# torch and transformers are imported inside the functions, so `hf-ulmfit predict --help` stays fast.


@dataclass
class PredictArguments:
    model_name_or_path: str = field(metadata={"help": "A saved classifier folder."})
    texts: list[str] = field(default_factory=list, metadata={"help": "Texts to classify."})
    input_file: str | None = field(default=None, metadata={"help": "A text file: one document per line."})
    output_file: str | None = field(default=None, metadata={"help": "Write JSON lines here instead of printing."})
    backward_model_name_or_path: str | None = field(
        default=None, metadata={"help": "A backward classifier to ensemble with (probabilities averaged)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Documents per batch."})


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


def read_texts(args: PredictArguments) -> list[str]:
    texts = list(args.texts)
    if args.input_file:
        path = Path(args.input_file)
        if not path.is_file():
            raise FileNotFoundError(f"input file {path} not found")
        texts += [line.rstrip("\n") for line in path.read_text().splitlines()]
    empty = [index for index, text in enumerate(texts) if not text.strip()]
    if not texts:
        raise ValueError("nothing to classify: give --texts or --input_file")
    if empty:
        raise ValueError(f"texts {empty} are empty (0-based, --texts first, then --input_file lines)")
    return texts


def predict(args: PredictArguments) -> list[dict]:
    import torch

    from ..export.pipelines import text_classification_pipeline  # PyTorch or ONNX folders alike

    texts = read_texts(args)
    paths = [args.model_name_or_path] + ([args.backward_model_name_or_path] if args.backward_model_name_or_path else [])
    scores = None
    for path in paths:
        classify = text_classification_pipeline(path, device="cpu" if not torch.cuda.is_available() else 0)
        outputs = classify(texts, top_k=None, batch_size=args.batch_size)
        model_scores = [{entry["label"]: entry["score"] for entry in output} for output in outputs]
        scores = model_scores if scores is None else [
            {label: (a[label] + b[label]) / 2 for label in a} for a, b in zip(scores, model_scores)
        ]
    results = [{"text": text, "label": max(score, key=score.get), "scores": score} for text, score in zip(texts, scores)]
    lines = [json.dumps(result) for result in results]
    if args.output_file:
        Path(args.output_file).write_text("\n".join(lines) + "\n")
    else:
        for result in results:
            print(f"{result['label']}\t{result['scores'][result['label']]:.3f}\t{result['text']}")
    return results


def generate(args: GenerateArguments) -> list[str]:
    import torch
    from transformers import pipeline, set_seed

    set_seed(args.seed)
    generator = pipeline("text-generation", model=args.model_name_or_path,
                         device="cpu" if not torch.cuda.is_available() else 0)
    outputs = generator(
        args.prompt, max_new_tokens=args.max_new_tokens, do_sample=args.do_sample, temperature=args.temperature,
        top_k=args.top_k, num_beams=args.num_beams, num_return_sequences=args.num_return_sequences,
    )
    texts = [output["generated_text"] for output in outputs]
    for text in texts:
        print(text)
    return texts
