"""Which tokens moved a classifier's prediction: attributions on the input embeddings, for any AWD-LSTM classifier,
and the attention weights of one with attention pooling (``config.pooling="attention"``).

- ``integrated_gradients`` (default): the embeddings scaled from zero to their value in `steps` steps, the
  gradient of the explained output averaged along that path, times the embedding, summed over its width (Sundararajan
  et al., 2017); the token scores add up to the output's change from the all-zero input (completeness).
- ``gradient_x_input``: one gradient at the input, times the embedding (one backward pass).

Positive scores pushed the explained output up, negative ones down; tokens are ranked by size. The output is the
predicted class's log-probability (a class gains only against the others: its logit alone can rise while it loses),
a multi-label classifier's top label's logit, or a regression value. Each text runs as one chunk (the classifier's
`bptt` and `max_len` are lifted to its length for the call), so the gradient reaches every token: BPT3C would stop it
at the chunk boundaries.
"""

import html
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch


METHODS = ("integrated_gradients", "gradient_x_input")


@dataclass
class Explanation:
    """One text's explanation: its tokens, the attribution of each (and its attention weight, when the classifier
    pools by attention), and the output explained."""

    text: str
    tokens: list[str]
    scores: np.ndarray  # (tokens,) attribution to the explained output
    target: str  # the label (or regression target) explained
    output: float  # the explained log-probability, logit or value
    attention: np.ndarray | None = None  # (tokens,) attention pooling weights, summing to 1
    method: str = "integrated_gradients"
    extra: dict = field(default_factory=dict)

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        """The `k` tokens with the largest attributions in size, largest first, with their signed scores."""
        order = np.argsort(-np.abs(self.scores), kind="stable")[:k]
        return [(self.tokens[i], float(self.scores[i])) for i in order]


@contextmanager
def _whole_text_in_one_chunk(model, length: int):
    config = model.config
    saved = config.bptt, config.max_len
    config.bptt, config.max_len = max(length, saved[0]), max(length, saved[1])
    try:
        yield
    finally:
        config.bptt, config.max_len = saved


def _explained_output(config, logits: torch.Tensor, index: int) -> torch.Tensor:
    """The log-probability of class `index` (one class per text), else its logit or the regressed value."""
    if config.problem_type in ("multi_label_classification", "regression") or logits.size(-1) == 1:
        return logits[..., index]
    return logits.float().log_softmax(-1)[..., index]


def _target_index(config, logits: torch.Tensor, target: int | str | None) -> int:
    if isinstance(target, str):
        return config.label2id[target]
    if target is not None:
        return int(target)
    return int(logits.argmax()) if logits.numel() > 1 else 0


