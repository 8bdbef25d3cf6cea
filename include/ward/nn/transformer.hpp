#pragma once
// Decoder-only transformers: GPT-2 (learned positions, LayerNorm, GELU MLP, Conv1D weights, tied
// head) and Llama-style (RoPE, RMSNorm, SwiGLU MLP, grouped-query attention; Qwen2 adds q/k/v
// biases). Pre-norm blocks: h = x + attn(norm1(x)); y = h + mlp(norm2(h)).
//
// A forward pass can return every layer's hidden state (after its block) and MLP output (before the
// residual add), and can add a perturbation to a chosen layer's output: RepNoise's per-layer MMD and
// logit lens, Vaccine's hidden-state perturbations and the depth probes all need these.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ward/autograd/checkpoint.hpp"
#include "ward/autograd/fused.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/nn/attention.hpp"
#include "ward/nn/layers.hpp"

namespace ward::nn {

enum class Family { gpt2, llama };

struct TransformerConfig {
    Family family = Family::gpt2;
    index_t vocab_size = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, intermediate = 0, max_positions = 0;
    double norm_eps = 1e-5;
    double rope_theta = 10000.0;
    bool tie_embeddings = true;
    bool qkv_bias = false;  // Qwen2
    std::int64_t bos_id = -1, eos_id = -1;

    AttentionConfig attention() const {
        AttentionConfig a;
        a.hidden = hidden;
        a.heads = heads;
        a.kv_heads = kv_heads;
        a.rotary = family == Family::llama;
        a.rope_theta = rope_theta;
        a.qkv_bias = qkv_bias;
        a.out_bias = family == Family::gpt2;
        a.fused_qkv = family == Family::gpt2;
        return a;
    }
    void validate() const {
        if (vocab_size <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || intermediate <= 0)
            throw value_error("transformer config: sizes must be positive (vocab " + std::to_string(vocab_size) + ", hidden " +
                              std::to_string(hidden) + ", layers " + std::to_string(layers) + ", heads " +
                              std::to_string(heads) + ")");
        if (hidden % heads != 0 || heads % kv_heads != 0)
            throw value_error("transformer config: hidden " + std::to_string(hidden) + " / heads " + std::to_string(heads) +
                              " / kv_heads " + std::to_string(kv_heads) + " do not divide");
        if (family == Family::llama && (hidden / heads) % 2 != 0)
            throw value_error("transformer config: rotary embeddings need an even head size, got hidden " +
                              std::to_string(hidden) + " / heads " + std::to_string(heads) + " = " +
                              std::to_string(hidden / heads));
        if (max_positions < 0)
            throw value_error("transformer config: max_positions must not be negative, got " + std::to_string(max_positions));
    }
};

/// GELU MLP (GPT-2: c_fc, c_proj in Conv1D layout) or SwiGLU (Llama: down(silu(gate(x)) * up(x))).
template <FloatElement T, Device D = cpu>
struct MLP {
    Family family = Family::gpt2;
    Linear<T, D> fc, proj, gate, up, down;

    MLP() = default;
    MLP(const TransformerConfig& c, const Init& gen) : family(c.family) {
        if (family == Family::gpt2) {
            fc = Linear<T, D>(c.hidden, c.intermediate, true, gen, true);
            proj = Linear<T, D>(c.intermediate, c.hidden, true, gen, true);
        } else {
            gate = Linear<T, D>(c.hidden, c.intermediate, false, gen);
            up = Linear<T, D>(c.hidden, c.intermediate, false, gen);
            down = Linear<T, D>(c.intermediate, c.hidden, false, gen);
        }
    }
    Var<T, D> operator()(const Var<T, D>& x) const {
        if (family == Family::gpt2) return proj(fc(x, Activation::gelu_tanh));
        auto swiglu = [](auto g, auto u) { return g * sigmoid(g) * u; };  // one pass, derivatives by duals
        return down(ag::fused(swiglu, gate(x), up(x)));
    }
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        if (family == Family::gpt2) {
            fc.visit(f, join(prefix, "c_fc"));
            proj.visit(f, join(prefix, "c_proj"));
        } else {
            gate.visit(f, join(prefix, "gate_proj"));
            up.visit(f, join(prefix, "up_proj"));
            down.visit(f, join(prefix, "down_proj"));
        }
    }
};

