"""Cost of the QRNN's forget-mult on CPU: the chunked scan (`hf_ulmfit.models.awd_lstm.qrnn.forget_mult`) against a
plain loop over time steps, and one whole QRNN layer against one LSTM layer of the same width.

Not part of `run.sh`. One thread by default (`--threads`), batch 64 x 72 steps x 1152 units (the AWD-LSTM's
pretraining batch and inner width); prints one JSON line with the median milliseconds of each measurement, in CPU
time of the process (on shared cores wall-clock stretches with the other jobs; with one thread, CPU time is the
kernel's own cost). `--device cuda` measures on a GPU instead, in wall-clock with the device synchronised.

    python -m benchmarks.forget_mult
    python -m benchmarks.forget_mult --device cuda
"""

import argparse
import json
import os
import statistics
import time

import torch

from hf_ulmfit.models.awd_lstm.modeling_awd_lstm import WeightDroppedLstm
from hf_ulmfit.models.awd_lstm.qrnn import WeightDroppedQrnn, forget_mult


def loop_forget_mult(forget, candidate, initial):
    """The recurrence as defined, one Python step per time step (what the scan replaces)."""
    state, states = initial, []
    for step in range(forget.size(1)):
        state = forget[:, step] * state + (1 - forget[:, step]) * candidate[:, step]
        states.append(state)
    return torch.stack(states, 1)


DEVICE = torch.device("cpu")


def median_ms(function, repeats: int) -> float:
    on_gpu = DEVICE.type == "cuda"
    clock = time.perf_counter if on_gpu else time.process_time
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        if on_gpu:
            torch.cuda.synchronize()
        times.append((clock() - start) * 1000)
    return round(statistics.median(times), 2)


def recurrence_timings(kernel, batch, length, width, repeats) -> dict:
    generator = torch.Generator().manual_seed(0)
    forget = torch.rand(batch, length, width, generator=generator).to(DEVICE).requires_grad_()
    candidate = torch.randn(batch, length, width, generator=generator).to(DEVICE).requires_grad_()
    initial = torch.randn(batch, width, generator=generator).to(DEVICE).requires_grad_()
    grad = torch.randn(batch, length, width, generator=generator).to(DEVICE)

    def forward():
        with torch.no_grad():
            kernel(forget, candidate, initial)

    def forward_backward():
        kernel(forget, candidate, initial).backward(grad)

    return {"forward_ms": median_ms(forward, repeats), "forward_backward_ms": median_ms(forward_backward, repeats)}


def layer_timing(layer, batch, length, repeats) -> float:
    layer.to(DEVICE).train()
    for parameter in layer.parameters():
        torch.nn.init.uniform_(parameter, -0.05, 0.05)
    inputs = torch.randn(batch, length, layer.input_size, device=DEVICE, requires_grad=True)
    state = layer.initial_state(batch, inputs)

    def forward_backward():
        output, _ = layer(inputs, state)
        output.sum().backward()

    return median_ms(forward_backward, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=72)
    parser.add_argument("--width", type=int, default=1152)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    shape = (args.batch, args.length, args.width)
    result = {
        "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu",
        "threads": args.threads,
        "batch": args.batch,
        "length": args.length,
        "width": args.width,
        "scan": recurrence_timings(forget_mult, *shape, args.repeats),
        "loop": recurrence_timings(loop_forget_mult, *shape, args.repeats),
        # Layer with the width in and out, training mode (DropConnect drawn), forward + backward of the output sum.
        "qrnn_layer_forward_backward_ms": layer_timing(
            WeightDroppedQrnn(args.width, args.width, 0.2, window=1), args.batch, args.length, args.repeats
        ),
        "lstm_layer_forward_backward_ms": layer_timing(
            WeightDroppedLstm(args.width, args.width, 0.2), args.batch, args.length, max(1, args.repeats // 2)
        ),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
