#!/usr/bin/env python3
"""The PyTorch peer of bench_gpt_step: one GPT-2-style training step on the CPU (pre-norm blocks,
fused qkv, causal attention, tanh GELU, tied embeddings, cross-entropy, AdamW), the same model and
command line as ward's benchmark, so that compare_torch_gpt.sh can print the ratio.

    torch_gpt_step.py LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS]

Prints the median seconds per step (after one warm-up step) and tokens/s. Run it with the same
OMP_NUM_THREADS as the ward benchmark; PyTorch from PyPI is the stronger peer (Debian's 1.13 needs
libopenblas0-openmp, or it falls back to the reference BLAS)."""
import sys
import time

import torch

from torch_gpt_model import Gpt

layers, width, heads, vocab, seq, batch = (int(v) for v in sys.argv[1:7])
steps = int(sys.argv[7]) if len(sys.argv) > 7 else 5
torch.manual_seed(0)

model = Gpt(layers, width, heads, vocab, seq)
optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids, targets = torch.randint(0, vocab, (batch, seq)), torch.randint(0, vocab, (batch, seq))
times = []
for i in range(steps + 1):
    start = time.perf_counter()
    optimiser.zero_grad(set_to_none=True)
    loss = model(ids, targets)
    loss.backward()
    optimiser.step()
    if i:  # the first step warms up allocators and kernels
        times.append(time.perf_counter() - start)
median = sorted(times)[len(times) // 2]
params = sum(p.numel() for p in model.parameters())
print(f"torch {torch.__version__} threads={torch.get_num_threads()} params={params} loss={loss.item():.4f}")
print(f"step_s={median:.4f} tokens_per_s={batch * seq / median:.1f} approx_gflops={6 * params * batch * seq / median / 1e9:.1f}")
