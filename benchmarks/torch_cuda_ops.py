#!/usr/bin/env python3
"""The PyTorch peer of bench_cuda, run in the same device job (scripts/gpu-check.sh packs it): the same
element-wise, broadcast, strided and reduction work on the same sizes, eager and under torch.compile,
against the same D2D copy, timed with CUDA events (mean of 20 runs after warm-up); then what bench_cuda
does not cover yet, as the targets of issue 16: matmul 4096^3 / 8192^3 in f32, TF32 and bf16, one AdamW
step over GPT-2 small's 124M parameters in 148 tensors (fused and foreach), and causal attention forward +
backward (SDPA, bf16 and f32, batch 16, 12 heads of 64, T = 1024).

    python3 torch_cuda_ops.py [ELEMENTS] [--no-compile]      (default 64M f32; exits 77 without a GPU)
"""
import sys
import time

import torch
import torch.nn.functional as F

REPS = 20


def time_ms(fn, reps=REPS):
    fn()  # warm-up (and compilation)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main():
    if not torch.cuda.is_available():
        print("torch_cuda_ops: no CUDA device found; nothing measured (skipped)")
        sys.exit(77)
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    compile_too = "--no-compile" not in sys.argv
    n = int(args[0]) if args else 64 << 20
    nbytes = n * 4
    dev = torch.device("cuda")
    print(f"torch_cuda_ops: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, {n} f32 elements "
          f"({nbytes / 2**20:.0f} MiB per tensor), mean of {REPS} runs")
    g = torch.Generator(device=dev).manual_seed(1)
    a = torch.randn(n, device=dev, generator=g)
    b = torch.randn(n, device=dev, generator=g)
    out = torch.empty_like(a)

    copy_ms = time_ms(lambda: out.copy_(a))
    copy_gbps = 2 * nbytes / copy_ms / 1e6
    print(f"{'D2D copy (read + write)':<44} {copy_ms:9.3f} ms {copy_gbps:8.1f} GB/s")

    def report(what, moved, ms):
        rate = moved / ms / 1e6
        print(f"{what:<44} {ms:9.3f} ms {rate:8.1f} GB/s   {rate / copy_gbps:.2f}x copy", flush=True)

    def six_ops(x, y):
        return F.gelu(x * y + 1, approximate="tanh") - torch.tanh(x) * 0.5

    variants = [("eager", lambda f: f)]
    if compile_too:
        variants.append(("compiled", torch.compile))
    for tag, wrap in variants:
        f6 = wrap(six_ops)
        report(f"gelu_tanh(a*b+1) - tanh(a)*0.5 [{tag}]", 3 * nbytes, time_ms(lambda: f6(a, b)))
        f2 = wrap(lambda x: x * 2 + 1)
        report(f"a * 2 + 1 [{tag}]", 2 * nbytes, time_ms(lambda: f2(a)))

    side = 4096
    if n >= side * side:
        x = a[: side * side].view(side, side)
        bias = b[:side]
        square = side * side * 4
        report("x + bias  (4096 x 4096, broadcast rows)", 2 * square, time_ms(lambda: x + bias))
        report("x^T * 2  (4096 x 4096, strided)", 2 * square, time_ms(lambda: (x.t() * 2).contiguous()))

    report("sum(a)  (everything)", nbytes, time_ms(lambda: a.sum()))
    report("logsumexp(a)  (everything)", nbytes, time_ms(lambda: torch.logsumexp(a, 0)))
    for cols in (8192, 1024, 64):
        if n % cols == 0:
            m = a.view(-1, cols)
            report(f"sum(m, 1)  (rows of {cols})", nbytes, time_ms(lambda: m.sum(1)))
    if n % 8192 == 0:
        m = a.view(-1, 8192)
        report(f"sum(m, 0)  (columns of {n // 8192})", nbytes, time_ms(lambda: m.sum(0)))
        report("argmax(m, 1)  (rows of 8192)", nbytes, time_ms(lambda: m.argmax(1)))
    del a, b, out
    torch.cuda.empty_cache()

    for size in (4096, 8192):
        for name, dtype, tf32 in (("f32", torch.float32, False), ("TF32", torch.float32, True), ("bf16", torch.bfloat16, False)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            p = torch.randn(size, size, device=dev, dtype=dtype)
            q = torch.randn(size, size, device=dev, dtype=dtype)
            ms = time_ms(lambda: p @ q, reps=10)
            print(f"{'matmul ' + str(size) + '^3 ' + name:<44} {ms:9.3f} ms {2 * size**3 / ms / 1e9:8.1f} TFLOP/s", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False

    # One AdamW step over GPT-2 small's parameters: reads p, g, m, v and writes p, m, v (28 bytes each).
    C, V, L = 768, 50257, 12
    shapes = [(V, C), (1024, C)]
    for _ in range(L):
        shapes += [(C,), (C,), (C, 3 * C), (3 * C,), (C, C), (C,), (C,), (C,), (C, 4 * C), (4 * C,), (4 * C, C), (C,)]
    shapes += [(C,), (C,)]
    params = [torch.randn(s, device=dev, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    count = sum(p.numel() for p in params)
    for tag, kw in (("fused", {"fused": True}), ("foreach", {"foreach": True})):
        opt = torch.optim.AdamW(params, lr=1e-4, **kw)
        ms = time_ms(opt.step, reps=10)
        report(f"AdamW step ({round(count / 1e6)}M in {len(shapes)} tensors) [{tag}]", 28 * count, ms)
        del opt
    del params
    torch.cuda.empty_cache()

    B, H, T, Dh = 16, 12, 1024, 64
    flops = 4 * B * H * T * T * Dh / 2  # causal: half the (T, T) products, QK^T and PV
    # bf16 (flash kernels) as the target; f32 beside it, like for like with bench_cuda's f32 attention.
    for name, dtype in (("bf16", torch.bfloat16), ("f32", torch.float32)):
        q, k, v = (torch.randn(B, H, T, Dh, device=dev, dtype=dtype, requires_grad=True) for _ in range(3))
        grad = torch.randn(B, H, T, Dh, device=dev, dtype=dtype)
        fwd = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        both = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(grad))
        print(f"{'SDPA causal fwd (' + name + ', 16x12x1024x64)':<44} {fwd:9.3f} ms {flops / fwd / 1e9:8.1f} TFLOP/s")
        print(f"{'SDPA causal fwd+bwd (' + name + ', 16x12x1024x64)':<44} {both:9.3f} ms "
              f"{3.5 * flops / both / 1e9:8.1f} TFLOP/s", flush=True)
        del q, k, v, grad
    print(f"peak memory allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB; {time.process_time():.0f} s of CPU time")


if __name__ == "__main__":
    main()
