"""A Llama-2-7B-shaped checkpoint with random weights, written by transformers in bf16 as shards of up
to 10 GB (what compare_torch_load.sh loads): 32 layers, 4,096 wide, 32 heads, 11,008 MLP, vocab
32,000, untied head; 6.74B parameters, 13.5 GB. Needs about 14 GB of memory and of disk.

    python3 make_llama7b_checkpoint.py DIR [LAYERS]     LAYERS: fewer layers for a smaller trial
"""
import sys

import torch
from transformers import AutoModelForCausalLM, LlamaConfig


def main():
    out = sys.argv[1]
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    config = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=layers,
                         num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                         rms_norm_eps=1e-5, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out, max_shard_size="10GB")
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters())} parameters")


if __name__ == "__main__":
    main()
