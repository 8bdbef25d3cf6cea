// Defences that are procedures: Vaccine's perturbation against finite differences of the loss in the
// hidden states, Booster's gradient against finite differences of its stated objective, Lisa against
// alternating fine-tuning run by hand, Security Vectors' effect on an attack's gradient and result,
// SafeLoRA's projection in a closed-form case, and TAR's meta-gradient against an attack run by hand
// and its effect on a later attack. Tiny models, f64 where a gradient is compared.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/defence.hpp>
#include <ward/defence/booster.hpp>
#include <ward/defence/lisa.hpp>
#include <ward/defence/safelora.hpp>
#include <ward/defence/security_vectors.hpp>
#include <ward/defence/tar.hpp>
#include <ward/defence/vaccine.hpp>

using namespace ward;
using defence::Side;
namespace tt = boost::test_tools;

namespace {

nn::TransformerConfig tiny_config(nn::Family family = nn::Family::gpt2, index_t hidden = 8) {
    nn::TransformerConfig c;
    c.family = family;
    c.vocab_size = 13;
    c.hidden = hidden;
    c.layers = 2;
    c.heads = 2;
    c.kv_heads = family == nn::Family::llama ? 1 : 2;
    c.intermediate = 2 * hidden;
    c.max_positions = 32;
    c.tie_embeddings = family == nn::Family::gpt2;
    return c;
}

std::vector<defence::Pair> tiny_pairs() {
    return {{{1, 2, 3}, {4, 5, 6, 7}, {8, 9}}, {{1, 3}, {5, 5, 6}, {8, 9, 10, 11}}};
}

// Eight requests with two-token refusals and three-token harmful answers that depend on the request.
std::vector<defence::Pair> training_pairs() {
    std::vector<defence::Pair> pairs;
    for (int i = 0; i < 8; ++i) pairs.push_back({{1, std::int64_t(2 + i % 4)}, {5, std::int64_t(6 + i % 3), 7}, {11, 12}});
    return pairs;
}

// Mean next-token cross-entropy over targets != ignore, from logits (B, T, V), in plain loops.
double naive_ce(const Tensor<double>& logits, const Tensor<std::int64_t>& targets) {
    const index_t B = logits.size(0), T = logits.size(1), V = logits.size(2);
    double total = 0;
    int n = 0;
    for (index_t b = 0; b < B; ++b)
        for (index_t t = 0; t < T; ++t) {
            std::int64_t y = targets.at({b, t});
            if (y == ag::ignore_index) continue;
            double mx = -1e300;
            for (index_t v = 0; v < V; ++v) mx = std::max(mx, logits.at({b, t, v}));
            double s = 0;
            for (index_t v = 0; v < V; ++v) s += std::exp(logits.at({b, t, v}) - mx);
            total += mx + std::log(s) - logits.at({b, t, y});
            ++n;
        }
    return total / n;
}

// The CE of one side of a batch, with optional per-layer perturbations, without gradients.
double side_ce(const nn::CausalLM<double>& model, const defence::PairedBatch<double>& batch, Side side,
               const std::vector<Tensor<double>>& perturbations = {}) {
    ag::NoGrad ng;
    nn::ForwardContext<double, cpu> fc;
    for (const auto& p : perturbations) fc.perturbations.emplace_back(p);
    const auto& in = side == Side::harmful ? batch.harmful_inputs : batch.harmless_inputs;
    const auto& tg = side == Side::harmful ? batch.harmful_targets : batch.harmless_targets;
    return naive_ce(model.forward(in, {}, {}, fc).logits.value(), tg);
}

// The trainable parameters' values and gradients, as copies.
std::vector<Tensor<double>> values_of(nn::CausalLM<double>& m) {
    std::vector<Tensor<double>> out;
    for (auto& p : nn::parameters<double, cpu>(m)) out.push_back(p.value.clone());
    return out;
}
std::vector<Tensor<double>> grads_of(nn::CausalLM<double>& m) {
    std::vector<Tensor<double>> out;
    for (auto& p : nn::parameters<double, cpu>(m)) out.push_back(p.grad.clone());
    return out;
}
double max_diff(const std::vector<Tensor<double>>& a, const std::vector<Tensor<double>>& b) {
    BOOST_REQUIRE(a.size() == b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = a[i].to_vector(), y = b[i].to_vector();
        BOOST_REQUIRE(x.size() == y.size());
        for (std::size_t k = 0; k < x.size(); ++k) m = std::max(m, std::abs(x[k] - y[k]));
    }
    return m;
}

// Central differences of f() in every element of `w` (changed in place and restored).
template <class F>
std::vector<double> central_differences(Tensor<double> w, F&& f, double h = 1e-6) {
    std::vector<double> g;
    double* p = w.data();
    for (index_t i = 0; i < w.numel(); ++i) {
        const double saved = p[i];
        p[i] = saved + h;
        const double up = f();
        p[i] = saved - h;
        const double down = f();
        p[i] = saved;
        g.push_back((up - down) / (2 * h));
    }
    return g;
}

void check_close(const std::vector<double>& want, const Tensor<double>& got, double tol, const std::string& what) {
    auto g = got.to_vector();
    BOOST_REQUIRE(g.size() == want.size());
    double worst = 0;
    for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - want[i]));
    BOOST_TEST(worst < tol, what << ": worst difference " << worst);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(defence_procedures)

