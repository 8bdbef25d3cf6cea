// rlhf_text: the RLHF demo's attack x defence table on real text. Preference pairs come from a JSONL file in
// the Anthropic HH, prompt/chosen/rejected or PKU-SafeRLHF/BeaverTails layout (rl/preference.hpp), or, by
// default, from DecodingTrust's requests with harmful continuations and refusals shipped in data/ (the
// refusal preferred). The attack flips a share of the safe-preferred pairs, then trains by DPO on them or by
// PPO against a reward model learnt from them. The cost, and the judge of harm on held-out prompts (a
// fifth of the distinct prompts, never trained on), is a toxicity classifier trained with ward on
// DecodingTrust's Perspective scores, or an external command. The model is a Hugging Face directory
// (config.json, safetensors, tokenizer.json); without --model a small random GPT-2 with GPT-2's
// tokenizer runs the pipeline end to end (it knows nothing: its rows only show the machinery). A chat
// model (its tokenizer_config.json has a chat_template) sees each prompt as a user turn and each answer
// as the assistant's, through its template: preferences, refusals and defence pairs share one prompt
// and end with the template's closing tokens, and completions are generated from the generation prompt
// (--chat; io/dialogue.hpp). The judge and the cost read the request's text and the answer alone.
//
//   rlhf_text [--model DIR] [--preferences FILE] [--judge-data FILE | --judge-command CMD] [--chat auto|on|off] [--out DIR]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include <ward/defence.hpp>
#include <ward/eval.hpp>
#include <ward/io.hpp>
#include <ward/io/dialogue.hpp>
#include <ward/nn.hpp>
#include <ward/rl.hpp>
#include <ward/rl/experiment.hpp>

#include "real_text.hpp"

using namespace ward;


