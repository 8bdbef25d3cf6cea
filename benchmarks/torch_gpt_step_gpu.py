#!/usr/bin/env python3
"""The GPU peer for issue 15's targets: one training step of GPT-2 124M (12 layers, 768 wide, 12 heads,
vocab 50,304, tied embeddings; the model of torch_gpt_step.py) at batch 16 x 1,024 tokens, bf16
autocast, fused AdamW, eager and under torch.compile; CUDA-event timing (median of the steps after
warm-up); tokens/s and MFU against a dense bf16 peak (989 TFLOP/s, an H100/H200 SXM) counting
6N + 12 L T C FLOPs per token (weights and attention, as nanoGPT's estimate_mfu does).

    python3 torch_gpt_step_gpu.py [--steps N] [--no-compile] [--peak-tflops P] [--small]
      --small: a 2-layer, 64-wide model at batch 2 x 64, to check the script itself (runs on the CPU too)
Exits 77 without a GPU unless --small.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gpt_model import Gpt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--small", action="store_true")
    o = ap.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not o.small:
        print("torch_gpt_step_gpu: no CUDA device found; nothing measured (skipped)")
        sys.exit(77)
    dev = torch.device("cuda" if cuda else "cpu")
    layers, width, heads, vocab, seq, batch = (2, 64, 4, 512, 64, 2) if o.small else (12, 768, 12, 50304, 1024, 16)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0) if cuda else 'cpu'}: GPT-2 {layers}x{width}, "
          f"vocab {vocab}, batch {batch} x {seq}, bf16 autocast, AdamW(fused={cuda})", flush=True)
    for tag in ["eager"] + ([] if o.no_compile else ["compiled"]):
        torch.manual_seed(0)
        model = Gpt(layers, width, heads, vocab, seq).to(dev)
        params = sum(p.numel() for p in model.parameters())
        optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)
        step_model = torch.compile(model) if tag == "compiled" else model
        ids = torch.randint(0, vocab, (batch, seq), device=dev)
        targets = torch.randint(0, vocab, (batch, seq), device=dev)

        def step():
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss = step_model(ids, targets)
            loss.backward()
            optimiser.step()
            return loss

        compile_start = time.perf_counter()
        for _ in range(3):  # warm-up: allocator, autotuning, compilation
            loss = step()
        if cuda:
            torch.cuda.synchronize()
        warm_s = time.perf_counter() - compile_start
        times = []
        for _ in range(o.steps):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                loss = step()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                loss = step()
                times.append(time.perf_counter() - t0)
        median = sorted(times)[len(times) // 2]
        tokens = batch * seq
        flops_per_token = 6 * params + 12 * layers * seq * width
        mfu = flops_per_token * tokens / median / (o.peak_tflops * 1e12)
        peak_mem = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
        print(f"{tag}: step {median * 1e3:.1f} ms, {tokens / median:,.0f} tokens/s, MFU {mfu * 100:.1f}% "
              f"(params {params:,}, loss {loss.item():.3f}, warm-up {warm_s:.1f} s, peak {peak_mem:.1f} GiB)", flush=True)
        del model, optimiser, step_model
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    main()