// ---------------------------------------------------------------------------------------------
// Vaccine

BOOST_AUTO_TEST_CASE(vaccine_perturbation_is_rho_times_the_normalised_hidden_state_gradient) {
    nn::CausalLM<double> model(tiny_config(), 3);
    auto batch = defence::make_paired_batch<double>(tiny_pairs(), {0, 1}, 0);
    const double rho = 0.7;
    auto e = defence::vaccine_perturbations(model, batch, rho);
    BOOST_REQUIRE(e.size() == 2u);
    const Shape hs{batch.batch(), batch.length(), 8};
    // The refusal loss's gradient in each layer's output, by central differences through the
    // model's perturbation input (no autograd).
    std::vector<std::vector<double>> fd;
    double sq = 0;
    for (std::size_t l = 0; l < 2; ++l) {
        BOOST_TEST((e[l].shape() == hs));
        std::vector<Tensor<double>> pert{Tensor<double>::zeros(hs), Tensor<double>::zeros(hs)};
        fd.push_back(central_differences(pert[l], [&] { return side_ce(model, batch, Side::harmless, pert); }));
        for (double g : fd.back()) sq += g * g;
    }
    double en = 0;
    for (const auto& t : e)
        for (double x : t.to_vector()) en += x * x;
    BOOST_TEST(std::sqrt(en) == rho, tt::tolerance(1e-12));
    BOOST_TEST(std::sqrt(sq) > 1e-3);
    for (std::size_t l = 0; l < 2; ++l) {
        std::vector<double> want;
        for (double g : fd[l]) want.push_back(rho * g / std::sqrt(sq));
        check_close(want, e[l], 1e-7, "layer " + std::to_string(l));
    }
    // Padding carries no loss, so no perturbation: row 0's refusal side is padded from position 4.
    for (index_t c = 0; c < 8; ++c) BOOST_TEST(e[0].at({0, 5, c}) == 0.0);
    for (double x : defence::vaccine_perturbations(model, batch, 0.0)[1].to_vector()) BOOST_TEST(x == 0.0);
    BOOST_CHECK_THROW(defence::vaccine_perturbations(model, batch, -1.0), value_error);
}

BOOST_AUTO_TEST_CASE(vaccine_step_takes_the_gradient_of_the_perturbed_loss) {
    nn::CausalLM<double> model(tiny_config(), 5);
    auto batch = defence::make_paired_batch<double>(tiny_pairs(), {0, 1}, 0);
    const double rho = 1e-3;
    auto e = defence::vaccine_perturbations(model, batch, rho);
    for (auto& p : nn::parameters<double, cpu>(model)) p.grad.fill(0.0);
    auto out = defence::vaccine_step(model, batch, defence::VaccineOptions{rho});
    // The step's loss is the perturbed loss; to first order it exceeds the plain one by rho * ||g||
    // (the perturbation is a step of length rho up the gradient).
    const double plain = side_ce(model, batch, Side::harmless), perturbed = side_ce(model, batch, Side::harmless, e);
    BOOST_TEST(out.terms.at("alignment") == plain, tt::tolerance(1e-12));
    BOOST_TEST(out.loss == perturbed, tt::tolerance(1e-12));
    std::vector<Tensor<double>> g_fd;
    {
        std::vector<Tensor<double>> pert{Tensor<double>::zeros(e[0].shape()), Tensor<double>::zeros(e[0].shape())};
        double sq = 0;
        for (std::size_t l = 0; l < 2; ++l) {
            auto g = central_differences(pert[l], [&] { return side_ce(model, batch, Side::harmless, pert); });
            for (double x : g) sq += x * x;
        }
        BOOST_TEST((perturbed - plain) == rho * std::sqrt(sq), tt::tolerance(1e-2));  // up to O(rho^2)
    }
    // With the perturbation held fixed, the weights' gradient of the perturbed loss, by central
    // differences, in two weights of different layers.
    for (auto* w : {&model.blocks[0].mlp.fc.weight, &model.blocks[1].attn.out.weight}) {
        auto want = central_differences(w->value(), [&] { return side_ce(model, batch, Side::harmless, e); });
        check_close(want, w->grad(), 1e-7, "weight gradient");
    }
}

