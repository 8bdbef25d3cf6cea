// defence_text: the defence demo's pipeline on real text. Requests with harmful continuations and
// refusals come from a JSON/JSONL file (by default DecodingTrust's prompts with refusals); harm is
// judged by a toxicity classifier trained with ward on labelled text (by default DecodingTrust's
// Perspective scores, toxicity > 0.5), or by an external command. The model is a Hugging Face
// directory (config.json, safetensors, tokenizer.json); without --model a small random GPT-2 with
// GPT-2's tokenizer runs the pipeline end to end (it knows nothing, so its rows only show the
// machinery: point --model at a real checkpoint for results). A chat model (its tokenizer_config.json
// has a chat_template) sees each request as a user turn and each answer as the assistant's, through
// its template, with the loss on the answer and its closing tokens (--chat; io/dialogue.hpp).
//
//   defence_text [--model DIR] [--pairs FILE] [--judge-data FILE | --judge-command CMD] [--chat auto|on|off] [--out DIR]
//                [--device cpu|cuda] [--dtype f32|bf16]
//   defence_text_cuda --device cuda ...   (the same program built by nvcc, where CUDA is found)
//
// The judge (the classifier, trained with ward) runs on the CPU in f32 whatever --device and --dtype say.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include <ward/attack/finetune.hpp>
#include <ward/defence.hpp>
#include <ward/device_choice.hpp>
#include <ward/eval.hpp>
#include <ward/io.hpp>
#include <ward/io/dialogue.hpp>
#include <ward/nn.hpp>

#include "real_text.hpp"

using namespace ward;

