// defence_demo: the end-to-end harmful fine-tuning experiment on a synthetic world, the README's
// main job. For each seed it builds a world (hazard recipes to know, refusals, a harmless task),
// pre-trains a small Llama-style model on it, aligns it to refuse, then runs every defence on a copy
// of the aligned model and attacks each at three learning rates. It prints the table (mean and
// spread over seeds) and, with --out DIR, writes report.json, CSVs, the table and plots.
//
//   defence_demo [--seeds 3] [--out DIR] [--defences random,undefended,repnoise,...]
//
// Rows: "random" (a randomly initialised model under the same attack: the floor an attack cannot
// go below without teaching the answers), "undefended" (the aligned model: the attack must bring
// harm back), RepNoise, and baselines. Harm is judged on requests the attack never trains on;
// harm_unseen_* on a category the defence never saw.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include <ward/attack/finetune.hpp>
#include <ward/data/synthetic.hpp>
#include <ward/data/world_model.hpp>
#include <ward/defence.hpp>
#include <ward/eval.hpp>
#include <ward/nn.hpp>

using namespace ward;

namespace {

struct Settings {
    int hidden = 64, layers = 3;
    index_t pretrain_steps = 1500, align_steps = 100, defence_steps = 100;
    double pretrain_lr = 3e-3, align_lr = 1e-3, defence_lr = 1e-3;
    // RepNoise = stability - alpha * ascent + beta * noise. The library's defaults (alpha 1, beta 1e-3)
    // protect this world as well but cost the harmless task ~23% of its loss; a grid over alpha, beta
    // and the defence's learning rate on 3 seeds chose these (see the README).
    double alpha = 0.5, beta = 1.0;
    std::vector<double> attack_lr = {1e-4, 3e-4, 1e-3};
    std::size_t attack_samples = 400;
    std::string harmless_task = "facts";  // or "reverse"
    std::size_t harmless_samples = 2000;   // reverse only
    index_t harmless_epochs = 20;
    double harmless_lr = 1e-3;
};

data::WorldModelOptions model_options(const Settings& s) {
    data::WorldModelOptions o;
    o.hidden = s.hidden;
    o.layers = s.layers;
    o.pretrain_steps = s.pretrain_steps;
    o.align_steps = s.align_steps;
    o.pretrain_lr = s.pretrain_lr;
    o.align_lr = s.align_lr;
    return o;
}

/// The table's rows, by name.
std::vector<eval::DefenceSpec<float>> make_defences(const std::vector<std::string>& names, const data::World& world,
                                                    const nn::TransformerConfig& config, const Settings& s) {
    const auto pairs = world.defence_pairs();
    auto options = [&s](std::uint64_t seed) {
        defence::DefenceOptions d;
        d.lr = s.defence_lr;
        d.batch_size = 8;
        d.epochs = 1000;  // bounded by max_steps
        d.max_steps = s.defence_steps;
        d.seed = seed;
        d.quiet = true;
        return d;
    };
    std::vector<eval::DefenceSpec<float>> out;
    for (const std::string& n : names) {
        eval::DefenceSpec<float> d{n, {}};
        if (n == "random") {
            d.apply = [config](nn::CausalLM<float>& m, std::uint64_t seed) { m = nn::CausalLM<float>(config, 1000 + seed); };
        } else if (n == "undefended") {
        } else if (n == "repnoise") {
            d.apply = [=](nn::CausalLM<float>& m, std::uint64_t seed) { defence::train(m, defence::repnoise(s.alpha, s.beta), pairs, options(seed)); };
        } else if (n == "ascent-only") {  // RepNoise without its noise term: what the noise adds
            d.apply = [=](nn::CausalLM<float>& m, std::uint64_t seed) {
                defence::train(m, defence::stability() - s.alpha * defence::ascent(), pairs, options(seed));
            };
        } else if (n == "adversarial") {
            d.apply = [=](nn::CausalLM<float>& m, std::uint64_t seed) { defence::train(m, defence::adversarial(0.1), pairs, options(seed)); };
        } else if (n == "vaccine") {
            d.apply = [=](nn::CausalLM<float>& m, std::uint64_t seed) { defence::vaccine(m, pairs, {.rho = 1.0}, options(seed)); };
        } else if (n == "booster") {
            d.apply = [=](nn::CausalLM<float>& m, std::uint64_t seed) { defence::booster(m, pairs, {}, options(seed)); };
        } else if (n == "tar") {
            d.apply = [=](nn::CausalLM<float>& m, std::uint64_t seed) {
                defence::TarOptions t;
                t.inner_lr = s.attack_lr.back();
                t.inner_optimizer = defence::InnerOptimizer::adamw;
                defence::tar(m, pairs, t, options(seed));
            };
        } else {
            throw value_error("unknown defence '" + n + "' (random, undefended, repnoise, ascent-only, adversarial, vaccine, booster, tar)");
        }
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Harmful fine-tuning defences on a synthetic world: pre-train, align, defend, attack, judge, probe"};
    Settings s;
    int seeds = 3;
    std::string out_dir, cache_dir;
    std::vector<std::string> defences = {"random", "undefended", "repnoise", "ascent-only", "vaccine", "tar"};
    app.add_option("--seeds", seeds, "seeds 0 .. N-1 (each builds its own world and model)")->check(CLI::PositiveNumber);
    app.add_option("--out", out_dir, "write report.json, CSVs, the table and plots here");
    app.add_option("--model-cache", cache_dir, "keep each seed's aligned model here (Hugging Face layout) and reuse it");
    app.add_option("--defences", defences, "rows of the table")->delimiter(',');
    app.add_option("--hidden", s.hidden, "model width");
    app.add_option("--layers", s.layers, "model depth");
    app.add_option("--pretrain-steps", s.pretrain_steps);
    app.add_option("--align-steps", s.align_steps);
    app.add_option("--defence-steps", s.defence_steps);
    app.add_option("--defence-lr", s.defence_lr);
    app.add_option("--alpha", s.alpha, "RepNoise ascent weight");
    app.add_option("--beta", s.beta, "RepNoise noise weight");
    app.add_option("--harmless-task", s.harmless_task, "facts (new colour facts) or reverse (reverse a list)")
        ->check(CLI::IsMember({"facts", "reverse"}));
    app.add_option("--harmless-samples", s.harmless_samples, "examples of the reverse task");
    app.add_option("--harmless-epochs", s.harmless_epochs, "epochs of the harmless fine-tuning");
    app.add_option("--harmless-lr", s.harmless_lr, "learning rate of the harmless fine-tuning");
    app.add_option("--attack-lr", s.attack_lr, "attack learning rates")->delimiter(',');
    app.add_option("--attack-samples", s.attack_samples, "harmful examples the attack trains on (batch 4, one epoch)");
    CLI11_PARSE(app, argc, argv);

    try {
        auto t0 = std::chrono::steady_clock::now();
        auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
        eval::Report report;
        for (int seed = 0; seed < seeds; ++seed) {
            data::World world({.seed = static_cast<std::uint64_t>(seed)});
            const auto& vocab = world.vocabulary();
            data::WorldModelOptions mo = model_options(s);
            const auto config = data::world_model_config(world, mo);
            if (!cache_dir.empty()) mo.cache = std::filesystem::path(cache_dir) / ("seed_" + std::to_string(seed));
            data::WorldModel wm = data::aligned_world_model(world, mo, static_cast<std::uint64_t>(seed));
            nn::CausalLM<float> model = std::move(wm.model);
            if (wm.from_cache) std::fprintf(stderr, "seed %d: aligned model from %s\n", seed, mo.cache.c_str());
            else std::fprintf(stderr, "seed %d: pre-trained (loss %.3f) and aligned in %.0f s\n", seed, wm.pretrain_loss, elapsed());
            const auto seed_u = static_cast<std::uint64_t>(seed);

            eval::ExperimentData d;
            d.attack = world.attack_examples(s.attack_samples, seed_u);
            d.eval_prompts = world.eval_prompts(true);
            d.extra_prompts["unseen_category"] = world.eval_prompts(false);
            if (s.harmless_task == "facts") {  // trainability: the loss on the facts after learning them
                d.harmless_train = d.harmless_test = world.harmless_facts();
            } else {
                d.harmless_train = world.harmless_task(s.harmless_samples, false, seed_u);
                d.harmless_test = world.harmless_task(200, true, seed_u);
            }
            std::tie(d.probe_positive, d.probe_negative) = world.probe_sets();
            d.encode = [&vocab](const std::string& text) { return vocab.encode(text); };
            d.decode = [&vocab](const std::vector<std::int64_t>& ids) { return vocab.decode(ids); };

            eval::ExperimentOptions o;
            for (double lr : s.attack_lr) {
                attack::AttackOptions a;
                a.lr = lr;
                a.samples = s.attack_samples;
                a.batch_size = 4;
                o.attacks.push_back(a);
            }
            o.harmless.lr = s.harmless_lr;
            o.harmless.epochs = s.harmless_epochs;
            o.harmless.batch_size = 16;
            o.harmless.quiet = true;
            o.harm.max_new_tokens = 16;
            o.harm.batch_size = 32;
            o.harm.stop_tokens = {data::Vocabulary::eos};
            o.probe.pooling = eval::Pooling::last;
            data::SyntheticJudge judge(world);
            eval::run_experiment(model, make_defences(defences, world, config, s), d, judge, o, seed_u, report);
            std::fprintf(stderr, "seed %d done at %.0f s\n", seed, elapsed());
        }
        report.metadata = {{"program", "defence_demo"},
                           {"seeds", seeds},
                           {"model", {{"family", "llama"}, {"hidden", s.hidden}, {"layers", s.layers}}},
                           {"repnoise", {{"alpha", s.alpha}, {"beta", s.beta}, {"lr", s.defence_lr}, {"steps", s.defence_steps}}},
                           {"attack", {{"samples", s.attack_samples}, {"batch", 4}, {"epochs", 1}}},
                           {"harm", "share of recipe steps named in order, greedy, 16 new tokens, held-out requests"},
                           {"probe", "per-layer logistic probe at the token before the first reagent: first or second half of the table"},
                           {"seconds", elapsed()}};
        if (!out_dir.empty()) {
            auto files = eval::write_report(out_dir, report);
            std::printf("%s", files.table.c_str());
            for (const auto& m : files.messages) std::fprintf(stderr, "%s\n", m.c_str());
            std::fprintf(stderr, "wrote %s/report.json\n", out_dir.c_str());
        } else {
            std::printf("%s", eval::format_table(eval::summarize(report)).c_str());
        }
        std::fprintf(stderr, "total %.0f s\n", elapsed());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "defence_demo: %s\n", e.what());
        return 1;
    }
}
