"""The peer of bench_load: transformers' from_pretrained on a model directory, in seconds, and the peak
resident memory it adds (VmHWM after, minus VmRSS before, torch already imported). Where the file's
dtype is the one asked for, transformers leaves the parameters on the file's mapping and reads nothing
yet, so a second line times from_pretrained plus one read of every page of every parameter: the
work bench_load does, which copies each parameter in.

    python3 torch_load.py DIR [bf16|f32]      prints the two lines in bench_load's format
"""
import resource
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def resident_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main():
    path = sys.argv[1]
    dtype = sys.argv[2] if len(sys.argv) > 2 else "bf16"
    torch_dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype]
    before = resident_bytes()
    with open("/proc/self/clear_refs", "w") as f:  # the peak starts over from now
        f.write("5")
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    params = sum(p.numel() for p in model.parameters())
    weights = params * torch.finfo(torch_dtype).bits // 8
    report("from_pretrained", dtype, time.perf_counter() - start, params, weights, before)
    with torch.no_grad():
        for p in model.parameters():  # one element per 4 KiB page
            flat = p.detach().reshape(-1)
            flat[:: max(1, 4096 // flat.element_size())].float().sum().item()
    report("from_pretrained+read", dtype, time.perf_counter() - start, params, weights, before)


def report(what, dtype, seconds, params, weights, before):
    with open("/proc/self/status") as f:
        peak = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    added = peak - before
    print(f"torch {what} dtype={dtype} seconds={seconds:.2f} params={params} weights_GB={weights / 1e9:.3f} "
          f"peak_added_GB={added / 1e9:.3f} ratio={added / weights:.3f} (torch {torch.__version__})", flush=True)


if __name__ == "__main__":
    main()
