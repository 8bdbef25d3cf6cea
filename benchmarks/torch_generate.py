#!/usr/bin/env python3
"""Peer of bench_generate: greedy generation with the KV cache in PyTorch + transformers, GPT-2 with
random weights. Usage: torch_generate.py [LAYERS EMBD HEADS VOCAB PROMPT NEW]; prints new tokens/s
for batch 1 and 8 with the cache and without (use_cache=False)."""
import sys, time, torch
from transformers import GPT2Config, GPT2LMHeadModel
a = [int(x) for x in sys.argv[1:7]] or [12, 768, 12, 50257, 16, 16]
L, C, H, V, P, N = a
torch.manual_seed(0)
m = GPT2LMHeadModel(GPT2Config(n_layer=L, n_embd=C, n_head=H, vocab_size=V, n_positions=1024)).eval()
print(f"torch {torch.__version__} threads={torch.get_num_threads()} layers={L} embd={C} vocab={V} prompt={P} new={N}")
for B in (1, 8):
    ids = torch.randint(0, V, (B, P)); rate = {}
    for cache in (True, False):
        kw = dict(do_sample=False, use_cache=cache, pad_token_id=0, attention_mask=torch.ones_like(ids))
        with torch.no_grad():
            m.generate(ids, max_new_tokens=2, min_new_tokens=2, **kw)
            best = 1e30
            for _ in range(2):
                t0 = time.perf_counter(); m.generate(ids, max_new_tokens=N, min_new_tokens=N, **kw)
                best = min(best, time.perf_counter() - t0)
        rate[cache] = B * N / best
    print(f"batch={B} cached_tokens_per_s={rate[True]:.1f} recompute_tokens_per_s={rate[False]:.1f}")