/// A normalisation that is LayerNorm for GPT-2 and RMSNorm for Llama.
template <FloatElement T, Device D = cpu>
struct Norm {
    Family family = Family::gpt2;
    LayerNorm<T, D> ln;
    RMSNorm<T, D> rms;
    Norm() = default;
    Norm(const TransformerConfig& c) : family(c.family) {
        if (family == Family::gpt2) ln = LayerNorm<T, D>(c.hidden, c.norm_eps);
        else rms = RMSNorm<T, D>(c.hidden, c.norm_eps);
    }
    Var<T, D> operator()(const Var<T, D>& x) const { return family == Family::gpt2 ? ln(x) : rms(x); }
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        if (family == Family::gpt2) ln.visit(f, prefix);
        else rms.visit(f, prefix);
    }
};

template <FloatElement T, Device D = cpu>
struct Block {
    Norm<T, D> norm1, norm2;
    CausalSelfAttention<T, D> attn;
    MLP<T, D> mlp;
    Family family = Family::gpt2;

    Block() = default;
    Block(const TransformerConfig& c, const Init& gen)
        : norm1(c), norm2(c), attn(c.attention(), gen), mlp(c, gen), family(c.family) {}

    struct Output {
        Var<T, D> hidden;   // the block's output
        Var<T, D> mlp_out;  // the MLP's output before the residual add
    };
    Output operator()(const Var<T, D>& x, const ag::AttentionMask<T, D>& mask, const Tensor<T, D>& cos,
                      const Tensor<T, D>& sin, KVCache<T, D>* cache = nullptr) const {
        Var<T, D> h = x + attn(norm1(x), mask, cos, sin, cache);
        Var<T, D> m = mlp(norm2(h));
        return {h + m, m};
    }
    /// f(name, Linear&) for the block's linear layers, named as in the family's checkpoints.
    template <class F>
    void for_each_linear(F&& f) {
        if (family == Family::gpt2) {
            f("attn.c_attn", attn.qkv);
            f("attn.c_proj", attn.out);
            f("mlp.c_fc", mlp.fc);
            f("mlp.c_proj", mlp.proj);
        } else {
            f("self_attn.q_proj", attn.q);
            f("self_attn.k_proj", attn.k);
            f("self_attn.v_proj", attn.v);
            f("self_attn.o_proj", attn.out);
            f("mlp.gate_proj", mlp.gate);
            f("mlp.up_proj", mlp.up);
            f("mlp.down_proj", mlp.down);
        }
    }
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        const bool gpt2 = family == Family::gpt2;
        norm1.visit(f, join(prefix, gpt2 ? "ln_1" : "input_layernorm"));
        attn.visit(f, join(prefix, gpt2 ? "attn" : "self_attn"));
        norm2.visit(f, join(prefix, gpt2 ? "ln_2" : "post_attention_layernorm"));
        mlp.visit(f, join(prefix, "mlp"));
    }
};

/// What a forward pass returns; per-layer lists are filled when asked for.
template <FloatElement T, Device D>
struct ForwardResult {
    Var<T, D> logits;                  // (B, T, V)
    Var<T, D> final_hidden;            // (B, T, C), after the final norm
    Var<T, D> embedded;                // the first block's input (transformers' hidden_states[0]): (B, T, C)
    std::vector<Var<T, D>> hidden;     // per layer, after the block: (B, T, C)
    std::vector<Var<T, D>> mlp_out;    // per layer, the MLP output before the residual add
};

struct ForwardOptions {
    bool collect_layers = false;  // fill ForwardResult::embedded, hidden and mlp_out
    int perturb_layer = -1;       // add `perturbation` to this layer's output (-1: none)
};

/// Batching and generation state for a forward pass, all optional.
template <FloatElement T, Device D>
struct ForwardContext {
    Tensor<T, D> padding_mask;                // (B, keys): 1 for real tokens, 0 for padding, over all keys
    Tensor<std::int64_t, D> position_ids;     // (B, T): per-row positions (left padding); default offset + t
    std::vector<KVCache<T, D>>* cache = nullptr;  // one per layer; appended to (inference only)
    std::vector<Var<T, D>> perturbations;     // per layer, added to its output (undefined or absent: none)
};