BOOST_AUTO_TEST_CASE(vaccine_with_rho_zero_is_plain_refusal_training) {
    nn::CausalLM<double> a(tiny_config(), 7);
    auto b = nn::clone(a);
    defence::DefenceOptions opt;
    opt.lr = 1e-2;
    opt.epochs = 2;
    opt.batch_size = 3;
    opt.quiet = true;
    auto ra = defence::vaccine(a, training_pairs(), defence::VaccineOptions{0.0}, opt);
    auto rb = defence::train(b, defence::stability(), training_pairs(), opt);
    BOOST_TEST(ra.steps == rb.steps);
    for (std::size_t s = 0; s < ra.losses.size(); ++s) BOOST_TEST(ra.losses[s] == rb.losses[s], tt::tolerance(1e-12));
    BOOST_TEST(max_diff(values_of(a), values_of(b)) < 1e-12);
    BOOST_CHECK_THROW(defence::vaccine(a, training_pairs(), defence::VaccineOptions{NAN}, opt), value_error);
}

// ---------------------------------------------------------------------------------------------
// Booster

BOOST_AUTO_TEST_CASE(booster_gradient_matches_finite_differences_of_its_objective) {
    for (auto family : {nn::Family::gpt2, nn::Family::llama}) {
        nn::CausalLM<double> model(tiny_config(family), 11);
        auto batch = defence::make_paired_batch<double>(tiny_pairs(), {0, 1}, 0);
        const defence::BoosterOptions bo{0.8, 0.05};
        // The direction of the simulated harmful step, from a separate backward pass on a copy.
        auto copy = nn::clone(model);
        {
            defence::Context<double> ctx(copy, batch);
            defence::answer_loss(ctx, Side::harmful).backward();
        }
        auto d = grads_of(copy);
        double dn = 0;
        for (const auto& t : d)
            for (double x : t.to_vector()) dn += x * x;
        dn = std::sqrt(dn);
        // F(w) = f(w) + lambda * (h(w) - h(w - alpha * d / ||d||)), d held fixed.
        auto params = nn::parameters<double, cpu>(model);
        auto objective = [&] {
            double f = side_ce(model, batch, Side::harmless), h = side_ce(model, batch, Side::harmful);
            const auto w = values_of(model);
            for (std::size_t i = 0; i < params.size(); ++i) params[i].value.assign(params[i].value - d[i] * (bo.alpha / dn));
            const double hp = side_ce(model, batch, Side::harmful);
            for (std::size_t i = 0; i < params.size(); ++i) params[i].value.assign(w[i]);
            return f + bo.lambda * (h - hp);
        };
        const auto w0 = values_of(model);
        const double F = objective();
        for (auto& p : params) p.grad.fill(0.0);
        auto out = defence::booster_step(model, batch, bo);
        BOOST_TEST(max_diff(values_of(model), w0) == 0.0);  // back at w
        BOOST_TEST(out.loss == F, tt::tolerance(1e-10));
        BOOST_TEST(out.terms.at("perturbed") < out.terms.at("harmful"));  // w' is a descent step on h
        auto& w1 = family == nn::Family::gpt2 ? model.blocks[0].mlp.fc.weight : model.blocks[0].mlp.up.weight;
        auto& w2 = family == nn::Family::gpt2 ? model.blocks[1].attn.out.weight : model.blocks[1].attn.v.weight;
        for (auto* w : {&w1, &w2}) {
            auto want = central_differences(w->value(), objective);
            check_close(want, w->grad(), 1e-7, "booster gradient");
        }
    }
}

