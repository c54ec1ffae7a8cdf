"""Where int8 pays: one AWD-LSTM encoder's LSTM stack in fp32 (`torch.lstm`, oneDNN) against int8
(`torch.quantized_lstm`, fbgemm), at the widths of the shared LM (192/576/3) and of the standard AWD-LSTM
(400/1152/3), batched over long inputs as a classifier reads IMDb reviews. Prints one JSON line per width.

    python -m benchmarks.int8_lstm [--threads 1] [--batch 64] [--steps 288] [--repeats 5]

Random weights (the kernels' speed does not depend on their values); the layers are the model's own
(`WeightDroppedLstm` in eval mode, `Int8Lstm.from_float`), called as the encoder calls them.
"""

import argparse
import json
import statistics
import time

import torch

from hf_ulmfit.models.awd_lstm.modeling_awd_lstm import WeightDroppedLstm
from hf_ulmfit.models.awd_lstm_int8 import Int8Lstm


WIDTHS = {"shared LM (192/576/3)": (192, 576, 3), "standard (400/1152/3)": (400, 1152, 3)}


def lstm_stack(embedding: int, hidden: int, layers: int) -> list[WeightDroppedLstm]:
    sizes = [embedding] + [hidden] * (layers - 1) + [embedding]
    stack = [WeightDroppedLstm(sizes[i], sizes[i + 1], weight_dropout=0.0) for i in range(layers)]
    for layer in stack:
        for parameter in layer.parameters():
            torch.nn.init.uniform_(parameter, -(layer.hidden_size**-0.5), layer.hidden_size**-0.5)
        layer.eval()
    return stack


def median_seconds(stack, inputs: torch.Tensor, repeats: int, lengths: torch.Tensor | None = None) -> float:
    def run():
        hidden = inputs
        for layer in stack:
            hidden, _ = layer(hidden, layer.initial_state(inputs.size(0), inputs), lengths)

    with torch.no_grad():
        run()  # warm-up: kernel selection, weight packing
        durations = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=288)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, (embedding, hidden, layers) in WIDTHS.items():
        fp32 = lstm_stack(embedding, hidden, layers)
        int8 = [Int8Lstm.from_float(layer).eval() for layer in fp32]
        inputs = torch.randn(args.batch, args.steps, embedding)
        # Rows of one length, and padded rows of lengths between a quarter and all of the steps (a batch of reviews
        # of different lengths: both kernels then read packed sequences).
        ragged = torch.randint(args.steps // 4, args.steps + 1, (args.batch,))
        for rows, lengths in (("equal lengths", None), ("padded, ragged lengths", ragged)):
            fp32_seconds = median_seconds(fp32, inputs, args.repeats, lengths)
            int8_seconds = median_seconds(int8, inputs, args.repeats, lengths)
            tokens = args.batch * args.steps if lengths is None else int(lengths.sum())
            result = {
                "encoder": name,
                "rows": rows,
                "batch": args.batch,
                "steps": args.steps,
                "threads": args.threads,
                "fp32_tokens_per_s": round(tokens / fp32_seconds),
                "int8_tokens_per_s": round(tokens / int8_seconds),
                "int8_speedup": round(fp32_seconds / int8_seconds, 2),
            }
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