/// Calls f(name, shape) for every parameter of CausalLM(c, seed), with CausalLM::visit's names and
/// order, allocating nothing: a loader checks a checkpoint's shapes against these before it
/// allocates a model whose sizes come from a file. f may throw to stop. value_error where `c` is
/// invalid or a size overflows index_t.
template <class F>
void parameter_shapes(const TransformerConfig& c, F&& f) {
    c.validate();
    const bool gpt2 = c.family == Family::gpt2;
    const std::string base = gpt2 ? "transformer." : "model.";
    const index_t C = c.hidden, kv = c.kv_heads * (c.hidden / c.heads);  // kv <= C
    index_t fused = 0;  // GPT-2's c_attn: q, k and v side by side
    if (__builtin_mul_overflow(kv, index_t(2), &fused) || __builtin_add_overflow(fused, C, &fused))
        throw value_error("transformer config: hidden " + std::to_string(C) + " is too large");
    auto linear = [&](const std::string& name, index_t in, index_t out, bool bias, bool conv1d) {
        f(name + ".weight", conv1d ? Shape{in, out} : Shape{out, in});
        if (bias) f(name + ".bias", Shape{out});
    };
    auto norm = [&](const std::string& name) {
        f(name + ".weight", Shape{C});
        if (gpt2) f(name + ".bias", Shape{C});
    };
    f(base + (gpt2 ? "wte.weight" : "embed_tokens.weight"), Shape{c.vocab_size, C});
    if (gpt2) f(base + "wpe.weight", Shape{c.max_positions, C});
    for (index_t l = 0; l < c.layers; ++l) {
        const std::string b = base + (gpt2 ? "h." : "layers.") + std::to_string(l) + ".";
        norm(b + (gpt2 ? "ln_1" : "input_layernorm"));
        if (gpt2) {
            linear(b + "attn.c_attn", C, fused, true, true);
            linear(b + "attn.c_proj", C, C, true, true);
        } else {
            linear(b + "self_attn.q_proj", C, C, c.qkv_bias, false);
            linear(b + "self_attn.k_proj", C, kv, c.qkv_bias, false);
            linear(b + "self_attn.v_proj", C, kv, c.qkv_bias, false);
            linear(b + "self_attn.o_proj", C, C, false, false);
        }
        norm(b + (gpt2 ? "ln_2" : "post_attention_layernorm"));
        if (gpt2) {
            linear(b + "mlp.c_fc", C, c.intermediate, true, true);
            linear(b + "mlp.c_proj", c.intermediate, C, true, true);
        } else {
            linear(b + "mlp.gate_proj", C, c.intermediate, false, false);
            linear(b + "mlp.up_proj", C, c.intermediate, false, false);
            linear(b + "mlp.down_proj", c.intermediate, C, false, false);
        }
    }
    norm(base + (gpt2 ? "ln_f" : "norm"));
    if (!c.tie_embeddings) f(std::string("lm_head.weight"), Shape{c.vocab_size, C});
}

template <FloatElement T, Device D = cpu>
struct CausalLM {
    TransformerConfig config;
    Embedding<T, D> tokens, positions;  // positions: GPT-2 only
    std::vector<Block<T, D>> blocks;
    Norm<T, D> final_norm;
    Linear<T, D> head;  // untied models only; tied ones use tokens.weight
    // Activation checkpointing (autograd/checkpoint.hpp): a recorded forward keeps each block's
    // input and output only, and backward runs the block again. For models whose activations
    // would not fit; costs about one more forward per step.
    bool checkpoint_blocks = false;

    CausalLM() = default;
    /// Random weights from `seed` (GPT-2's initialisation: normal(0, 0.02), positions 0.01).
    CausalLM(const TransformerConfig& c, std::uint64_t seed) : config(c), final_norm(c) {
        Generator gen(seed);
        build(c, gen);
    }
    /// Every parameter allocated and unwritten (norms and biases aside): for a loader that fills
    /// them all, so that a 7B model is not initialised only to be overwritten.
    static CausalLM uninitialised(const TransformerConfig& c) {
        CausalLM m;
        m.config = c;
        m.final_norm = Norm<T, D>(c);
        m.build(c, Init::none());
        return m;
    }