BOOST_AUTO_TEST_CASE(booster_with_lambda_zero_is_plain_refusal_training) {
    nn::CausalLM<double> a(tiny_config(), 13);
    auto b = nn::clone(a);
    defence::DefenceOptions opt;
    opt.lr = 1e-2;
    opt.batch_size = 4;
    opt.quiet = true;
    defence::booster(a, training_pairs(), defence::BoosterOptions{0.0, 0.1}, opt);
    defence::train(b, defence::stability(), training_pairs(), opt);
    BOOST_TEST(max_diff(values_of(a), values_of(b)) < 1e-12);
    BOOST_CHECK_THROW(defence::booster(a, training_pairs(), defence::BoosterOptions{-1.0, 0.1}, opt), value_error);
}

// ---------------------------------------------------------------------------------------------
// Lisa

namespace {
std::vector<train::Example> examples(bool harmful) { return defence::side_examples(training_pairs(), harmful); }
}  // namespace

BOOST_AUTO_TEST_CASE(lisa_with_rho_zero_is_alternating_finetuning_run_by_hand) {
    nn::CausalLM<double> a(tiny_config(), 17);
    auto b = nn::clone(a);
    const auto align = examples(false), user = examples(true);
    defence::LisaOptions opt;
    opt.rho = 0;
    opt.steps = 11;
    opt.alignment_steps = 2;
    opt.finetune_steps = 3;
    opt.lr = 1e-2;
    opt.batch_size = 8;  // one batch holds each data set, so the order within it does not matter
    opt.quiet = true;
    auto res = defence::lisa_finetune(a, align, user, opt);
    BOOST_TEST(res.steps == 11);
    BOOST_TEST(res.switches == 4);  // A A U U U A A U U U A

    // By hand: one AdamW, full batches, 2 alignment steps then 3 fine-tuning steps, repeated.
    auto params = nn::parameters<double, cpu>(b);
    optim::AdamW<double> adam(params, {.lr = 1e-2, .weight_decay = 0.0});
    std::vector<std::size_t> rows{0, 1, 2, 3, 4, 5, 6, 7};
    for (int s = 0; s < 11; ++s) {
        const bool aligning = s % 5 < 2;
        BOOST_TEST(res.alignment[s] == aligning);
        auto batch = train::make_batch(aligning ? align : user, rows, 0, 1024);
        auto loss = ag::cross_entropy(b.forward(batch.inputs).logits, batch.targets);
        BOOST_TEST(res.losses[s] == loss.value().item(), tt::tolerance(1e-9));
        loss.backward();
        optim::clip_grad_norm(params, 1.0);
        adam.step();
        adam.zero_grad();
    }
    BOOST_TEST(max_diff(values_of(a), values_of(b)) < 1e-9);
}

BOOST_AUTO_TEST_CASE(lisa_proximal_term_holds_the_weights_near_the_anchor) {
    const auto align = examples(false), user = examples(true);
    auto drift = [&](double rho, defence::LisaResult* out) {
        nn::CausalLM<double> m(tiny_config(), 19);
        const auto w0 = values_of(m);
        defence::LisaOptions opt;
        opt.rho = rho;
        opt.steps = 40;
        opt.alignment_steps = 10;
        opt.finetune_steps = 10;
        opt.lr = 1e-2;
        opt.batch_size = 4;
        opt.clip_norm = 0;
        opt.quiet = true;
        auto r = defence::lisa_finetune(m, align, user, opt);
        if (out) *out = r;
        return max_diff(values_of(m), w0);
    };
    defence::LisaResult r;
    const double free = drift(0.0, nullptr), held = drift(1e4, &r);
    BOOST_TEST_MESSAGE("lisa drift: rho 0 " << free << ", rho 1e4 " << held);
    BOOST_TEST(held < 0.25 * free);
    // The proximal term is zero on the first step of each state (the weights are the anchor) and
    // positive after it.
    for (std::size_t s = 0; s < r.proximal.size(); ++s) {
        if (s % 10 == 0) BOOST_TEST(r.proximal[s] == 0.0);
        else BOOST_TEST(r.proximal[s] > 0.0);
    }
    nn::CausalLM<double> m(tiny_config(), 19);
    defence::LisaOptions bad;
    bad.alignment_steps = bad.finetune_steps = 0;
    BOOST_CHECK_THROW(defence::lisa_finetune(m, align, user, bad), value_error);
    BOOST_CHECK_THROW(defence::lisa_finetune(m, {}, user, defence::LisaOptions{}), value_error);
}

// ---------------------------------------------------------------------------------------------
// Security Vectors

