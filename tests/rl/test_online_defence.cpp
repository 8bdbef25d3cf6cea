// The loss pieces: the refusal loss is the cross-entropy of the refusal batch, RepNoise online is the
// defence term on its paired batch, and Lisa alternates states on schedule with the proximal term
// rho / 2 ||w - w_anchor||^2 (worked on a model whose weights are moved by hand), its anchor saved and restored.
#include <boost/test/unit_test.hpp>

#include <ward/defence.hpp>

#include "rl/bandit.hpp"
#include "temp_dir.hpp"

#include <cmath>

using namespace ward;
using namespace rl_test;

namespace {
std::vector<train::Example> one_refusal() {
    train::Example e;
    e.ids = {3, 1, 2, 1};
    e.loss_mask = {0, 1, 1, 1};
    return {e};
}
double squared_distance(nn::CausalLM<float>& a, nn::CausalLM<float>& b) {
    auto pa = nn::named_parameters<float, cpu>(a), pb = nn::named_parameters<float, cpu>(b);
    double total = 0;
    for (std::size_t i = 0; i < pa.size(); ++i) {
        const auto x = pa[i].var->value().to_vector(), y = pb[i].var->value().to_vector();
        for (std::size_t k = 0; k < x.size(); ++k) total += (double(x[k]) - double(y[k])) * (double(x[k]) - double(y[k]));
    }
    return total;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_online_defence)

BOOST_AUTO_TEST_CASE(refusal_loss_is_the_refusal_cross_entropy) {
    auto m = bandit_model(1);
    auto piece = 2.0 * rl::refusal_loss(one_refusal(), 4);
    rl::UpdateContext<float> u{m, nullptr, 7, 0, 1.0, {}};
    const double got = piece.loss(u).value().item();
    const auto b = train::make_batch(one_refusal(), {0, 0, 0, 0}, 0, 1024);
    const double want = 2.0 * ag::cross_entropy(m.forward(b.inputs).logits, b.targets).value().item();
    BOOST_TEST(std::abs(got - want) < 1e-6);
    BOOST_TEST(u.attack_weight == 1.0);
}

BOOST_AUTO_TEST_CASE(online_repnoise_is_the_defence_term_on_its_batch) {
    auto m = bandit_model(1);
    const std::vector<defence::Pair> pairs = {{{3}, {2, 1}, {1, 1}}};
    auto piece = rl::online(defence::stability(), pairs, 2);
    rl::UpdateContext<float> u{m, nullptr, 0, 0, 1.0, {}};
    const double got = piece.loss(u).value().item();
    const auto batch = defence::make_paired_batch<float>(pairs, {0, 0}, 0);
    const double want = ag::cross_entropy(m.forward(batch.harmless_inputs).logits, batch.harmless_targets).value().item();
    BOOST_TEST(std::abs(got - want) < 1e-6);
    BOOST_TEST(u.values.count("online.stability") == 1u);
}

BOOST_AUTO_TEST_CASE(lisa_alternates_and_pulls_towards_its_anchor) {
    auto m = bandit_model(1);
    auto lisa = rl::lisa(one_refusal(), {.rho = 0.5, .alignment_steps = 1, .finetune_steps = 2, .batch_size = 2});
    rl::UpdateContext<float> u0{m, nullptr, 0, 0, 1.0, {}};
    lisa.loss(u0);
    BOOST_TEST(u0.attack_weight == 0.0);  // step 0: alignment, the attack's loss left out
    BOOST_TEST(u0.values.at("lisa.proximal") == 0.0);
    rl::UpdateContext<float> u1{m, nullptr, 1, 0, 1.0, {}};
    lisa.loss(u1);
    BOOST_TEST(u1.attack_weight == 1.0);  // step 1: the switch to fine-tuning, the anchor at the weights now
    BOOST_TEST(u1.values.at("lisa.proximal") == 0.0);
    auto anchor = nn::clone(m);
    // Move every weight by 0.01: the proximal term is rho / 2 times the squared distance to the anchor.
    for (auto& p : nn::named_parameters<float, cpu>(m)) {
        Tensor<float> w = p.var->value();  // a handle on the parameter's storage
        w.assign(w + 0.01f);
    }
    const double d2 = squared_distance(m, anchor);
    BOOST_TEST(d2 > 0.0);
    rl::UpdateContext<float> u2{m, nullptr, 2, 0, 1.0, {}};
    const double prox = lisa.loss(u2).value().item();
    BOOST_TEST(u2.attack_weight == 1.0);
    BOOST_TEST(std::abs(prox - 0.25 * d2) < 1e-4 * d2, prox << " vs " << 0.25 * d2);
    // Saved and restored, the anchor is the same.
    ward_test::TempDir d;
    io::SafetensorsWriter w;
    lisa.write(w, "rl.");
    w.save(d.path / "lisa.safetensors");
    auto again = rl::lisa(one_refusal(), {.rho = 0.5, .alignment_steps = 1, .finetune_steps = 2, .batch_size = 2});
    again.read(io::SafetensorsFile(d.path / "lisa.safetensors"), "rl.");
    rl::UpdateContext<float> u2b{m, nullptr, 2, 0, 1.0, {}};
    BOOST_TEST(again.loss(u2b).value().item() == prox);
    // Step 3 switches back to alignment: the anchor moves to the current weights.
    rl::UpdateContext<float> u3{m, nullptr, 3, 0, 1.0, {}};
    lisa.loss(u3);
    BOOST_TEST(u3.attack_weight == 0.0);
    BOOST_TEST(u3.values.at("lisa.proximal") == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