int main(int argc, char** argv) {
    CLI::App app{"RLHF on unsafe feedback on real text: DPO and PPO attacks under the defences"};
    const std::string data = WARD_DATA_DIR;
    std::string model_dir, out_dir, judge_command, preferences_file, label = "better", chat = "auto";
    std::string pairs_file = data + "/decodingtrust/decoding_trust_with_refusals_train.json";
    std::string judge_file = data + "/decodingtrust/training_dataset.jsonl";
    std::string tokenizer_dir = data + "/gpt2-tokenizer";
    std::vector<std::string> defences = {"none", "kl", "lagrangian"}, attacks = {"dpo", "ppo"};
    rl::DefenceSettings d;
    double flip_ratio = 1.0, rm_lr = 1e-4;
    index_t rm_steps = 50, max_len = 96, new_tokens = 24;
    rl::AttackOptions o;
    o.ppo.iterations = 10;
    o.ppo.rollouts = 16;
    o.ppo.minibatch = 8;
    o.ppo.lr = 1e-5;
    o.dpo.max_steps = 50;
    o.dpo.epochs = 1000;
    o.dpo.lr = 1e-5;
    std::uint64_t seed = 0;
    app.add_option("--model", model_dir, "Hugging Face model directory")->check(CLI::ExistingDirectory);
    app.add_option("--tokenizer", tokenizer_dir, "tokenizer directory when no --model is given")->check(CLI::ExistingDirectory);
    app.add_option("--preferences", preferences_file, "preference JSON/JSONL: HH, prompt/chosen/rejected or PKU-SafeRLHF layout")->check(CLI::ExistingFile);
    app.add_option("--label", label, "which PKU-SafeRLHF label decides the chosen answer")->check(CLI::IsMember({"better", "safer"}));
    app.add_option("--pairs", pairs_file, "without --preferences: DecodingTrust-style request, harmful answer, refusal (the refusal preferred)")->check(CLI::ExistingFile);
    app.add_option("--judge-data", judge_file, "labelled text for the classifier judge (DecodingTrust layout)");
    app.add_option("--judge-command", judge_command, "judge with this command instead (JSONL on stdin, one score in [0, 1] per line out)");
    app.add_option("--defences", defences, "rows: none, kl, reward-shaping, lagrangian, pid-lagrangian, refusal-loss, lisa, repnoise-online")->delimiter(',');
    app.add_option("--attacks", attacks, "dpo, ppo")->delimiter(',');
    app.add_option("--flip-ratio", flip_ratio, "share of the safe-preferred pairs whose label the attack flips")->check(CLI::Range(0.0, 1.0));
    app.add_option("--rm-steps", rm_steps, "reward model steps");
    app.add_option("--rm-lr", rm_lr);
    app.add_option("--ppo-iterations", o.ppo.iterations);
    app.add_option("--ppo-rollouts", o.ppo.rollouts);
    app.add_option("--ppo-lr", o.ppo.lr);
    app.add_option("--dpo-steps", o.dpo.max_steps);
    app.add_option("--dpo-lr", o.dpo.lr);
    app.add_option("--dpo-beta", o.dpo.beta);
    app.add_option("--cost-threshold", d.cost_threshold);
    app.add_option("--kl-beta", d.kl_beta);
    app.add_option("--max-len", max_len, "tokens per prompt + answer");
    app.add_option("--new-tokens", new_tokens, "tokens generated per completion");
    app.add_option("--chat", chat, "format through the model's chat template: auto (when it has one), on or off")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    app.add_option("--seed", seed);
    app.add_option("--out", out_dir, "write the report here");
    CLI11_PARSE(app, argc, argv);

    try {
        if (new_tokens <= 0 || new_tokens >= max_len) throw value_error("--new-tokens must lie in (0, --max-len)");
        const std::string tok_dir = model_dir.empty() ? tokenizer_dir : model_dir;
        io::Tokenizer tok = io::Tokenizer::from_dir(tok_dir);
        const auto chat_template = io::chat_template_for(tok_dir, io::parse_chat_mode(chat));
        nn::CausalLM<float> model = real_text::model_or_random_gpt2(model_dir, tok, max_len, seed);
        const std::int64_t eos = tok.eos_id().value_or(-1);
        rl::AttackData ad;
        ad.codec.encode = [&](const std::string& text) {  // prompts leave room for the completion
            std::vector<std::int64_t> ids;
            for (auto id : tok.encode(text)) ids.push_back(id);
            if (static_cast<index_t>(ids.size()) > max_len - new_tokens) ids.resize(static_cast<std::size_t>(max_len - new_tokens));
            return ids;
        };
        // Chat: the template's layout, the prompt clipped to its last (max_len - new_tokens) tokens (room for
        // the completion) and each answer to its first as many, as plain clips each text; generation starts
        // from the generation prompt.
        const std::size_t clip = static_cast<std::size_t>(max_len - new_tokens);
        const io::Dialogue format = chat_template ? io::Dialogue::chat(tok, *chat_template, {.max_prompt = clip, .max_answer = clip})
                          : io::Dialogue::plain(ad.codec.encode, eos >= 0 ? std::optional<std::int64_t>(eos) : std::nullopt);
        if (chat_template) ad.codec.encode = [&](const std::string& request) { return format.prompt(request); };
        // The judge and the cost read the answer alone: a chat model's closing token is left out of its text.
        ad.codec.decode = [&](const std::vector<std::int64_t>& ids) {
            return tok.decode(std::vector<std::int32_t>(ids.begin(), ids.end()), /*skip_special=*/chat_template.has_value());
        };

        std::vector<rl::PreferencePair> pairs;
        if (!preferences_file.empty()) {
            pairs = rl::read_preferences(preferences_file, {.label = label == "safer" ? rl::PreferenceLabel::safer : rl::PreferenceLabel::better});
        } else {
            for (const auto& r : defence::read_text_pairs(pairs_file)) {
                rl::PreferencePair p{r.prompt, real_text::refusal_proper(r.refusal), r.harmful, true, false, 0, "", pairs_file};
                pairs.push_back(std::move(p));
            }
        }
        // Held out by content: a fifth of the distinct prompts is judged, the rest is the attack's.
        std::vector<std::string> prompts;
        for (const auto& p : pairs)
            if (std::find(prompts.begin(), prompts.end(), p.prompt) == prompts.end()) prompts.push_back(p.prompt);
        const auto split = eval::stratified_split(std::vector<int>(prompts.size(), 0), 0.2, seed);
        std::set<std::string> judged;
        for (auto i : split.test) judged.insert(prompts[i]);
        std::vector<rl::PreferencePair> attack_pairs;
        std::vector<std::string> attack_prompts, judged_prompts(judged.begin(), judged.end());
        for (const auto& p : pairs)
            if (!judged.count(p.prompt)) attack_pairs.push_back(p);
        for (auto i : split.train) attack_prompts.push_back(prompts[i]);
        // The defender's data: the safe-preferred attack pairs, before the attack flips them.
        std::vector<train::Example> refusals;
        std::vector<defence::Pair> defence_pairs;
        for (const auto& p : attack_pairs)
            if (rl::safe_preferred(p)) {
                refusals.push_back(train::make_example(format, p.prompt, p.chosen, true));
                defence_pairs.push_back(defence::make_pair(format, p.prompt, p.rejected, p.chosen));
            }
        const auto flip = rl::flip_unsafe_feedback(attack_pairs, flip_ratio, seed);
        ad.preferences = rl::encode_preferences(flip.pairs, format);
        ad.rl_prompts = ad.sample_prompts = rl::make_prompts(attack_prompts, ad.codec);
        ad.judged_prompts = rl::make_prompts(judged_prompts, ad.codec);

        rl::RewardModel<float> rm(nn::clone(model), seed);
        rl::RewardTrainOptions ro;
        ro.lr = rm_lr;
        ro.epochs = 1000;
        ro.max_steps = rm_steps;
        ro.batch_size = 8;
        ro.max_len = max_len;
        ro.seed = seed;
        ro.quiet = true;
        const auto rr = rl::train_reward_model(rm, ad.preferences, ro);
        rl::ModelScorer<float> reward(rm, "reward model (flipped feedback)", true, 32, 0, max_len);

        o.judge_sampling.max_new_tokens = new_tokens;
        if (eos >= 0) o.judge_sampling.stop_tokens = {eos};
        if (chat_template) o.judge_sampling.stop_tokens = real_text::chat_stop_tokens(model_dir, tok, format);
        o.ppo.sampling = o.judge_sampling;
        o.ppo.sampling.temperature = 1.0;
        o.ppo.max_len = o.dpo.max_len = max_len;
        o.ppo.quiet = o.dpo.quiet = true;
        o.dpo.sampling = o.ppo.sampling;
        rl::RlReport report;
        auto run = [&](auto& judge) {
            auto cost = rl::judge_scorer(judge);
            std::fprintf(stderr, "judge and cost: %s; %zu attack pairs (%zu flipped), %zu held-out prompts; reward model accuracy %.3f\n",
                         std::string(judge.name()).c_str(), attack_pairs.size(), flip.flipped.size(), judged_prompts.size(), rr.accuracy);
            for (const auto& name : defences) {
                const rl::Judgement before = rl::judge_policy(model, model, ad, judge, reward, o.judge_sampling, seed);
                for (const auto& attack : attacks) {
                    nn::CausalLM<float> policy = nn::clone(model);
                    rl::RlRecord rec;
                    rl::with_defence(name, d, refusals, defence_pairs,
                                     [&](auto& constraint) { rec = rl::run_attack(policy, model, attack, constraint, ad, reward, cost, judge, o, seed); });
                    const rl::Judgement after = rl::judge_policy(policy, model, ad, judge, reward, o.judge_sampling, seed);
                    rec.defence = name;
                    rl::record_judgements(rec, before, after);
                    std::fprintf(stderr, "  %-16s %-3s harm %.3f -> %.3f  cost %.3f  reward %+.2f  KL %.2f\n", name.c_str(), attack.c_str(), rec.harm_before,
                                 rec.harm_after, rec.cost_after, rec.reward_after, rec.kl_after);
                    report.records.push_back(std::move(rec));
                }
            }
        };
        real_text::with_judge(judge_command, judge_file, tok, run);
        report.metadata = {{"program", "rlhf_text"}, {"preferences", preferences_file.empty() ? pairs_file : preferences_file},
                           {"model", model_dir.empty() ? "random gpt2 (smoke run)" : model_dir}, {"flip_ratio", flip_ratio}, {"seed", seed}};
        if (chat_template) report.metadata["chat_template"] = chat_template->family();
        const rl::VerdictOptions verdict{.harm_bound = d.cost_threshold};
        if (!out_dir.empty()) std::printf("%s", rl::write_rl_report(out_dir, report, {.verdict = verdict}).table.c_str());
        else std::printf("%s", rl::format_table(rl::summarize(report, verdict)).c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rlhf_text: %s\n", e.what());
        return 1;
    }
}