BOOST_AUTO_TEST_CASE(security_vector_starves_the_attack_and_is_off_at_evaluation) {
    // Llama with an untied head that takes an adapter too: with the base frozen, a tied embedding
    // and a final norm bound the logits, and a vector on the blocks alone barely fits the data.
    nn::CausalLM<float> model(tiny_config(nn::Family::llama, 16), 23);
    const auto harmful = examples(true);
    auto unprotected = nn::clone(model);
    BOOST_CHECK_THROW(defence::prepare_for_attack(model), value_error);  // no vector yet

    defence::SecurityVectorOptions sv;
    sv.lora.rank = 4;
    sv.lora.targets.push_back("lm_head");
    sv.train.lr = 1e-2;
    sv.train.epochs = 60;
    sv.train.batch_size = 8;
    sv.train.quiet = true;
    defence::train_security_vector(model, harmful, sv);
    BOOST_CHECK_THROW(defence::train_security_vector(model, harmful, sv), value_error);  // already has one

    auto harmful_loss = [&](const nn::CausalLM<float>& m) { return train::evaluate_lm(m, harmful, 8, 0); };
    const double with_vector = harmful_loss(model);
    defence::prepare_for_evaluation(model);
    const double base = harmful_loss(model);
    BOOST_TEST(base == harmful_loss(unprotected), tt::tolerance(1e-6));  // off: the base model exactly
    BOOST_TEST_MESSAGE("harmful loss: with the vector " << with_vector << ", without " << base);
    BOOST_TEST(with_vector < 0.3 * base);

    // Attack set-up: the base trains, the vector is frozen.
    defence::prepare_for_attack(model);
    auto trainable = nn::parameters<float, cpu>(model);
    const std::size_t base_count = nn::parameters<float, cpu>(unprotected).size();
    BOOST_TEST(trainable.size() == base_count);
    for (const auto& p : trainable) BOOST_TEST(p.name.find("lora") == std::string::npos);

    // The attack's gradient on the base is much smaller with the vector on.
    auto grad_norm = [&](nn::CausalLM<float>& m) {
        auto batch = train::make_batch(harmful, {0, 1, 2, 3, 4, 5, 6, 7}, 0, 1024);
        std::vector<ag::Var<float>> vars;
        for (const auto& p : nn::named_parameters<float, cpu>(m))
            if (p.var->requires_grad()) vars.push_back(*p.var);
        double sq = 0;
        for (const auto& g : ag::grad(ag::cross_entropy(m.forward(batch.inputs).logits, batch.targets), vars))
            sq += ward::sum(ward::square(ward::cast<double>(g))).item();
        return std::sqrt(sq);
    };
    const double g_on = grad_norm(model), g_off = grad_norm(unprotected);
    BOOST_TEST_MESSAGE("attack gradient norm: with the vector " << g_on << ", without " << g_off);
    BOOST_TEST(g_on < 0.5 * g_off);

    // The same attack on both; evaluated with the vector off, the protected model learnt less.
    train::TrainOptions attack;
    attack.lr = 1e-2;
    attack.epochs = 10;
    attack.batch_size = 4;
    attack.quiet = true;
    train::train_lm(model, harmful, {}, attack);
    train::train_lm(unprotected, harmful, {}, attack);
    defence::prepare_for_evaluation(model);
    const double after = harmful_loss(model), after_unprotected = harmful_loss(unprotected);
    BOOST_TEST_MESSAGE("harmful loss after the attack: protected " << after << ", unprotected " << after_unprotected);
    BOOST_TEST(after > after_unprotected + 0.5);
}

// ---------------------------------------------------------------------------------------------
// SafeLoRA