    /// ids (B, T) -> logits (B, T, V). `perturbation` (B, T, C) is added to layer
    /// opt.perturb_layer's output when that is >= 0 (differentiably, for Vaccine-style defences).
    ForwardResult<T, D> forward(const Tensor<std::int64_t, D>& ids, const ForwardOptions& opt = {},
                                const Var<T, D>& perturbation = {}, const ForwardContext<T, D>& ctx = {}) const {
        if (ids.rank() != 2) throw shape_error("forward: ids must be (batch, time), got " + ids.shape().str());
        const index_t B = ids.size(0), Tn = ids.size(1);
        if (opt.perturb_layer >= static_cast<int>(blocks.size()))
            throw index_error("forward: perturb_layer " + std::to_string(opt.perturb_layer) + " but the model has " +
                              std::to_string(blocks.size()) + " layers");
        if (ctx.perturbations.size() > blocks.size())
            throw shape_error("forward: " + std::to_string(ctx.perturbations.size()) + " perturbations for " +
                              std::to_string(blocks.size()) + " layers");
        if (ctx.cache && ctx.cache->size() != blocks.size())
            throw shape_error("forward: " + std::to_string(ctx.cache->size()) + " caches for " + std::to_string(blocks.size()) + " layers");
        const index_t offset = ctx.cache ? (*ctx.cache)[0].length : 0;
        const index_t keys = offset + Tn;

        // Positions: given per row, or offset .. offset + T - 1 for every row.
        std::vector<index_t> pos;
        if (ctx.position_ids.defined()) {
            if (!(ctx.position_ids.shape() == ids.shape()))
                throw shape_error("forward: position_ids " + ctx.position_ids.shape().str() + " do not match ids " + ids.shape().str());
            for (std::int64_t p : ctx.position_ids.to_vector()) pos.push_back(p);
        } else {
            for (index_t t = 0; t < Tn; ++t) pos.push_back(offset + t);
        }
        index_t last = 0;
        for (index_t p : pos) last = std::max(last, p);
        if (config.family == Family::gpt2 && last >= config.max_positions)
            throw shape_error("forward: position " + std::to_string(last) + " is past max_positions " + std::to_string(config.max_positions));

        ag::AttentionMask<T, D> mask{offset, ctx.padding_mask};
        if (ctx.padding_mask.defined()) {
            if (ctx.padding_mask.rank() != 2 || ctx.padding_mask.size(0) != B || ctx.padding_mask.size(1) != keys)
                throw shape_error("forward: padding mask " + ctx.padding_mask.shape().str() + " must be (" + std::to_string(B) +
                                  ", " + std::to_string(keys) + ")");
        }
        Var<T, D> x = tokens(ids);
        Tensor<T, D> cos, sin;
        if (config.family == Family::gpt2) {
            Shape ps = ctx.position_ids.defined() ? Shape{B, Tn} : Shape{Tn};
            std::vector<std::int64_t> p64(pos.begin(), pos.end());
            x = x + positions(Tensor<std::int64_t, D>::from_vector(p64, ps));  // (B, T, C) + (B or 1, T, C)
        } else {
            std::tie(cos, sin) = rope_tables<T, D>(pos, config.hidden / config.heads, config.rope_theta);
            if (ctx.position_ids.defined()) {
                cos = cos.reshape({B, 1, Tn, cos.size(-1)});
                sin = sin.reshape({B, 1, Tn, sin.size(-1)});
            }
        }
        ForwardResult<T, D> r;
        if (opt.collect_layers) r.embedded = x;
        const bool checkpointed = checkpoint_blocks && !ctx.cache && ag::grad_enabled();
        for (std::size_t l = 0; l < blocks.size(); ++l) {
            auto out = checkpointed ? checkpointed_block(blocks[l], x, mask, cos, sin, opt.collect_layers)
                                    : blocks[l](x, mask, cos, sin, ctx.cache ? &(*ctx.cache)[l] : nullptr);
            x = out.hidden;
            if (static_cast<int>(l) == opt.perturb_layer) x = x + perturbation;
            if (l < ctx.perturbations.size() && ctx.perturbations[l].defined()) x = x + ctx.perturbations[l];
            if (opt.collect_layers) {
                r.hidden.push_back(x);
                r.mlp_out.push_back(out.mlp_out);
            }
        }
        r.final_hidden = final_norm(x);
        r.logits = lm_head(r.final_hidden);
        return r;
    }

