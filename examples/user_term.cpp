// user_term: a defence term from the user's own header (user_term/separation.hpp) composed with
// RepNoise's built-in terms, trained on the synthetic world. Prints each term's value before and
// after, and checks that the composite equals the sum of its weighted parts.
//
//   user_term [--steps N] [--weight W]
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>

#include <ward/data/synthetic.hpp>
#include <ward/defence.hpp>
#include <ward/nn.hpp>

#include "user_term/separation.hpp"

using namespace ward;

int main(int argc, char** argv) {
    CLI::App app{"A user's defence term composed with RepNoise"};
    int steps = 30;
    double weight = 0.5;
    app.add_option("--steps", steps, "defence steps")->check(CLI::PositiveNumber);
    app.add_option("--weight", weight, "weight of the user's term");
    CLI11_PARSE(app, argc, argv);
    try {
        data::World world({.items_per_category = 8});
        nn::TransformerConfig c;
        c.family = nn::Family::llama;
        c.vocab_size = world.vocabulary().size();
        c.hidden = 32;
        c.layers = 2;
        c.heads = c.kv_heads = 2;
        c.intermediate = 64;
        c.max_positions = 64;
        nn::CausalLM<float> model(c, 0);

        const auto defence = defence::repnoise(1.0, 1e-3) + weight * my_lab::separation();
        static_assert(defence::DefenceTerm<my_lab::Separation> && defence::DefenceTerm<decltype(defence)>);
        const auto pairs = world.defence_pairs();
        auto batch = defence::make_paired_batch<float>(pairs, {0, 1, 2, 3, 4, 5, 6, 7}, 0);
        auto show = [&](const char* when) {
            defence::Context<float> ctx(model, batch, nullptr, 1);
            const double total = defence::evaluate(defence, ctx).value().item();
            const auto& v = ctx.values();
            const double parts = v.at("stability") - v.at("ascent") + 1e-3 * v.at("noise") + weight * v.at("separation");
            std::printf("%s: total %.5f = stability %.4f - ascent %.4f + 1e-3 noise %.4f + %.2f separation %.4f (%d forward passes)\n", when,
                        total, v.at("stability"), v.at("ascent"), v.at("noise"), weight, v.at("separation"), ctx.forward_passes());
            if (std::abs(total - parts) > 1e-4 * (1 + std::abs(total))) throw value_error("the composite is not the sum of its parts");
            return v.at("separation");
        };
        const double before = show("before");
        defence::DefenceOptions o;
        o.lr = 3e-3;
        o.batch_size = 8;
        o.epochs = 100;
        o.max_steps = steps;
        o.quiet = true;
        defence::train(model, defence, pairs, o);
        const double after = show("after");
        std::printf("separation %s: %.4f -> %.4f\n", after < before ? "fell" : "did not fall", before, after);
        return after < before ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "user_term: %s\n", e.what());
        return 1;
    }
}
