#!/usr/bin/env python3
"""Peer of bench_generate: greedy generation with the KV cache in PyTorch + transformers, GPT-2 with
random weights. Usage: torch_generate.py [--device cpu|cuda] [LAYERS EMBD HEADS VOCAB PROMPT NEW];
prints new tokens/s for batch 1 and 8 with the cache and without (use_cache=False). Exits 77 where
torch or transformers is missing, or --device cuda finds no GPU."""
import sys, time
try:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
except ImportError as e:
    print(f"torch_generate: {e} (skipped)"); sys.exit(77)
args = sys.argv[1:]
device = "cpu"
if "--device" in args:
    k = args.index("--device"); device = args[k + 1]; del args[k:k + 2]
if device == "cuda" and not torch.cuda.is_available():
    print("torch_generate: no CUDA device (skipped)"); sys.exit(77)
a = [int(x) for x in args[:6]] or [12, 768, 12, 50257, 16, 16]
L, C, H, V, P, N = a
torch.manual_seed(0)
m = GPT2LMHeadModel(GPT2Config(n_layer=L, n_embd=C, n_head=H, vocab_size=V, n_positions=1024)).eval().to(device)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
print(f"torch {torch.__version__} device={device} threads={torch.get_num_threads()} layers={L} embd={C} vocab={V} prompt={P} new={N}")
for B in (1, 8):
    ids = torch.randint(0, V, (B, P), device=device); rate = {}
    for cache in (True, False):
        kw = dict(do_sample=False, use_cache=cache, pad_token_id=0, attention_mask=torch.ones_like(ids))
        with torch.no_grad():
            m.generate(ids, max_new_tokens=2, min_new_tokens=2, **kw)
            best = 1e30
            for _ in range(2):
                sync(); t0 = time.perf_counter(); m.generate(ids, max_new_tokens=N, min_new_tokens=N, **kw); sync()
                best = min(best, time.perf_counter() - t0)
        rate[cache] = B * N / best
    print(f"batch={B} cached_tokens_per_s={rate[True]:.1f} recompute_tokens_per_s={rate[False]:.1f}")