def explain(
    model, tokenizer, text: str, target: int | str | None = None, method: str = "integrated_gradients", steps: int = 16
) -> Explanation:
    """Attribute `model`'s output for `text` to its tokens (see the module docstring for `method`). `target` names the
    label (or class id) to explain; default: the predicted one."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if not hasattr(model, "awd_lstm") or model.config.model_type != "awd_lstm":
        raise ValueError(
            f"{type(model).__name__} has no embedding gradients to explain (int8 and ONNX models): explain the "
            "fp32 classifier folder it was exported from."
        )
    model.eval()
    input_ids = torch.tensor([tokenizer(text)["input_ids"]], device=model.device)
    # Each encoder (a bidirectional classifier has two) looks its embeddings up in its own reading order.
    encoders = [(model.awd_lstm, model.config.backwards)]
    if getattr(model, "awd_lstm_backward", None) is not None:
        encoders.append((model.awd_lstm_backward, not model.config.backwards))
    scale, captured = [1.0], {}

    def hook(position: int):
        def scaled_embedding(module, inputs, output):
            output = output * scale[0]
            if output.requires_grad:
                output.retain_grad()
                captured[position] = output
            return output

        return scaled_embedding

    alphas = [1.0] if method == "gradient_x_input" else [(k + 0.5) / steps for k in range(steps)]
    gradients = [torch.zeros(input_ids.size(1), e.embeddings.embedding_dim, device=model.device) for e, _ in encoders]
    handles = [encoder.embeddings.register_forward_hook(hook(i)) for i, (encoder, _) in enumerate(encoders)]
    try:
        with _whole_text_in_one_chunk(model, input_ids.size(1)), torch.enable_grad():
            with torch.no_grad():
                scale[0] = 1.0
                outputs = model(input_ids=input_ids)
            logits = outputs.logits[0].float()
            index = _target_index(model.config, logits, target)
            for alpha in alphas:
                scale[0] = alpha
                captured.clear()
                model.zero_grad(set_to_none=True)
                _explained_output(model.config, model(input_ids=input_ids).logits[0], index).backward()
                for position in range(len(encoders)):
                    gradients[position] += captured[position].grad[0].float()
            scale[0] = 1.0
            full = [encoder.embeddings(input_ids)[0].float().detach() for encoder, _ in encoders]
    finally:
        for handle in handles:
            handle.remove()
        model.zero_grad(set_to_none=True)
    scores = torch.zeros(input_ids.size(1), device=model.device)
    for (_, backwards), gradient, embedded in zip(encoders, gradients, full):
        per_step = (gradient / len(alphas) * embedded).sum(-1)
        scores += per_step.flip(0) if backwards else per_step  # a backward reader looked tokens up from the end
    attention = outputs.pooling_weights
    names = model.config.id2label
    return Explanation(
        text=text,
        tokens=tokenizer.convert_ids_to_tokens(input_ids[0].tolist()),
        scores=scores.detach().cpu().numpy(),
        target=str(names.get(index, index)),
        output=float(_explained_output(model.config, logits, index)),
        attention=None if attention is None else attention[0].float().cpu().numpy(),
        method=method,
    )


def format_explanation(explanation: Explanation, top_k: int = 5) -> str:
    """Terminal text: the explained label, then the tokens that moved it most, with signed scores (and attention)."""
    head = f"{explanation.target} ({explanation.output:.3f}) <- "
    parts = [f"{token} {score:+.3f}" for token, score in explanation.top_tokens(top_k)]
    lines = [head + ", ".join(parts)]
    if explanation.attention is not None:
        order = np.argsort(-explanation.attention, kind="stable")[:top_k]
        lines.append(
            "  attention: " + ", ".join(f"{explanation.tokens[i]} {explanation.attention[i]:.3f}" for i in order)
        )
    return "\n".join(lines)


def _highlighted(tokens: list[str], values: np.ndarray, signed: bool) -> str:
    peak = float(np.abs(values).max()) or 1.0
    spans = []
    for token, value in zip(tokens, values):
        strength = abs(float(value)) / peak
        colour = "220,40,40" if value >= 0 or not signed else "40,90,220"
        spans.append(
            f'<span title="{value:+.4f}" style="background: rgba({colour},{strength:.3f})">{html.escape(token)}</span>'
        )
    return " ".join(spans)


def explanations_html(explanations: list[Explanation]) -> str:
    """A standalone HTML page: each text's tokens shaded by attribution (red pushed the label up, blue down; hover
    for the score), and by attention weight where the classifier pools by attention."""
    rows = []
    for explanation in explanations:
        rows.append(
            f"<h3>{html.escape(explanation.target)} ({explanation.output:.3f}, {explanation.method})</h3>"
            f"<p>{_highlighted(explanation.tokens, explanation.scores, signed=True)}</p>"
        )
        if explanation.attention is not None:
            rows.append(f"<p><i>attention</i>: {_highlighted(explanation.tokens, explanation.attention, False)}</p>")
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>hf-ulmfit explanations</title></head>'
        '<body style="font-family: sans-serif">' + "\n".join(rows) + "</body></html>\n"
    )