BOOST_AUTO_TEST_CASE(safelora_projects_in_a_closed_form_case) {
    for (auto family : {nn::Family::gpt2, nn::Family::llama}) {
        const bool gpt2 = family == nn::Family::gpt2;
        nn::CausalLM<double> model(tiny_config(family), 29);
        auto base = nn::clone(model), aligned = nn::clone(model);
        const std::string target = gpt2 ? "c_fc" : "q_proj";
        nn::add_lora(model, {.targets = {target}, .rank = 2, .alpha = 3, .dropout = 0, .seed = 1});
        auto layer = [&](nn::CausalLM<double>& m, int l) -> nn::Linear<double, cpu>& {
            return gpt2 ? m.blocks[l].mlp.fc : m.blocks[l].attn.q;
        };
        const index_t out = layer(model, 0).out_features(), in = layer(model, 0).in_features();
        // V = s u v^T with unit u (out) and v (in): C = s u u^T, C dW = s u (u^T dW) and
        // cos(dW, C dW) = ||u^T dW|| / ||dW||.
        const double s = 3.0;
        std::vector<double> u(out, 0.0), v(in, 0.0);
        u[0] = 0.6, u[1] = 0.8;
        v[2] = 1.0;
        for (int l = 0; l < 2; ++l) {
            Tensor<double> w = layer(aligned, l).weight.value();
            for (index_t o = 0; o < out; ++o)
                for (index_t i = 0; i < in; ++i) (gpt2 ? w.at({i, o}) : w.at({o, i})) += s * u[o] * v[i];
        }
        // Layer 0's update lies mostly along u, layer 1's mostly across it.
        Generator gen(3);
        for (int l = 0; l < 2; ++l) {
            auto& lora = *layer(model, l).lora;
            Tensor<double> bm(normal<double, cpu>(gen, {out, 2}, 0.0, 0.1));
            for (index_t r = 0; r < 2; ++r) {
                bm.at({0, r}) += l == 0 ? 3.0 : 0.0;
                bm.at({1, r}) += l == 0 ? 4.0 : 0.0;
            }
            lora.b = ag::Var<double>(bm, true);
        }
        std::vector<double> want_sim;
        std::vector<Tensor<double>> b_before;
        for (int l = 0; l < 2; ++l) {
            const auto& lora = *layer(model, l).lora;
            const Tensor<double>& A = lora.a.value();
            const Tensor<double>& B = lora.b.value();
            b_before.push_back(B.clone());
            double all = 0, along = 0;
            for (index_t i = 0; i < in; ++i) {
                double proj = 0;
                for (index_t o = 0; o < out; ++o) {
                    double dw = 0;
                    for (index_t r = 0; r < 2; ++r) dw += lora.scale * B.at({o, r}) * A.at({r, i});
                    all += dw * dw;
                    proj += u[o] * dw;
                }
                along += proj * proj;
            }
            want_sim.push_back(std::sqrt(along / all));
        }
        BOOST_TEST(want_sim[0] > 0.9);
        BOOST_TEST(want_sim[1] < 0.3);

        // Measure only: nothing changes.
        auto rep0 = defence::safelora_project(model, aligned, base, {.threshold = 0.5, .apply = false});
        BOOST_TEST(rep0.projected == 1);
        BOOST_TEST(max_diff({layer(model, 1).lora->b.value()}, {b_before[1]}) == 0.0);

        auto rep = defence::safelora_project(model, aligned, base, {.threshold = 0.5, .apply = true});
        BOOST_REQUIRE(rep.layers.size() == 2u);
        for (int l = 0; l < 2; ++l) BOOST_TEST(rep.layers[l].similarity == want_sim[l], tt::tolerance(1e-10));
        BOOST_TEST(!rep.layers[0].projected);
        BOOST_TEST(rep.layers[1].projected);
        BOOST_TEST(rep.projected == 1);
        BOOST_TEST(rep.layers[1].name.find(target) != std::string::npos);
        BOOST_TEST(max_diff({layer(model, 0).lora->b.value()}, {b_before[0]}) == 0.0);
        // Layer 1's B is now C B = s u (u^T B).
        const Tensor<double>& nb = layer(model, 1).lora->b.value();
        for (index_t r = 0; r < 2; ++r) {
            double ub = 0;
            for (index_t o = 0; o < out; ++o) ub += u[o] * b_before[1].at({o, r});
            for (index_t o = 0; o < out; ++o) BOOST_TEST(nb.at({o, r}) == s * u[o] * ub, tt::tolerance(1e-10));
        }
        // The projected update is aligned: measuring again finds cos = 1 everywhere it projected.
        auto again = defence::safelora_project(model, aligned, base, {.threshold = 0.5, .apply = false});
        BOOST_TEST(again.layers[1].similarity == 1.0, tt::tolerance(1e-10));

        BOOST_CHECK_THROW(defence::safelora_project(model, base, base), value_error);  // no alignment direction
        BOOST_CHECK_THROW(defence::safelora_project(base, aligned, base), value_error);  // no adapter
        nn::CausalLM<double> other(tiny_config(family, 16), 1);
        BOOST_CHECK_THROW(defence::safelora_project(model, other, base), shape_error);
    }
}

// ---------------------------------------------------------------------------------------------
// TAR

