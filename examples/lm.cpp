// lm: a Hugging Face model directory (config.json, model.safetensors, tokenizer.json) on the CPU,
// or on the GPU (--device cuda, in a build by nvcc: lm_cuda).
//
//   lm --model DIR --prompt TEXT [--max-new N] [--temperature T --top-k K --top-p P --seed S]
//        prints the continuation (greedy unless a temperature is given)
//   lm --model DIR --chat TEXT [the same sampling options]
//        TEXT as one user message through the model's chat template (with the generation prompt);
//        prints the answer alone
//   lm --model DIR --score FILE
//        prints the mean negative log-likelihood per token of the file's text (and perplexity)
//   --dtype f32|bf16 (any mode): the element type the model is loaded and run in
//   --device cpu|cuda (any mode): where; the weights are read from the files straight to that device
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <optional>
#include <sstream>
#include <type_traits>

#include <ward/autograd.hpp>
#include <ward/device_choice.hpp>
#include <ward/io.hpp>
#include <ward/io/dialogue.hpp>
#include <ward/nn.hpp>

using namespace ward;

int main(int argc, char** argv) {
    CLI::App app{"Generate with, or score text under, a Hugging Face causal LM"};
    std::string model_dir, prompt, score_file, chat, dtype = "f32", device = "cpu";
    nn::GenerateOptions gen;
    gen.max_new_tokens = 32;
    app.add_option("--model", model_dir, "model directory")->required()->check(CLI::ExistingDirectory);
    auto* p = app.add_option("--prompt", prompt, "text to continue");
    auto* s = app.add_option("--score", score_file, "text file to score")->check(CLI::ExistingFile);
    auto* c = app.add_option("--chat", chat, "a user message to answer through the model's chat template");
    p->excludes(s);
    c->excludes(p)->excludes(s);
    app.add_option("--max-new", gen.max_new_tokens, "tokens to generate")->check(CLI::PositiveNumber);
    app.add_option("--temperature", gen.temperature, "sampling temperature (0: greedy)")->check(CLI::NonNegativeNumber);
    app.add_option("--top-k", gen.top_k, "keep the k most likely tokens (0: all)");
    app.add_option("--top-p", gen.top_p, "nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
    app.add_option("--seed", gen.seed, "sampling seed");
    app.add_option("--dtype", dtype, "element type of the weights and activations (bf16: half the memory)")
        ->check(CLI::IsMember({"f32", "bf16"}));
    app.add_option("--device", device, "cpu, or cuda (lm_cuda, the build by nvcc)")->check(CLI::IsMember({"cpu", "cuda"}));
    CLI11_PARSE(app, argc, argv);
    if (prompt.empty() && score_file.empty() && chat.empty()) {
        std::fprintf(stderr, "lm: give --prompt, --chat or --score\n");
        return 2;
    }
    try {
        auto tok = io::Tokenizer::from_dir(model_dir);
        // --chat: the template is checked before the (possibly large) model is read. It writes its own
        // bos, so its text is encoded with nothing added, as apply_chat_template(tokenize=True) does.
        std::optional<io::Dialogue> format;
        if (!chat.empty()) format = io::Dialogue::chat(tok, *io::chat_template_for(model_dir, io::ChatMode::on));
        // Everything below runs on the model in the element type asked for (bf16 halves the memory of
        // a 7B model; scores are still accumulated in f32 from its logits).
        auto serve = [&]<FloatElement T, Device D>(nn::CausalLM<T, D> model) -> int {
            if (tok.vocab_size() > static_cast<std::size_t>(model.config.vocab_size))
                throw value_error("lm: the tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but the model only " +
                                  std::to_string(model.config.vocab_size));
            // The special tokens the tokenizer's own files ask for (tokenizer.json's post-processor,
            // tokenizer_config.json's add_bos_token / add_eos_token), as transformers adds them by default.
            auto encode = [&](const std::string& text) {
                const auto ids = tok.encode(text, io::AddSpecialTokens::yes);
                return std::vector<std::int64_t>(ids.begin(), ids.end());
            };
            if (format) {
                gen.stop_tokens = nn::stop_token_ids(model_dir);
                if (auto eos = tok.eos_id(); gen.stop_tokens.empty() && eos) gen.stop_tokens = {*eos};
                if (auto end = format->end_of_turn_id(); end && std::find(gen.stop_tokens.begin(), gen.stop_tokens.end(), *end) == gen.stop_tokens.end())
                    gen.stop_tokens.push_back(*end);
                auto out = nn::generate(model, {format->prompt(chat)}, gen);
                std::vector<std::int32_t> ids(out[0].begin(), out[0].end());
                std::printf("%s\n", io::sanitize_utf8(tok.decode(ids, /*skip_special=*/true)).c_str());
                return 0;
            }
            if (!prompt.empty()) {
                gen.stop_tokens = nn::stop_token_ids(model_dir);  // generation_config.json, then config.json
                if (auto eos = tok.eos_id(); gen.stop_tokens.empty() && eos) gen.stop_tokens = {*eos};
                auto out = nn::generate(model, {encode(prompt)}, gen);
                std::vector<std::int32_t> ids(out[0].begin(), out[0].end());
                std::printf("%s%s\n", prompt.c_str(), io::sanitize_utf8(tok.decode(ids, /*skip_special=*/true)).c_str());
                return 0;
            }
            std::ifstream in(score_file, std::ios::binary);
            std::stringstream text;
            text << in.rdbuf();
            std::vector<std::int64_t> ids = encode(text.str());
            if (ids.size() < 2) throw value_error("lm: " + score_file + " has fewer than 2 tokens");
            // Windows of the model's context, each scoring its tokens after the first.
            const std::size_t window = static_cast<std::size_t>(std::min<index_t>(model.config.max_positions, 1024));
            ag::NoGrad ng;
            double nll = 0;
            std::size_t counted = 0;
            for (std::size_t start = 0; start + 1 < ids.size(); start += window - 1) {
                std::size_t end = std::min(ids.size(), start + window);
                std::vector<std::int64_t> chunk(ids.begin() + static_cast<std::ptrdiff_t>(start), ids.begin() + static_cast<std::ptrdiff_t>(end));
                const index_t n = static_cast<index_t>(chunk.size());
                auto input = on_device<D>(
                    Tensor<std::int64_t>::from_vector(std::vector<std::int64_t>(chunk.begin(), chunk.end() - 1), {1, n - 1}));
                auto target = on_device<D>(
                    Tensor<std::int64_t>::from_vector(std::vector<std::int64_t>(chunk.begin() + 1, chunk.end()), {1, n - 1}));
                ag::Var<float, D> logits;
                if constexpr (std::is_same_v<T, float>) logits = model.forward(input).logits;
                else logits = ag::Var<float, D>(Tensor<float, D>(model.forward(input).logits.value()), false);
                nll += double(ag::cross_entropy(logits, target).value().item()) * double(n - 1);
                counted += static_cast<std::size_t>(n - 1);
                if (end == ids.size()) break;
            }
            std::printf("tokens %zu  mean NLL %.4f nats/token  perplexity %.3f\n", counted, nll / double(counted),
                        std::exp(nll / double(counted)));
            return 0;
        };
        return run_on_device(device, "lm", "lm_cuda", [&]<Device D>() {
            return run_in_dtype(dtype, [&]<FloatElement T>() { return serve(nn::load_causal_lm<T, D>(model_dir)); });
        });
    } catch (const ward::error& e) {
        std::fprintf(stderr, "lm: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {  // the file system or memory: still one line, not an abort
        std::fprintf(stderr, "lm: unexpected error: %s\n", e.what());
        return 2;
    }
}
