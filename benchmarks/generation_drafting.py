"""Drafting decoders against plain greedy decoding on the shared LM: prompt lookup (`prompt_lookup_num_tokens`) and
assisted decoding (`assistant_model`), all greedy, so every mode must return greedy's tokens (checked). Prompts are
the openings of held-out Wikipedia articles (wiki-07), each followed by a repeat of its first sentence-sized span, so
prompt lookup has n-grams to copy from, as in the summarising and editing tasks it was made for. Writes the section
"generation-drafting" of benchmarks/RESULTS-inference.md and prints one JSON line per mode.

    python -m benchmarks.generation_drafting [--model PATH] [--assistant PATH] [--prompts 8] [--new_tokens 48]

The assistants here have the model's size (the shared LM's earlier snapshot, and the model itself), so they cannot
make decoding faster: they measure what drafting costs an LSTM and how often drafts are accepted.
"""

import argparse
import json
import os
import statistics
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

import hf_ulmfit  # noqa: F401  (registers the model classes)
from benchmarks.bench_utils import DATA, ROOT, held_out_texts, machine_facts, write_marked_section
from hf_ulmfit.models.awd_lstm.modeling_awd_lstm import AwdLstmCacheLayer


MODELS = ROOT.parent / "shared" / "models"


def prompts(tokenizer, count: int, length: int) -> list[torch.Tensor]:
    """`count` prompts of `length` tokens: an article's opening, then its first `length // 3` tokens again."""
    texts = [text for text in held_out_texts() if len(text) > 4000][:count]
    out = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"][:, : length - length // 3]
        out.append(torch.cat([ids, ids[:, 1 : 1 + length // 3]], 1))
    return out


def run(model, prompt, new_tokens, **drafting) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, **drafting)
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODELS / "wiki-awd-lstm-192-576-u12k-fwd-v3"))
    parser.add_argument("--assistant", default=str(MODELS / "wiki-awd-lstm-192-576-u12k-fwd"))
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--prompt_tokens", type=int, default=96)
    parser.add_argument("--new_tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    assistant = AutoModelForCausalLM.from_pretrained(args.assistant).eval()
    self_assistant = AutoModelForCausalLM.from_pretrained(args.model).eval()
    for helper in (assistant, self_assistant):
        helper.generation_config.assistant_confidence_threshold = 0.0  # draft the full count each round
        helper.generation_config.num_assistant_tokens_schedule = "constant"
        helper.generation_config.num_assistant_tokens = 4
    modes = {
        "greedy": {},
        "prompt lookup, 3 tokens": dict(prompt_lookup_num_tokens=3),
        "prompt lookup, 10 tokens": dict(prompt_lookup_num_tokens=10),
        "assisted, earlier snapshot (same size), 4 tokens": dict(assistant_model=assistant),
        "assisted, the model itself, 4 tokens": dict(assistant_model=self_assistant),
    }
    taken_back = []
    roll_back = AwdLstmCacheLayer.roll_back
    AwdLstmCacheLayer.roll_back = lambda layer, n: (taken_back.append(n), roll_back(layer, n))[1]
    seconds = {mode: [] for mode in modes}
    rejected = {mode: 0 for mode in modes}
    with torch.no_grad():
        batch = prompts(tokenizer, args.prompts, args.prompt_tokens)
        run(model, batch[0], 4)  # warm-up
        for prompt in batch:
            reference = None
            for mode, drafting in modes.items():  # modes alternate prompt by prompt: load drifts hit all alike
                taken_back.clear()
                out, elapsed = run(model, prompt, args.new_tokens, **drafting)
                reference = out if reference is None else reference
                if not torch.equal(out, reference):
                    raise SystemExit(f"{mode} gave other tokens than greedy decoding")
                seconds[mode].append(elapsed)
                rejected[mode] += sum(taken_back) // model.config.num_layers
    greedy = statistics.median(seconds["greedy"])
    rows = []
    for mode in modes:
        median = statistics.median(seconds[mode])
        row = dict(
            mode=mode,
            median_s=round(median, 4),
            ms_per_token=round(1000 * median / args.new_tokens, 2),
            speed_vs_greedy=round(greedy / median, 3),
            tokens_rolled_back_per_prompt=round(rejected[mode] / len(batch), 1),
        )
        rows.append(row)
        print(json.dumps(row))
    lines = [
        "## Drafting decoders: prompt lookup and assisted decoding against greedy",
        "",
        f"`python -m benchmarks.generation_drafting --prompts {args.prompts} --new_tokens {args.new_tokens} "
        f"--threads {args.threads}` on {time.strftime('%Y-%m-%d')}: {machine_facts()['cpu']}, {os.cpu_count()} cores "
        "shared with other jobs, "
        f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} thread(s). Model "
        f"{args.model.split('/')[-1]}; {len(batch)} prompts of {args.prompt_tokens} tokens from held-out wiki-07 "
        f"articles ({DATA.name}/), each ending in a repeat of its first third; {args.new_tokens} new tokens each, "
        "greedy. Every mode returned greedy's tokens (checked per prompt). Medians over the prompts; modes "
        "alternate prompt by prompt.",
        "",
        "| mode | median s per prompt | ms per new token | speed vs greedy "
        "| tokens rolled back per prompt (model and assistant caches) |",
        "|---|---|---|---|---|",
        *[
            f"| {r['mode']} | {r['median_s']} | {r['ms_per_token']} | {r['speed_vs_greedy']}x | "
            f"{r['tokens_rolled_back_per_prompt']} |"
            for r in rows
        ],
        "",
        "An LSTM reads a token in constant time and already carries its state, so a drafted token checked in one "
        "forward saves only per-call overhead, while each drafted token the model reads must be read as its own "
        "call (the fused kernel returns only the last state, and `crop` needs the state before every draft). "
        "Drafting therefore does not speed up this model on a CPU; the same-size assistants show the cost of the "
        "mechanism, not a use case (a useful assistant would be much smaller than the model).",
    ]
    write_marked_section(ROOT / "benchmarks" / "RESULTS-inference.md", "generation-drafting", "\n".join(lines))


if __name__ == "__main__":
    main()
