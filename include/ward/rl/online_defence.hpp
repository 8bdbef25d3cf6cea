#pragma once
// Constraint pieces (rl/constraint.hpp) that add a loss term to every policy update during RLHF:
//   rl::refusal_loss(refusals, w)   + w CE on a batch of harmful requests with refusals (the safety data
//                                   a defender mixes into the update)
//   rl::online(term, pairs, w)      + w * any defence term (defence/term.hpp) on a paired batch, e.g.
//                                   RepNoise online: rl::online(defence::repnoise(a, b), pairs)
//   rl::lisa(alignment, options)    Lisa's bi-state optimisation (Huang et al. 2024) with the RLHF update as
//                                   the fine-tuning state: alignment steps (CE on refusals, the attack's loss
//                                   left out) alternate with RLHF steps, and every step adds the proximal
//                                   term rho / 2 ||w - w_anchor||^2 to the weights at the last switch
// Batches are drawn by step from a seeded cycle over the data, so a resumed run draws the same ones.

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ward/autograd/loss.hpp"
#include "ward/autograd/reduce.hpp"
#include "ward/defence/batch.hpp"
#include "ward/defence/term.hpp"
#include "ward/nn/module.hpp"
#include "ward/rl/constraint.hpp"
#include "ward/rl/rollout.hpp"
#include "ward/train/lm_trainer.hpp"

namespace ward::rl {

/// Cross-entropy on refusals to harmful requests, added to every update.
struct RefusalLoss : ConstraintBase {
    std::vector<train::Example> data;
    index_t batch_size = 8;
    std::int64_t pad_id = 0;
    std::string name() const { return "refusal-loss"; }
    template <FloatElement T, Device D>
    ag::Var<T, D> loss(UpdateContext<T, D>& u) {
        const auto rows = draw_rows(data.size(), static_cast<std::size_t>(batch_size), u.seed ^ 0x7265667573u, static_cast<std::uint64_t>(u.step));
        const train::LmBatch b = train::make_batch(data, rows, pad_id, 1024);
        ag::Var<T, D> ce = ag::cross_entropy(u.model.forward(on_device<D>(b.inputs)).logits, on_device<D>(b.targets));
        u.values["refusal_ce"] = double(ce.value().item());
        return ce;
    }
};
inline RefusalLoss refusal_loss(std::vector<train::Example> refusals, index_t batch_size = 8, std::int64_t pad_id = 0) {
    if (refusals.empty()) throw value_error("refusal_loss: no refusal examples");
    if (batch_size <= 0) throw value_error("refusal_loss: batch size must be positive");
    RefusalLoss r;
    r.data = std::move(refusals);
    r.batch_size = batch_size;
    r.pad_id = pad_id;
    return r;
}

/// A defence term (RepNoise, stability, a user's own) evaluated on a paired batch at every update.
template <defence::DefenceTerm Term>
struct OnlineDefence : ConstraintBase {
    Term term;
    std::vector<defence::Pair> pairs;
    index_t batch_size = 8;
    std::int64_t pad_id = 0;
    std::string name() const { return "online(" + std::string(term.name()) + ")"; }
    template <FloatElement T, Device D>
    ag::Var<T, D> loss(UpdateContext<T, D>& u) {
        const auto rows = draw_rows(pairs.size(), static_cast<std::size_t>(batch_size), u.seed ^ 0x6f6e6c6eu, static_cast<std::uint64_t>(u.step));
        const defence::PairedBatch<T, D> batch = defence::make_paired_batch<T>(pairs, rows, pad_id).template to<D>();
        defence::Context<T, D> ctx(u.model, batch, u.reference, u.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(u.step));
        ag::Var<T, D> v = defence::evaluate(term, ctx);
        for (const auto& [k, x] : ctx.values()) u.values["online." + k] = x;
        return v;
    }
};
template <defence::DefenceTerm Term>
OnlineDefence<Term> online(Term term, std::vector<defence::Pair> pairs, index_t batch_size = 8, std::int64_t pad_id = 0) {
    if (pairs.empty()) throw value_error("online defence: no pairs");
    if (batch_size <= 0) throw value_error("online defence: batch size must be positive");
    OnlineDefence<Term> o;
    o.term = std::move(term);
    o.pairs = std::move(pairs);
    o.batch_size = batch_size;
    o.pad_id = pad_id;
    return o;
}

struct LisaOnlineOptions {
    double rho = 1.0;
    index_t alignment_steps = 1;  // per cycle, first
    index_t finetune_steps = 4;   // per cycle: the RLHF updates
    index_t batch_size = 8;
    std::int64_t pad_id = 0;
};

/// Lisa around an RLHF procedure whose policy lives on device D; its anchor weights (f32, on D beside
/// the weights) travel in the checkpoint.
template <Device D = cpu>
struct LisaOnline : ConstraintBase {
    std::vector<train::Example> alignment;
    LisaOnlineOptions opt;
    std::map<std::string, Tensor<float, D>> anchor;  // by parameter name
    std::string name() const { return "lisa(rho " + std::to_string(opt.rho) + ")"; }