int main(int argc, char** argv) {
    CLI::App app{"Harmful fine-tuning defences on real text"};
    const std::string data = WARD_DATA_DIR;  // the data shipped in data/
    std::string model_dir, out_dir, judge_command, chat = "auto", device = "cpu", dtype = "f32";
    std::string pairs_file = data + "/decodingtrust/decoding_trust_with_refusals_train.json";
    std::string judge_file = data + "/decodingtrust/training_dataset.jsonl";
    std::string tokenizer_dir = data + "/gpt2-tokenizer";
    defence::TextPairFields fields;
    std::vector<std::string> defences = {"undefended", "repnoise"};
    std::vector<double> attack_lr = {3e-5, 6e-5, 8e-5};
    double defence_lr = 2e-5, alpha = 1.0, beta = 1e-3;
    index_t defence_epochs = 1, max_len = 96, new_tokens = 24;
    std::uint64_t seed = 0;
    app.add_option("--model", model_dir, "Hugging Face model directory")->check(CLI::ExistingDirectory);
    app.add_option("--tokenizer", tokenizer_dir, "tokenizer directory when no --model is given")->check(CLI::ExistingDirectory);
    app.add_option("--pairs", pairs_file, "JSON or JSONL records of request, harmful answer, refusal")->check(CLI::ExistingFile);
    app.add_option("--prompt-field", fields.prompt);
    app.add_option("--harmful-field", fields.harmful);
    app.add_option("--refusal-field", fields.refusal);
    app.add_option("--judge-data", judge_file, "labelled text for the classifier judge (DecodingTrust layout)");
    app.add_option("--judge-command", judge_command, "judge with this command instead (JSONL on stdin, one score per line out)");
    app.add_option("--defences", defences, "undefended, repnoise, vaccine, tar")->delimiter(',');
    app.add_option("--attack-lr", attack_lr)->delimiter(',');
    app.add_option("--defence-lr", defence_lr);
    app.add_option("--defence-epochs", defence_epochs);
    app.add_option("--alpha", alpha);
    app.add_option("--beta", beta);
    app.add_option("--max-len", max_len, "tokens per sequence");
    app.add_option("--new-tokens", new_tokens, "tokens generated per judged request");
    app.add_option("--chat", chat, "format through the model's chat template: auto (when it has one), on or off")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    app.add_option("--seed", seed);
    app.add_option("--out", out_dir, "write the report here");
    app.add_option("--device", device, "cpu, or cuda (defence_text_cuda, the build by nvcc)")->check(CLI::IsMember({"cpu", "cuda"}));
    app.add_option("--dtype", dtype, "element type of the model, its defences and attacks: f32, or bf16 (f32 master weights)")
        ->check(CLI::IsMember({"f32", "bf16"}));
    CLI11_PARSE(app, argc, argv);

    try {
        const std::string tok_dir = model_dir.empty() ? tokenizer_dir : model_dir;
        io::Tokenizer tok = io::Tokenizer::from_dir(tok_dir);
        const auto chat_template = io::chat_template_for(tok_dir, io::parse_chat_mode(chat));
        auto encode = [&](const std::string& text) {
            std::vector<std::int64_t> ids;
            for (auto id : tok.encode(text)) ids.push_back(id);
            if (static_cast<index_t>(ids.size()) > max_len) ids.resize(static_cast<std::size_t>(max_len));
            return ids;
        };
        // The judge reads the answer alone: a chat model's closing token is left out of its text.
        auto decode = [&](const std::vector<std::int64_t>& ids) {
            return tok.decode(std::vector<std::int32_t>(ids.begin(), ids.end()), /*skip_special=*/chat_template.has_value());
        };
        const std::int64_t eos = tok.eos_id().value_or(-1);
        // Plain: each text clipped to max_len, answers closed by eos. Chat: the template's layout, the
        // prompt clipped to its last max_len tokens and each answer to its first max_len.
        const io::Dialogue format = chat_template ? io::Dialogue::chat(tok, *chat_template, {.max_prompt = static_cast<std::size_t>(max_len),
                                                                                              .max_answer = static_cast<std::size_t>(max_len)})
                                                  : io::Dialogue::plain(encode, eos >= 0 ? std::optional<std::int64_t>(eos) : std::nullopt);

        // Splits of the records: defence 60%, attack 20%, held-out judged requests 20%.
        auto records = defence::read_text_pairs(pairs_file, fields);
        std::vector<int> labels(records.size(), 0);
        auto split = eval::stratified_split(labels, 0.4, seed);
        std::vector<defence::Pair> defence_pairs;
        for (auto i : split.train)
            defence_pairs.push_back(defence::make_pair(format, records[i].prompt, records[i].harmful, real_text::refusal_proper(records[i].refusal)));
        eval::ExperimentData d;
        for (std::size_t k = 0; k < split.test.size(); ++k) {
            const auto& r = records[split.test[k]];
            if (k % 2 == 0) d.attack.push_back(train::make_example(format, r.prompt, r.harmful, true));
            else d.eval_prompts.push_back(r.prompt);
        }
        for (const auto& p : defence_pairs) {  // probes: the request with its harmful answer, or with its refusal
            auto h = p.prompt, s = p.prompt;
            h.insert(h.end(), p.harmful.begin(), p.harmful.end());
            s.insert(s.end(), p.harmless.begin(), p.harmless.end());
            d.probe_positive.push_back(h);
            d.probe_negative.push_back(s);
        }
        d.encode = [&](const std::string& request) { return format.prompt(request); };  // chat: the generation prompt
        d.decode = decode;

        eval::ExperimentOptions o;
        for (double lr : attack_lr) {
            attack::AttackOptions a;
            a.lr = lr;
            a.samples = d.attack.size();
            a.batch_size = 4;
            a.max_len = 2 * max_len;
            o.attacks.push_back(a);
        }
        o.harm.max_new_tokens = new_tokens;
        o.harm.batch_size = 8;
        if (eos >= 0) o.harm.stop_tokens = {eos};
        if (chat_template) o.harm.stop_tokens = real_text::chat_stop_tokens(model_dir, tok, format);

        // Everything that trains or generates runs on device D in element type T.
        auto run = [&]<FloatElement T, Device D>() {
            nn::CausalLM<T, D> model = real_text::model_or_random_gpt2<T, D>(model_dir, tok, max_len, seed);
            std::vector<eval::DefenceSpec<T, D>> rows;
            defence::DefenceOptions dopt;
            dopt.lr = defence_lr;
            dopt.epochs = defence_epochs;
            dopt.max_len = 2 * max_len;
            dopt.quiet = true;
            for (const auto& n : defences) {
                eval::DefenceSpec<T, D> spec{n, {}};
                if (n == "repnoise")
                    spec.apply = [&](nn::CausalLM<T, D>& m, std::uint64_t s) { dopt.seed = s; defence::train(m, defence::repnoise(alpha, beta), defence_pairs, dopt); };
                else if (n == "vaccine")
                    spec.apply = [&](nn::CausalLM<T, D>& m, std::uint64_t s) { dopt.seed = s; defence::vaccine(m, defence_pairs, {.rho = 1.0}, dopt); };
                else if (n == "tar")
                    spec.apply = [&](nn::CausalLM<T, D>& m, std::uint64_t s) { dopt.seed = s; defence::tar(m, defence_pairs, {}, dopt); };
                else if (n != "undefended")
                    throw value_error("unknown defence '" + n + "' (undefended, repnoise, vaccine, tar)");
                rows.push_back(std::move(spec));
            }

            eval::Report report;
            auto experiment = [&](auto& judge) {
                std::fprintf(stderr, "judge: %s; %zu defence pairs, %zu attack examples, %zu judged requests\n", std::string(judge.name()).c_str(),
                             defence_pairs.size(), d.attack.size(), d.eval_prompts.size());
                eval::run_experiment(model, rows, d, judge, o, seed, report);
            };
            real_text::with_judge(judge_command, judge_file, tok, experiment);
            report.metadata = {{"program", "defence_text"}, {"pairs", pairs_file}, {"model", model_dir.empty() ? "random gpt2 (smoke run)" : model_dir},
                               {"device", D::name}, {"dtype", dtype}};
            if (chat_template) report.metadata["chat_template"] = chat_template->family();
            if (!out_dir.empty()) {
                auto files = eval::write_report(out_dir, report);
                std::printf("%s", files.table.c_str());
            } else {
                std::printf("%s", eval::format_table(eval::summarize(report)).c_str());
            }
            return 0;
        };
        return run_on_device(device, "defence_text", "defence_text_cuda", [&]<Device D>() {
            return run_in_dtype(dtype, [&]<FloatElement T>() { return run.template operator()<T, D>(); });
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "defence_text: %s\n", e.what());
        return 1;
    }
}