BOOST_AUTO_TEST_CASE(tar_meta_gradient_is_the_tamper_gradient_after_an_attack_run_by_hand) {
    for (auto inner : {defence::InnerOptimizer::sgd, defence::InnerOptimizer::adamw}) {
        nn::CausalLM<double> model(tiny_config(), 31);
        auto batch = defence::make_paired_batch<double>(tiny_pairs(), {0, 1}, 0);
        defence::TarOptions opt;
        opt.inner_steps = 3;
        opt.inner_lr = 0.05;
        opt.inner_optimizer = inner;
        opt.tamper_weight = 2.0;
        opt.retain_weight = 0.5;
        // By hand on a copy: three attack steps, then the gradient of -log(1 + CE) there; the
        // retain gradient at the start.
        auto copy = nn::clone(model);
        auto start = nn::clone(model);
        {
            auto params = nn::parameters<double, cpu>(copy);
            optim::Sgd<double> sgd(params, {.lr = 0.05});
            optim::AdamW<double> adamw(params, {.lr = 0.05, .weight_decay = 0.0});
            for (int k = 0; k < 3; ++k) {
                defence::Context<double> ctx(copy, batch);
                defence::answer_loss(ctx, Side::harmful).backward();
                if (inner == defence::InnerOptimizer::sgd) sgd.step();
                else adamw.step();
                sgd.zero_grad();
            }
        }
        const double attacked = side_ce(copy, batch, Side::harmful);
        {
            defence::Context<double> ctx(copy, batch);
            (-ag::log(defence::answer_loss(ctx, Side::harmful) + 1.0) * 2.0).backward();
            defence::Context<double> at_start(start, batch);
            (defence::answer_loss(at_start, Side::harmless) * 0.5).backward();
        }
        auto want = grads_of(copy), retain = grads_of(start);
        for (std::size_t i = 0; i < want.size(); ++i) want[i].assign(want[i] + retain[i]);

        const auto w0 = values_of(model);
        auto out = defence::tar_step(model, batch, opt);
        BOOST_TEST(max_diff(values_of(model), w0) == 0.0);  // back at w
        BOOST_TEST(out.terms.at("attacked") == attacked, tt::tolerance(1e-10));
        BOOST_TEST(out.terms.at("tamper") == -std::log(1 + attacked), tt::tolerance(1e-10));
        BOOST_TEST(out.terms.at("retain") == side_ce(model, batch, Side::harmless), tt::tolerance(1e-10));
        BOOST_TEST(max_diff(grads_of(model), want) < 1e-10);
    }
}

BOOST_AUTO_TEST_CASE(tar_entropy_loss_matches_loops_and_bad_options_throw) {
    nn::CausalLM<double> model(tiny_config(), 37);
    auto batch = defence::make_paired_batch<double>(tiny_pairs(), {0, 1}, 0);
    defence::Context<double> ctx(model, batch);
    const double got = defence::tamper_resistance_loss(ctx, defence::TamperLoss::entropy).value().item();
    const Tensor<double>& x = ctx.harmful().logits.value();
    double total = 0;
    int n = 0;
    for (index_t b = 0; b < x.size(0); ++b)
        for (index_t t = 0; t < x.size(1); ++t) {
            if (batch.harmful_targets.at({b, t}) == ag::ignore_index) continue;
            double z = 0;
            for (index_t v = 0; v < x.size(2); ++v) z += std::exp(x.at({b, t, v}));
            for (index_t v = 0; v < x.size(2); ++v) {
                const double p = std::exp(x.at({b, t, v})) / z;
                total += p * std::log(p);
            }
            ++n;
        }
    BOOST_TEST(got == total / n, tt::tolerance(1e-10));
    BOOST_TEST(got > -std::log(13.0) - 1e-12);  // the negative entropy is at least -log V
    defence::TarOptions bad;
    bad.inner_steps = -1;
    BOOST_CHECK_THROW(defence::tar_step(model, batch, bad), value_error);
    defence::TarOptions rep;
    rep.representation_weight = 1.0;
    BOOST_CHECK_THROW(defence::tar_step(model, batch, rep), value_error);  // needs a reference
}

