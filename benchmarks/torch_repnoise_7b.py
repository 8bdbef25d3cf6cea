#!/usr/bin/env python3
"""The GPU peer for issue 15's scale target: on a Llama-2-7B-shaped model (random init from the config:
32 layers, 4,096 wide, 32 heads, 11,008 MLP, vocab 32,000) in pure bf16 (weights, gradients and AdamW
state; no autocast, no activation checkpointing), batch 4 x 256:
  - a plain fine-tuning step (next-token cross-entropy, AdamW);
  - a RepNoise-style step as ward's defence::repnoise computes it: stability (cross-entropy on the
    harmless batch) - alpha * ascent (log(1 + the logit-lens cross-entropy of the harmful batch over
    all L + 1 hidden states, the final one counted twice, as ward and the reference implementation
    do)) + beta * noise (5-bandwidth Gaussian-kernel MMD between every layer's harmful MLP output and
    N(0, I) samples, averaged over layers).
Prints the median step time (CUDA events), tokens/s of the harmful batch and peak memory allocated.

    python3 torch_repnoise_7b.py [--steps N] [--small]
      --small: a 2-layer, 64-wide model at batch 2 x 16, to check the script itself (runs on the CPU too)
Exits 77 without transformers, or without a GPU unless --small.
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F

try:
    from transformers import LlamaConfig, LlamaForCausalLM
except ImportError:
    print("torch_repnoise_7b: transformers is not installed; nothing measured (skipped)")
    sys.exit(77)


def mmd(x, y):
    """Biased squared MMD of (n, d) and (m, d) samples, kernel sum over b0 * {1/4, 1/2, 1, 2, 4},
    b0 the mean squared distance over distinct pairs of the pooled samples (no gradient)."""
    z = torch.cat([x, y]).float()
    sq = (z * z).sum(-1, keepdim=True)
    dist = sq + sq.t() - 2 * z @ z.t()
    n_all = z.shape[0]
    b0 = (dist.detach().sum() / (n_all * n_all - n_all)).clamp_min(1e-12)
    k = sum(torch.exp(-dist / (b0 * s)) for s in (0.25, 0.5, 1.0, 2.0, 4.0))
    n = x.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--beta", type=float, default=1e-3)
    ap.add_argument("--small", action="store_true")
    o = ap.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not o.small:
        print("torch_repnoise_7b: no CUDA device found; nothing measured (skipped)")
        sys.exit(77)
    dev = torch.device("cuda" if cuda else "cpu")
    if o.small:
        cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
        batch, seq = 2, 16
    else:
        cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                          num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                          rms_norm_eps=1e-5, tie_word_embeddings=False)
        batch, seq = 4, 256
    torch.manual_seed(0)
    with torch.device(dev):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.train()
    model.config.use_cache = False
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    harmful = torch.randint(0, cfg.vocab_size, (batch, seq), device=dev)
    harmless = torch.randint(0, cfg.vocab_size, (batch, seq), device=dev)
    layers = cfg.num_hidden_layers
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0) if cuda else 'cpu'}: Llama {layers}x{cfg.hidden_size}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, bf16, batch {batch} x {seq}", flush=True)

    mlp_out = []
    hooks = [layer.mlp.register_forward_hook(lambda m, i, out: mlp_out.append(out)) for layer in model.model.layers]

    def next_token_ce(logits, ids):
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))

    def plain_step():
        mlp_out.clear()
        optimiser.zero_grad(set_to_none=True)
        loss = next_token_ce(model(input_ids=harmful).logits, harmful)
        loss.backward()
        optimiser.step()
        return loss

    def repnoise_step():
        optimiser.zero_grad(set_to_none=True)
        mlp_out.clear()
        stability = next_token_ce(model(input_ids=harmless).logits, harmless)
        mlp_out.clear()
        out = model(input_ids=harmful, output_hidden_states=True)
        hs = out.hidden_states  # embeddings, then each layer's output (the last after the final norm)
        lens = 2 * next_token_ce(out.logits, harmful)
        for h in hs[:-1]:
            lens = lens + next_token_ce(model.lm_head(model.model.norm(h)), harmful)
        ascent = torch.log1p(lens / (layers + 1))
        noise = sum(mmd(h.reshape(batch, -1), torch.randn_like(h).reshape(batch, -1)) for h in mlp_out) / len(mlp_out)
        loss = stability - o.alpha * ascent + o.beta * noise
        loss.backward()
        optimiser.step()
        return loss

    for name, step in (("plain fine-tuning", plain_step), ("RepNoise", repnoise_step)):
        for _ in range(2):
            loss = step()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(o.steps):
            t0 = time.perf_counter()
            loss = step()
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        median = sorted(times)[len(times) // 2]
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
        assert math.isfinite(loss.item()), f"{name}: loss {loss.item()}"
        print(f"{name}: step {median * 1e3:.0f} ms, {batch * seq / median:,.0f} tokens/s (harmful batch), "
              f"peak {peak:.1f} GiB, loss {loss.item():.3f}", flush=True)
    for h in hooks:
        h.remove()


if __name__ == "__main__":
    main()
