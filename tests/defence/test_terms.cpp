// Defence terms: each against a value computed here with plain loops from the model's own forward
// pass (cross-entropies, MMD, norms, cosines), a finite-difference gradient check through a tiny f64
// model, and the composition rules (shared forward passes, recorded values, user terms).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/defence.hpp>

using namespace ward;
using defence::Side;

namespace {

nn::TransformerConfig tiny_config(nn::Family family) {
    nn::TransformerConfig c;
    c.family = family;
    c.vocab_size = 13;
    c.hidden = 8;
    c.layers = 2;
    c.heads = 2;
    c.kv_heads = family == nn::Family::llama ? 1 : 2;
    c.intermediate = 16;
    c.max_positions = 32;
    c.tie_embeddings = family == nn::Family::gpt2;
    return c;
}

// Two requests; the answers differ from the first answer token on, and are of different lengths.
std::vector<defence::Pair> tiny_pairs() {
    return {{{1, 2, 3}, {4, 5, 6, 7}, {8, 9}}, {{1, 3}, {5, 5, 6}, {8, 9, 10, 11}}};
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

// Mean squared distance over distinct pairs of the pooled rows.
double naive_b0(const std::vector<std::vector<double>>& x, const std::vector<std::vector<double>>& y) {
    std::vector<std::vector<double>> z = x;
    z.insert(z.end(), y.begin(), y.end());
    double s = 0;
    for (const auto& a : z)
        for (const auto& b : z)
            for (std::size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
    return s / double(z.size() * z.size() - z.size());
}

// Squared MMD with the 5-bandwidth RBF kernel, in plain loops over rows of x (n, d) and y (m, d).
double naive_mmd(const std::vector<std::vector<double>>& x, const std::vector<std::vector<double>>& y) {
    std::vector<std::vector<double>> z = x;
    z.insert(z.end(), y.begin(), y.end());
    const std::size_t N = z.size(), n = x.size();
    auto d2 = [&](std::size_t i, std::size_t j) {
        double s = 0;
        for (std::size_t k = 0; k < z[i].size(); ++k) s += (z[i][k] - z[j][k]) * (z[i][k] - z[j][k]);
        return s;
    };
    double b0 = 0;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j) b0 += d2(i, j);
    b0 /= double(N * N - N);
    auto k = [&](std::size_t i, std::size_t j) {
        double s = 0;
        for (double m : {0.25, 0.5, 1.0, 2.0, 4.0}) s += std::exp(-d2(i, j) / (b0 * m));
        return s;
    };
    double xx = 0, yy = 0, xy = 0;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j) {
            if (i < n && j < n) xx += k(i, j);
            else if (i >= n && j >= n) yy += k(i, j);
            else if (i < n) xy += k(i, j);
        }
    const double m = double(N - n);
    return xx / double(n * n) + yy / (m * m) - 2 * xy / (double(n) * m);
}

std::vector<std::vector<double>> rows_of(const Tensor<double>& t) {
    std::vector<std::vector<double>> r(static_cast<std::size_t>(t.size(0)));
    for (index_t i = 0; i < t.size(0); ++i)
        for (index_t j = 0; j < t.size(1); ++j) r[i].push_back(t.at({i, j}));
    return r;
}

struct Fixture {
    nn::CausalLM<double> model, reference;
    defence::PairedBatch<double> batch;
    explicit Fixture(nn::Family family = nn::Family::gpt2)
        : model(tiny_config(family), 3), reference(tiny_config(family), 4),
          batch(defence::make_paired_batch<double>(tiny_pairs(), {0, 1}, 0)) {}
};

// The noise term with each layer's bandwidth held at its value for the fixture's model: the function
// whose derivative the term's gradient is (no gradient flows through b0).
defence::MmdNoise noise_with_frozen_bandwidths(Fixture& f) {
    defence::Context<double> ctx(f.model, f.batch, nullptr, 11);
    Generator gen(11, 0x6465665eu);
    defence::MmdNoise term = defence::mmd_noise();
    for (const auto& h : ctx.harmful().mlp_out) {
        Tensor<double> noise(normal<double, cpu>(gen, h.shape(), 0.0, 1.0));
        term.bandwidths.push_back(naive_b0(rows_of(defence::masked_flatten(h, f.batch.differs).value()),
                                           rows_of(defence::masked_flatten(ag::Var<double>(noise), f.batch.differs).value())));
    }
    // Same value as the term with bandwidths from the samples.
    defence::Context<double> again(f.model, f.batch, nullptr, 11);
    BOOST_TEST(term(ctx).value().item() == defence::mmd_noise()(again).value().item(), boost::test_tools::tolerance(1e-10));
    return term;
}

// A term's gradient with respect to one weight of the model, against central differences.
template <class Term>
void check_gradient(Fixture& f, const Term& term, nn::Family family) {
    auto& w = family == nn::Family::gpt2 ? f.model.blocks[0].mlp.fc.weight : f.model.blocks[0].mlp.up.weight;
    Tensor<double> w0 = w.value().clone();
    auto fn = [&](const std::vector<ag::Var<double>>& in) {
        w = in[0];
        defence::Context<double> ctx(f.model, f.batch, &f.reference, 11);
        return term(ctx);
    };
    auto r = ag::gradcheck(fn, {w0});
    BOOST_TEST(r.ok, term.name() << ": " << r.worst << " abs " << r.max_abs_error);
    w = ag::Var<double>(w0, true);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(defence_terms)

BOOST_AUTO_TEST_CASE(paired_batch_marks_answers_padding_and_where_the_sides_differ) {
    auto b = defence::make_paired_batch<float>(tiny_pairs(), {0, 1}, 0);
    // Longest side: prompt 2 + refusal 4 = 6 tokens, and prompt 3 + answer 4 = 7: T = 6.
    BOOST_TEST(b.length() == 6);
    // Row 0 harmful: 1 2 3 | 4 5 6 7; targets from the first answer token on.
    std::vector<std::int64_t> tg0 = {-100, -100, 4, 5, 6, 7};
    for (index_t t = 0; t < 6; ++t) BOOST_TEST(b.harmful_targets.at({0, t}) == tg0[t]);
    // Row 0 harmless: 1 2 3 | 8 9, inputs 1 2 3 8 then padding.
    std::vector<float> real0 = {1, 1, 1, 1, 0, 0};
    for (index_t t = 0; t < 6; ++t) BOOST_TEST(b.harmless_real.at({0, t}) == real0[t]);
    // Differs: the shared prompt is dropped; row 0 from position 3 (4 vs 8) to the end of the
    // harmful inputs (1 2 3 4 5 6); row 1 inputs 1 3 5 5 vs 1 3 8 9 10: positions 2 and 3.
    std::vector<float> d0 = {0, 0, 0, 1, 1, 1}, d1 = {0, 0, 1, 1, 0, 0};
    for (index_t t = 0; t < 6; ++t) {
        BOOST_TEST(b.differs.at({0, t}) == d0[t]);
        BOOST_TEST(b.differs.at({1, t}) == d1[t]);
    }
    BOOST_TEST(b.harmful_tokens == 4 + 3);
    BOOST_TEST(b.harmless_tokens == 2 + 4);
    BOOST_CHECK_THROW(defence::make_paired_batch<float>(tiny_pairs(), {2}, 0), index_error);
}

BOOST_AUTO_TEST_CASE(mmd_is_zero_for_identical_samples_and_matches_loops) {
    Generator gen(5);
    Tensor<double> x(normal<double, cpu>(gen, {4, 6}, 0.0, 1.0)), y(normal<double, cpu>(gen, {3, 6}, 0.5, 2.0));
    ag::Var<double> vx(x), vy(y);
    BOOST_TEST(std::abs(defence::mmd(vx, vx).value().item()) < 1e-12);
    const double got = defence::mmd(vx, vy).value().item();
    BOOST_TEST(got == naive_mmd(rows_of(x), rows_of(y)), boost::test_tools::tolerance(1e-10));
    BOOST_TEST(got > 0.01);
    BOOST_CHECK_THROW(defence::mmd(vx, ag::Var<double>(Tensor<double>::zeros({3, 5}))), shape_error);

    // No gradient flows through the bandwidth: the gradient is that of the MMD with b0 held at its
    // value here, which central differences check; and it equals the gradient with b0 recomputed.
    const double b0 = naive_b0(rows_of(x), rows_of(y));
    auto r = ag::gradcheck([b0](const std::vector<ag::Var<double>>& in) { return defence::mmd(in[0], in[1], b0); }, {x, y});
    BOOST_TEST(r.ok, r.worst << " abs " << r.max_abs_error);
    ag::Var<double> gx(x, true), hx(x, true);
    defence::mmd(gx, vy).backward();
    defence::mmd(hx, vy, b0).backward();
    BOOST_TEST(max(abs(gx.grad() - hx.grad())).item() < 1e-12);
}

BOOST_AUTO_TEST_CASE(loss_terms_match_cross_entropies_computed_by_hand) {
    Fixture f;
    defence::Context<double> ctx(f.model, f.batch, &f.reference);
    const auto& harmful = ctx.harmful();
    const double ce_harmless = naive_ce(ctx.harmless().logits.value(), f.batch.harmless_targets);
    const double ce_harmful = naive_ce(harmful.logits.value(), f.batch.harmful_targets);
    BOOST_TEST(defence::stability()(ctx).value().item() == ce_harmless, boost::test_tools::tolerance(1e-10));
    BOOST_TEST(defence::ascent(false)(ctx).value().item() == std::log(ce_harmful + 1), boost::test_tools::tolerance(1e-10));
    BOOST_TEST(defence::adversarial(0.5)(ctx).value().item() == ce_harmless - 0.5 * ce_harmful, boost::test_tools::tolerance(1e-10));

    // The last layer's lens is the final logits themselves.
    BOOST_TEST(naive_ce(f.model.lm_head(f.model.final_norm(harmful.hidden.back())).value(), f.batch.harmful_targets) ==
                   ce_harmful, boost::test_tools::tolerance(1e-12));
}

namespace {
// The embedding output, from the weights: token rows (plus GPT-2's learned position rows), in loops.
Tensor<double> embedding_by_hand(const nn::CausalLM<double>& m, const Tensor<std::int64_t>& ids) {
    const index_t B = ids.size(0), T = ids.size(1), C = m.config.hidden;
    Tensor<double> e = Tensor<double>::zeros({B, T, C});
    const Tensor<double> wte = m.tokens.weight.value();
    for (index_t b = 0; b < B; ++b)
        for (index_t t = 0; t < T; ++t)
            for (index_t c = 0; c < C; ++c) {
                double v = wte.at({ids.at({b, t}), c});
                if (m.config.family == nn::Family::gpt2) v += m.positions.weight.value().at({t, c});
                e.at({b, t, c}) = v;
            }
    return e;
}
}  // namespace

BOOST_AUTO_TEST_CASE(logit_lens_follows_the_reference_with_the_embedding_lens) {
    // The reference RepNoise loss: (CE_final + sum over transformers' L + 1 hidden states of
    // CE(lm_head(norm(h)))) / (L + 1), with hidden_states[0] the embedding output; here with tied
    // (GPT-2 fixture) and untied (Llama fixture) output embeddings.
    for (auto family : {nn::Family::gpt2, nn::Family::llama}) {
        Fixture f(family);
        BOOST_TEST(f.model.config.tie_embeddings == (family == nn::Family::gpt2));
        defence::Context<double> ctx(f.model, f.batch);
        const auto& harmful = ctx.harmful();
        const auto& y = f.batch.harmful_targets;
        const Tensor<double> emb = embedding_by_hand(f.model, f.batch.harmful_inputs);
        BOOST_TEST(max(abs(harmful.embedded.value() - emb)).item() == 0.0);
        auto lens = [&](const Tensor<double>& h) { return naive_ce(f.model.lm_head(f.model.final_norm(ag::Var<double>(h))).value(), y); };
        const index_t L = f.model.config.layers;
        double total = naive_ce(harmful.logits.value(), y) + lens(emb);
        for (index_t l = 0; l < L; ++l) total += lens(harmful.hidden[static_cast<std::size_t>(l)].value());
        const double expected = std::log(total / double(L + 1) + 1);
        BOOST_TEST(defence::ascent()(ctx).value().item() == expected, boost::test_tools::tolerance(1e-10));
        // Leaving the embedding lens out (as ward once did) is a different number: the test can tell.
        BOOST_TEST(std::abs(std::log((total - lens(emb)) / double(L + 1) + 1) - expected) > 1e-4);
    }
}

BOOST_AUTO_TEST_CASE(noise_term_is_the_mean_masked_mmd_over_layers) {
    Fixture f;
    defence::Context<double> ctx(f.model, f.batch, nullptr, 21);
    const double got = defence::mmd_noise()(ctx).value().item();
    // The same draws, in the term's order: one N(0, 1) tensor per layer from the context's generator.
    Generator gen(21, 0x6465665eu);
    double want = 0;
    const auto& mlp = ctx.harmful().mlp_out;
    const index_t B = f.batch.batch(), T = f.batch.length(), C = mlp[0].size(2);
    for (const auto& h : mlp) {
        Tensor<double> noise(normal<double, cpu>(gen, h.shape(), 0.0, 1.0));
        std::vector<std::vector<double>> xs(B), ys(B);
        for (index_t b = 0; b < B; ++b)
            for (index_t t = 0; t < T; ++t)
                for (index_t c = 0; c < C; ++c) {
                    const double m = f.batch.differs.at({b, t});
                    xs[b].push_back(m * h.value().at({b, t, c}));
                    ys[b].push_back(m * noise.at({b, t, c}));
                }
        want += naive_mmd(xs, ys);
    }
    want /= double(mlp.size());
    BOOST_TEST(got == want, boost::test_tools::tolerance(1e-10));

    // Masked positions carry no gradient: changing a shared-prompt token's MLP output changes nothing.
    auto h = ctx.harmful().mlp_out[0];
    auto flat = defence::masked_flatten(h, f.batch.differs);
    BOOST_TEST(flat.value().at({0, 0}) == 0.0);  // row 0, position 0 is prompt
}

BOOST_AUTO_TEST_CASE(representation_terms_match_loops) {
    Fixture f;
    defence::Context<double> ctx(f.model, f.batch, &f.reference);
    const auto& h = ctx.harmless().hidden;
    const auto& hr = ctx.reference(Side::harmless).hidden;
    const index_t B = f.batch.batch(), T = f.batch.length(), C = h[0].size(2);
    // Retain over both layers.
    double retain = 0;
    for (std::size_t l = 0; l < h.size(); ++l) {
        double s = 0, n = 0;
        for (index_t b = 0; b < B; ++b)
            for (index_t t = 0; t < T; ++t) {
                if (f.batch.harmless_real.at({b, t}) == 0) continue;
                double d = 0;
                for (index_t c = 0; c < C; ++c) d += std::pow(h[l].value().at({b, t, c}) - hr[l].value().at({b, t, c}), 2);
                s += std::sqrt(d);
                n += 1;
            }
        retain += s / n;
    }
    BOOST_TEST(defence::retain()(ctx).value().item() == retain / 2, boost::test_tools::tolerance(1e-9));

    // Circuit breaker at layer 1: relu(cos(h, h_ref)) over the positions where the sides differ.
    const auto& g = ctx.harmful().hidden[1].value();
    const auto& gr = ctx.reference(Side::harmful).hidden[1].value();
    double cb = 0, n = 0;
    for (index_t b = 0; b < B; ++b)
        for (index_t t = 0; t < T; ++t) {
            if (f.batch.differs.at({b, t}) == 0) continue;
            double dot = 0, na = 0, nb = 0;
            for (index_t c = 0; c < C; ++c) {
                dot += g.at({b, t, c}) * gr.at({b, t, c});
                na += g.at({b, t, c}) * g.at({b, t, c});
                nb += gr.at({b, t, c}) * gr.at({b, t, c});
            }
            cb += std::max(0.0, dot / (std::sqrt(na) * std::sqrt(nb)));
            n += 1;
        }
    BOOST_TEST(defence::circuit_breaker({1})(ctx).value().item() == cb / n, boost::test_tools::tolerance(1e-6));

    // RMU at layer 0: harmful states to steer * u, harmless states to the reference's.
    const double steer = 3.0;
    Generator gen(9, 0x726d75u);
    Tensor<double> u(uniform<double, cpu>(gen, {C}, 0.0, 1.0));
    double un = 0;
    for (index_t c = 0; c < C; ++c) un += u.at({c}) * u.at({c});
    double forget = 0, keep = 0, nf = 0, nk = 0;
    for (index_t b = 0; b < B; ++b)
        for (index_t t = 0; t < T; ++t) {
            for (index_t c = 0; c < C; ++c) {
                if (f.batch.differs.at({b, t}) != 0)
                    forget += std::pow(ctx.harmful().hidden[0].value().at({b, t, c}) - steer * u.at({c}) / std::sqrt(un), 2);
                if (f.batch.harmless_real.at({b, t}) != 0) keep += std::pow(h[0].value().at({b, t, c}) - hr[0].value().at({b, t, c}), 2);
            }
            nf += f.batch.differs.at({b, t});
            nk += f.batch.harmless_real.at({b, t});
        }
    const double rmu = forget / (nf * C) + 0.5 * keep / (nk * C);
    BOOST_TEST(defence::rmu(0, steer, 0.5, 9)(ctx).value().item() == rmu, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(ctx.forward_passes() == 4);  // each side, model and reference, once
}

BOOST_AUTO_TEST_CASE(every_term_passes_gradcheck) {
    for (auto family : {nn::Family::gpt2, nn::Family::llama}) {
        Fixture f(family);
        check_gradient(f, defence::stability(), family);
        check_gradient(f, defence::ascent(), family);
        check_gradient(f, noise_with_frozen_bandwidths(f), family);
        check_gradient(f, defence::adversarial(0.7), family);
        check_gradient(f, defence::retain({0, 1}), family);
        check_gradient(f, defence::rmu(1, 2.0, 0.5), family);
        check_gradient(f, defence::circuit_breaker(), family);
        check_gradient(f, defence::stability() - defence::ascent() + 0.5 * noise_with_frozen_bandwidths(f), family);
    }
}

// A term written outside the library: the squared norm of the first layer's harmful hidden state.
struct FirstLayerEnergy : defence::TermBase {
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(defence::Context<T, D>& ctx) const {
        const auto& h = ctx.harmful().hidden[0];
        return ag::mean(h * h);
    }
    std::string name() const { return "energy"; }
};
static_assert(defence::DefenceTerm<FirstLayerEnergy>);

BOOST_AUTO_TEST_CASE(terms_compose_share_forward_passes_and_record_values) {
    Fixture f;
    auto d = defence::repnoise(1.0, 0.1) + 0.25 * FirstLayerEnergy{};
    defence::Context<double> ctx(f.model, f.batch, nullptr, 3);
    const double total = defence::evaluate(d, ctx).value().item();
    BOOST_TEST(ctx.forward_passes() == 2);  // harmful and harmless, once each, for four terms
    const auto& v = ctx.values();
    BOOST_TEST(v.size() == 4u);
    BOOST_TEST(total == v.at("stability") - v.at("ascent") + 0.1 * v.at("noise") + 0.25 * v.at("energy"),
               boost::test_tools::tolerance(1e-12));
    // Each recorded value is the term evaluated alone.
    defence::Context<double> alone(f.model, f.batch, nullptr, 3);
    BOOST_TEST(v.at("stability") == defence::stability()(alone).value().item(), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(v.at("energy") == FirstLayerEnergy{}(alone).value().item(), boost::test_tools::tolerance(1e-12));
    BOOST_CHECK_THROW(defence::retain()(alone), value_error);  // no reference model given
}

BOOST_AUTO_TEST_CASE(repnoise_training_raises_the_harmful_loss_and_keeps_the_refusal) {
    auto c = tiny_config(nn::Family::gpt2);
    nn::CausalLM<float> model(c, 1);
    std::vector<defence::Pair> pairs;
    for (int i = 0; i < 8; ++i) pairs.push_back({{1, std::int64_t(2 + i % 4)}, {5, std::int64_t(6 + i % 3), 7}, {11, 12}});
    auto batch = defence::make_paired_batch<float>(pairs, {0, 1, 2, 3, 4, 5, 6, 7}, 0);
    auto losses = [&] {
        defence::Context<float> ctx(model, batch);
        return std::pair{defence::answer_loss(ctx, Side::harmful).value().item(), defence::answer_loss(ctx, Side::harmless).value().item()};
    };
    auto [harm0, safe0] = losses();
    defence::DefenceOptions opt;
    opt.lr = 1e-2;
    opt.epochs = 30;
    opt.quiet = true;
    auto res = defence::train(model, defence::repnoise(1.0, 1e-3), pairs, opt);
    auto [harm1, safe1] = losses();
    BOOST_TEST(res.steps == 60);
    BOOST_TEST(res.terms.back().count("noise") == 1u);
    BOOST_TEST(harm1 > harm0 + 1.0);
    BOOST_TEST(safe1 < 0.2 * safe0);
}

BOOST_AUTO_TEST_CASE(a_nan_loss_stops_training_with_a_message) {
    nn::CausalLM<float> model(tiny_config(nn::Family::gpt2), 1);
    auto& w = model.blocks[0].mlp.fc.weight;
    w = ag::Var<float>(Tensor<float>::full(w.shape(), NAN), true);
    defence::DefenceOptions opt;
    opt.quiet = true;
    try {
        defence::train(model, defence::repnoise(), tiny_pairs(), opt);
        BOOST_FAIL("expected an error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("step 1") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