    /// Empty KV caches (one per layer) for `batch` sequences of up to `capacity` positions.
    std::vector<KVCache<T, D>> make_cache(index_t batch, index_t capacity) const {
        const index_t hd = config.hidden / config.heads;
        std::vector<KVCache<T, D>> caches(blocks.size());
        for (auto& c : caches) {
            c.k = Tensor<T, D>::zeros({batch, config.kv_heads, capacity, hd});
            c.v = Tensor<T, D>::zeros({batch, config.kv_heads, capacity, hd});
            c.capacity = capacity;
        }
        return caches;
    }

    /// The output projection: tied to the token embedding, or the model's own head.
    Var<T, D> lm_head(const Var<T, D>& h) const {
        return config.tie_embeddings ? ag::linear(h, tokens.weight) : head(h);
    }

    /// f(name, Linear&) for every linear layer of the blocks (and an untied head), e.g. to attach
    /// LoRA adapters to the ones whose names end in "q_proj" or "c_attn".
    template <class F>
    void for_each_linear(F&& f) {
        const std::string base = config.family == Family::gpt2 ? "transformer.h." : "model.layers.";
        for (std::size_t l = 0; l < blocks.size(); ++l) {
            const std::string at = base + std::to_string(l) + ".";
            blocks[l].for_each_linear([&](const std::string& name, Linear<T, D>& lin) { f(at + name, lin); });
        }
        if (!config.tie_embeddings) f("lm_head", head);
    }

    /// Visits parameters with Hugging Face's names for the family.
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        const bool gpt2 = config.family == Family::gpt2;
        const std::string base = join(prefix, gpt2 ? "transformer" : "model");
        tokens.visit(f, join(base, gpt2 ? "wte" : "embed_tokens"));
        if (gpt2) positions.visit(f, join(base, "wpe"));
        for (std::size_t l = 0; l < blocks.size(); ++l)
            blocks[l].visit(f, join(base, std::string(gpt2 ? "h." : "layers.") + std::to_string(l)));
        final_norm.visit(f, join(base, gpt2 ? "ln_f" : "norm"));
        if (!config.tie_embeddings) head.visit(f, join(prefix, "lm_head"));
    }

private:
    /// `block` as one checkpointed node: its output and, when `with_mlp` asks for it, the MLP's
    /// output, stacked into the one value the checkpoint keeps.
    static typename Block<T, D>::Output checkpointed_block(const Block<T, D>& block, const Var<T, D>& x,
                                                           const ag::AttentionMask<T, D>& mask, const Tensor<T, D>& cos,
                                                           const Tensor<T, D>& sin, bool with_mlp) {
        Block<T, D> b = block;  // handles to the same weights, walkable
        std::vector<Var<T, D>> params;
        b.visit([&](const std::string&, Var<T, D>& v) {
            if (v.defined() && v.requires_grad()) params.push_back(v);
        }, "");
        std::vector<Generator*> generators;  // LoRA dropout: the rebuilt block draws the same masks
        b.for_each_linear([&](const std::string&, Linear<T, D>& lin) {
            if (lin.lora && lin.lora->dropout > 0) generators.push_back(lin.lora->dropout_gen.get());
        });
        auto run = [b, mask, cos, sin, with_mlp](const Var<T, D>& in) {
            auto out = b(in, mask, cos, sin);
            if (!with_mlp) return out.hidden;
            return ag::concat(std::vector<Var<T, D>>{ag::unsqueeze(out.hidden, 0), ag::unsqueeze(out.mlp_out, 0)}, 0);
        };
        Var<T, D> y = ag::checkpoint(run, x, params, std::move(generators));
        if (!with_mlp) return {y, {}};
        return {ag::select(y, 0, 0), ag::select(y, 0, 1)};
    }

    void build(const TransformerConfig& c, const Init& init) {
        c.validate();
        tokens = Embedding<T, D>(c.vocab_size, c.hidden, init);
        if (c.family == Family::gpt2) positions = Embedding<T, D>(c.max_positions, c.hidden, init, 0.01);
        for (index_t l = 0; l < c.layers; ++l) blocks.emplace_back(c, init);
        if (!c.tie_embeddings) head = Linear<T, D>(c.hidden, c.vocab_size, false, init);
    }
};

}  // namespace ward::nn
