#!/usr/bin/env python3
"""The PyTorch peer of bench_gpt_step: one GPT-2-style training step on the CPU (pre-norm blocks,
fused qkv, causal attention, tanh GELU, tied embeddings, cross-entropy, AdamW), the same model and
command line as ward's benchmark, so that compare_torch_gpt.sh can print the ratio.

    torch_gpt_step.py LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS]

Prints the median seconds per step (after one warm-up step) and tokens/s. Run it with the same
OMP_NUM_THREADS as the ward benchmark; PyTorch from PyPI is the stronger peer (Debian's 1.13 needs
libopenblas0-openmp, or it falls back to the reference BLAS)."""
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

layers, width, heads, vocab, seq, batch = (int(v) for v in sys.argv[1:7])
steps = int(sys.argv[7]) if len(sys.argv) > 7 else 5
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=2)
        q, k, v = (t.view(batch, seq, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # PyTorch 1.x
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(width // heads)
            future = torch.triu(torch.ones(seq, seq, dtype=torch.bool), 1)
            y = scores.masked_fill(future, float("-inf")).softmax(-1) @ v
        x = x + self.out(y.transpose(1, 2).reshape(batch, seq, width))
        return x + self.down(F.gelu(self.up(self.norm2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, width), nn.Embedding(seq, width)
        self.blocks = nn.ModuleList(Block() for _ in range(layers))
        self.norm = nn.LayerNorm(width)

    def forward(self, ids, targets):
        x = self.tokens(ids) + self.positions(torch.arange(seq))
        for block in self.blocks:
            x = block(x)
        logits = self.norm(x) @ self.tokens.weight.t()
        return F.cross_entropy(logits.view(-1, vocab), targets.view(-1))


model = Gpt()
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
