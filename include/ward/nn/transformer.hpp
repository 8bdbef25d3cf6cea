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
#include <vector>

#include "ward/autograd/fused.hpp"
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
    }
};

/// GELU MLP (GPT-2: c_fc, c_proj in Conv1D layout) or SwiGLU (Llama: down(silu(gate(x)) * up(x))).
template <FloatElement T, Device D = cpu>
struct MLP {
    Family family = Family::gpt2;
    Linear<T, D> fc, proj, gate, up, down;

    MLP() = default;
    MLP(const TransformerConfig& c, Generator& gen) : family(c.family) {
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
    Block(const TransformerConfig& c, Generator& gen)
        : norm1(c), norm2(c), attn(c.attention(), gen), mlp(c, gen), family(c.family) {}

    struct Output {
        Var<T, D> hidden;   // the block's output
        Var<T, D> mlp_out;  // the MLP's output before the residual add
    };
    Output operator()(const Var<T, D>& x, const Tensor<T, D>& mask, const Tensor<T, D>& cos, const Tensor<T, D>& sin) const {
        Var<T, D> h = x + attn(norm1(x), mask, cos, sin);
        Var<T, D> m = mlp(norm2(h));
        return {h + m, m};
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
    std::vector<Var<T, D>> hidden;     // per layer, after the block: (B, T, C)
    std::vector<Var<T, D>> mlp_out;    // per layer, the MLP output before the residual add
};

struct ForwardOptions {
    bool collect_layers = false;  // fill ForwardResult::hidden and mlp_out
    int perturb_layer = -1;       // add `perturbation` to this layer's output (-1: none)
};

template <FloatElement T, Device D = cpu>
struct CausalLM {
    TransformerConfig config;
    Embedding<T, D> tokens, positions;  // positions: GPT-2 only
    std::vector<Block<T, D>> blocks;
    Norm<T, D> final_norm;
    Linear<T, D> head;  // untied models only; tied ones use tokens.weight

    CausalLM() = default;
    CausalLM(const TransformerConfig& c, std::uint64_t seed) : config(c), final_norm(c) {
        c.validate();
        Generator gen(seed);
        tokens = Embedding<T, D>(c.vocab_size, c.hidden, gen);
        if (c.family == Family::gpt2) positions = Embedding<T, D>(c.max_positions, c.hidden, gen, 0.01);
        for (index_t l = 0; l < c.layers; ++l) blocks.emplace_back(c, gen);
        if (!c.tie_embeddings) head = Linear<T, D>(c.hidden, c.vocab_size, false, gen);
    }

    /// ids (B, T) -> logits (B, T, V). `perturbation` (B, T, C) is added to layer
    /// opt.perturb_layer's output when that is >= 0. `padding_mask` (B, T), 1 for real tokens and
    /// 0 for padding, hides padded keys; with it, positions count real tokens only (left padding).
    ForwardResult<T, D> forward(const Tensor<std::int64_t, D>& ids, const ForwardOptions& opt = {},
                                const Var<T, D>& perturbation = {}, const Tensor<T, D>& padding_mask = {}) const {
        if (ids.rank() != 2) throw shape_error("forward: ids must be (batch, time), got " + ids.shape().str());
        const index_t B = ids.size(0), Tn = ids.size(1);
        if (config.family == Family::gpt2 && Tn > config.max_positions)
            throw shape_error("forward: " + std::to_string(Tn) + " tokens exceed max_positions " +
                              std::to_string(config.max_positions));
        if (opt.perturb_layer >= static_cast<int>(blocks.size()))
            throw index_error("forward: perturb_layer " + std::to_string(opt.perturb_layer) + " but the model has " +
                              std::to_string(blocks.size()) + " layers");
        Tensor<T, D> mask = causal_mask<T, D>(Tn);
        std::vector<index_t> pos(static_cast<std::size_t>(Tn));
        for (index_t t = 0; t < Tn; ++t) pos[static_cast<std::size_t>(t)] = t;
        if (padding_mask.defined()) {
            if (!(padding_mask.shape() == ids.shape()))
                throw shape_error("forward: padding mask " + padding_mask.shape().str() + " does not match ids " + ids.shape().str());
            using V = compute_t<T>;
            mask = Tensor<T, D>(mask + (padding_mask.reshape({B, 1, 1, Tn}) - V(1)) * V(1e30));
        }
        Var<T, D> x = tokens(ids);
        if (config.family == Family::gpt2) {
            auto p = Tensor<std::int64_t, D>::arange(Tn);
            x = x + positions(p);  // (B, T, C) + (T, C)
        }
        Tensor<T, D> cos, sin;
        if (config.family == Family::llama) std::tie(cos, sin) = rope_tables<T, D>(pos, config.hidden / config.heads, config.rope_theta);
        ForwardResult<T, D> r;
        for (std::size_t l = 0; l < blocks.size(); ++l) {
            auto out = blocks[l](x, mask, cos, sin);
            x = out.hidden;
            if (static_cast<int>(l) == opt.perturb_layer) x = x + perturbation;
            if (opt.collect_layers) {
                r.hidden.push_back(x);
                r.mlp_out.push_back(out.mlp_out);
            }
        }
        r.final_hidden = final_norm(x);
        r.logits = lm_head(r.final_hidden);
        return r;
    }

    /// The output projection: tied to the token embedding, or the model's own head.
    Var<T, D> lm_head(const Var<T, D>& h) const {
        return config.tie_embeddings ? ag::linear(h, tokens.weight) : head(h);
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
};

}  // namespace ward::nn