    bool aligning(index_t step) const { return step % (opt.alignment_steps + opt.finetune_steps) < opt.alignment_steps; }
    template <FloatElement T>
    ag::Var<T, D> loss(UpdateContext<T, D>& u) {
        static_assert(std::is_same_v<T, float>, "rl::lisa keeps its anchor in f32");
        const bool align = aligning(u.step);
        const bool switched = u.step > 0 && align != aligning(u.step - 1);
        auto params = nn::named_parameters<T, D>(u.model);
        if (anchor.empty() || switched)  // the start (unless the checkpoint gave one), or a switch of state
            for (const auto& p : params) anchor[p.name] = p.var->value().clone();
        ag::Var<T, D> prox;
        for (const auto& p : params) {
            if (!p.var->requires_grad()) continue;
            auto it = anchor.find(p.name);
            if (it == anchor.end()) throw value_error("lisa: no anchor for parameter '" + p.name + "'");
            ag::Var<T, D> d = ag::sum(ag::square(*p.var - ag::Var<T, D>(it->second)));
            prox = prox.defined() ? prox + d : d;
        }
        prox = prox * (0.5 * opt.rho);
        u.values["lisa.proximal"] = double(prox.value().item());
        u.values["lisa.aligning"] = align ? 1.0 : 0.0;
        if (!align) return prox;
        u.attack_weight = 0;
        const auto rows = draw_rows(alignment.size(), static_cast<std::size_t>(opt.batch_size), u.seed ^ 0x6c697361u, static_cast<std::uint64_t>(u.step));
        const train::LmBatch b = train::make_batch(alignment, rows, opt.pad_id, 1024);
        ag::Var<T, D> ce = ag::cross_entropy(u.model.forward(on_device<D>(b.inputs)).logits, on_device<D>(b.targets));
        u.values["lisa.alignment_ce"] = double(ce.value().item());
        return ce + prox;
    }
    void write(io::SafetensorsWriter& w, const std::string& prefix) const {
        w.add_metadata(prefix + "lisa.anchors", std::to_string(anchor.size()));
        for (const auto& [name, t] : anchor) w.add(prefix + "lisa.anchor." + name, on_device<cpu>(t));
    }
    void check(const io::SafetensorsFile& f, const std::string& prefix) const {
        if (!f.metadata().count(prefix + "lisa.anchors")) throw parse_error(f.path().string() + ": checkpoint has no Lisa anchor ('" + prefix + "lisa.anchors')");
    }
    void read(const io::SafetensorsFile& f, const std::string& prefix) {
        check(f, prefix);
        anchor.clear();
        const std::string key = prefix + "lisa.anchor.";
        for (const auto& n : f.names())
            if (n.rfind(key, 0) == 0) anchor[n.substr(key.size())] = on_device<D>(f.get<float>(n));
        if (std::to_string(anchor.size()) != f.metadata().at(prefix + "lisa.anchors"))
            throw parse_error(f.path().string() + ": checkpoint holds " + std::to_string(anchor.size()) + " Lisa anchors, its metadata says " +
                              f.metadata().at(prefix + "lisa.anchors"));
    }
};
/// Lisa for a policy on device D (the CPU unless named: rl::lisa<cuda>(...)).
template <Device D = cpu>
LisaOnline<D> lisa(std::vector<train::Example> alignment, const LisaOnlineOptions& o = {}) {
    if (alignment.empty()) throw value_error("lisa: no alignment examples");
    if (o.alignment_steps < 0 || o.finetune_steps <= 0) throw value_error("lisa: alignment_steps must be >= 0 and finetune_steps > 0");
    if (!(o.rho >= 0) || !std::isfinite(o.rho)) throw value_error("lisa: rho must be finite and >= 0");
    if (o.batch_size <= 0) throw value_error("lisa: batch size must be positive");
    LisaOnline<D> l;
    l.alignment = std::move(alignment);
    l.opt = o;
    return l;
}

static_assert(ConstraintOn<RefusalLoss, float, cpu> && ConstraintOn<RefusalLoss, bf16, cpu> && ConstraintOn<LisaOnline<>, float, cpu>);

}  // namespace ward::rl