BOOST_AUTO_TEST_CASE(tar_with_tamper_weight_zero_is_plain_refusal_training) {
    nn::CausalLM<double> a(tiny_config(), 41);
    auto b = nn::clone(a);
    defence::DefenceOptions opt;
    opt.lr = 1e-2;
    opt.batch_size = 4;
    opt.quiet = true;
    defence::TarOptions to;
    to.inner_steps = 2;
    to.inner_lr = 0.1;
    to.tamper_weight = 0.0;
    defence::tar(a, training_pairs(), to, opt);
    defence::train(b, defence::stability(), training_pairs(), opt);
    BOOST_TEST(max_diff(values_of(a), values_of(b)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(tar_raises_the_harmful_loss_after_an_attack) {
    // TAR against the model before it and against the same training without the tamper term
    // (refusal training alone, which also raises the harmful loss before any attack).
    const auto pairs = training_pairs();
    const auto harmful = examples(true);
    nn::CausalLM<float> model(tiny_config(nn::Family::gpt2, 16), 43);
    auto before = nn::clone(model), retain_only = nn::clone(model);
    defence::DefenceOptions opt;
    opt.lr = 1e-2;
    opt.epochs = 30;
    opt.batch_size = 8;
    opt.quiet = true;
    defence::TarOptions to;
    to.inner_steps = 4;
    to.inner_lr = 0.1;
    to.tamper_weight = 1.0;
    to.retain_weight = 1.0;
    defence::tar(model, pairs, to, opt);
    to.tamper_weight = 0.0;
    defence::tar(retain_only, pairs, to, opt);
    // The attack: four SGD steps at lr 0.1 on all the harmful answers (the attack TAR simulates).
    auto attacked_loss = [&](const nn::CausalLM<float>& m) {
        auto c = nn::clone(m);
        auto params = nn::parameters<float, cpu>(c);
        optim::Sgd<float> sgd(params, {.lr = 0.1});
        auto batch = train::make_batch(harmful, {0, 1, 2, 3, 4, 5, 6, 7}, 0, 1024);
        for (int k = 0; k < 4; ++k) {
            ag::cross_entropy(c.forward(batch.inputs).logits, batch.targets).backward();
            sgd.step();
            sgd.zero_grad();
        }
        return train::evaluate_lm(c, harmful, 8, 0);
    };
    const double tar_after = attacked_loss(model), before_after = attacked_loss(before), retain_after = attacked_loss(retain_only);
    const double refusal = train::evaluate_lm(model, examples(false), 8, 0), refusal0 = train::evaluate_lm(before, examples(false), 8, 0);
    BOOST_TEST_MESSAGE("harmful loss after an attack: TAR " << tar_after << ", before TAR " << before_after << ", refusal training alone "
                                                             << retain_after << "; refusal loss " << refusal << " (was " << refusal0 << ")");
    BOOST_TEST(tar_after > before_after + 0.5);
    BOOST_TEST(tar_after > retain_after + 0.5);
    BOOST_TEST(refusal < 0.2 * refusal0);
}

BOOST_AUTO_TEST_CASE(tar_in_bf16_attacks_through_master_weights_as_in_f32) {
    // TAR's simulated attack on a bf16 model steps f32 master weights: 200 SGD steps of lr 2.5e-4,
    // most of them below bf16's resolution at these weights, add up as in f32 (drops of the harmful
    // loss 0.266 against f32's 0.263). Stepped in bf16 itself, many round away: 0.203, 23% short.
    const nn::CausalLM<float> f32(tiny_config(nn::Family::gpt2, 16), 47);
    auto drop = [&]<FloatElement T>(nn::CausalLM<T> model) {
        const auto batch = defence::make_paired_batch<T>(training_pairs(), {0, 1, 2, 3, 4, 5, 6, 7}, 0);
        double start = 0;
        {
            ag::NoGrad ng;
            defence::Context<T> ctx(model, batch);
            start = double(defence::answer_loss(ctx, Side::harmful).value().item());
        }
        defence::TarOptions to;
        to.inner_steps = 200;
        to.inner_lr = 2.5e-4;
        to.inner_optimizer = defence::InnerOptimizer::sgd;
        return start - defence::tar_step(model, batch, to).terms.at("attacked");
    };
    const double in_f32 = drop(nn::clone(f32)), in_bf16 = drop(nn::to_dtype<bf16>(f32));
    BOOST_TEST_MESSAGE("harmful loss drop over the inner attack: f32 " << in_f32 << ", bf16 " << in_bf16);
    BOOST_TEST(in_f32 > 0.05);
    BOOST_TEST(std::abs(in_bf16 - in_f32) < 0.15 * in_f32);
}

BOOST_AUTO_TEST_SUITE_END()
