#pragma once
// A harmfulness (toxicity) classifier trained with ward itself, usable as a Judge: the text's
// tokens (and, with ngram = 2, neighbouring token pairs) are hashed into `buckets` features, each feature has an
// embedding, the embeddings of a text are averaged (an embedding bag) and a linear layer gives the
// logit of "harmful". Mean pooling followed by a linear layer is a logistic regression on the
// hashed n-gram frequencies; the embedding width only changes how it is optimised. Trained with
// ag::embedding, ag::linear, ag::bce_with_logits and AdamW, in a seeded order from seeded weights:
// the same seed and thread count give the same classifier.
//   eval::ClassifierJudge judge(eval::word_ids, {.encoder = "words"});
//   judge.fit(eval::read_decodingtrust_toxicity(".../training_dataset.jsonl"));
//   auto p = judge.score(prompts, completions);       // P(harmful) per completion
//   judge.save("judge/");  auto again = eval::ClassifierJudge::load("judge/", eval::word_ids);
//
// Any encode function works (io::Tokenizer::encode, word_ids): only the ids it returns are hashed,
// so the same function must be given to load() as was used for fit().

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/autograd/linalg.hpp"
#include "ward/autograd/loss.hpp"
#include "ward/autograd/nn.hpp"
#include "ward/autograd/var.hpp"
#include "ward/core/error.hpp"
#include "ward/core/rng.hpp"
#include "ward/eval/decodingtrust.hpp"
#include "ward/eval/judge.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/optim/adam.hpp"
#include "ward/tensor.hpp"

namespace ward::eval {

/// A tokenizer-free encode: ASCII-lowercased words (runs of letters, digits, apostrophes and any
/// non-ASCII bytes), each hashed (FNV-1a) to an id.
inline std::vector<std::int64_t> word_ids(std::string_view text) {
    std::vector<std::int64_t> ids;
    std::uint64_t h = 0;
    bool in_word = false;
    auto flush = [&] {
        if (in_word) ids.push_back(static_cast<std::int64_t>(h >> 1));
        in_word = false;
    };
    for (unsigned char c : text) {
        const bool word = std::isalnum(c) || c == '\'' || c >= 0x80;
        if (!word) { flush(); continue; }
        if (!in_word) h = 1469598103934665603ull;
        in_word = true;
        h = (h ^ static_cast<unsigned char>(std::tolower(c))) * 1099511628211ull;
    }
    flush();
    return ids;
}

struct ClassifierOptions {
    index_t buckets = 1 << 16;  // hashed feature space
    index_t dim = 8;            // embedding width
    int ngram = 1;              // 1: tokens; 2: tokens and neighbouring pairs
    bool with_prompt = false;   // also the prompt's features (hashed apart from the completion's)
    index_t max_tokens = 512;   // per text, the first ones
    double lr = 2e-2;
    double weight_decay = 0.0;
    index_t epochs = 8;
    index_t batch_size = 32;
    double init_std = 0.1;
    std::uint64_t seed = 0;
    std::string encoder = "custom";  // names the encode function; saved, and checked by load()
};

struct ClassifierFit {
    std::vector<double> epoch_losses;  // mean training loss of each epoch
};

class ClassifierJudge {
public:
    using Encode = std::function<std::vector<std::int64_t>(std::string_view)>;

    /// `encode(text)` returns any range of integer ids.
    template <class E>
    explicit ClassifierJudge(const E& encode, ClassifierOptions options = {}) : opt_(std::move(options)) {
        encode_ = [encode](std::string_view s) {
            std::vector<std::int64_t> out;
            for (auto id : encode(std::string(s))) out.push_back(static_cast<std::int64_t>(id));
            return out;
        };
        validate(opt_, "ClassifierJudge");
        init();
    }

    std::string name() const { return "classifier(" + opt_.encoder + ")"; }
    const ClassifierOptions& options() const { return opt_; }

    /// Trains from fresh seeded weights on labelled pairs (labels 0 or 1).
    ClassifierFit fit(const std::vector<LabelledPair>& data) {
        if (data.empty()) throw value_error("ClassifierJudge::fit: no examples");
        for (std::size_t i = 0; i < data.size(); ++i)
            if (data[i].label != 0 && data[i].label != 1)
                throw value_error("ClassifierJudge::fit: example " + std::to_string(i) + " has label " +
                                  std::to_string(data[i].label) + " (0 or 1 expected)");
        init();
        std::vector<std::vector<std::int64_t>> feats;
        feats.reserve(data.size());
        for (const auto& p : data) feats.push_back(features(p.prompt, p.completion));
        optim::AdamWOptions ao;
        ao.lr = opt_.lr;
        ao.weight_decay = opt_.weight_decay;
        optim::AdamW<float> adam({table_.parameter("embedding"), weight_.parameter("head.weight"), bias_.parameter("head.bias")}, ao);
        ClassifierFit result;
        std::vector<std::size_t> order(data.size());
        for (index_t epoch = 0; epoch < opt_.epochs; ++epoch) {
            order = shuffled_indices(data.size(), Generator(opt_.seed, 1 + static_cast<std::uint64_t>(epoch)));
            double total = 0;
            for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(opt_.batch_size)) {
                const std::size_t stop = std::min(order.size(), start + static_cast<std::size_t>(opt_.batch_size));
                std::vector<const std::vector<std::int64_t>*> rows;
                std::vector<float> y;
                for (std::size_t r = start; r < stop; ++r) {
                    rows.push_back(&feats[order[r]]);
                    y.push_back(float(data[order[r]].label));
                }
                const index_t B = static_cast<index_t>(rows.size());
                ag::Var<float> loss = ag::bce_with_logits(logits_of(rows), Tensor<float>::from_vector(y, {B, 1}));
                const double l = loss.value().item();
                if (!std::isfinite(l))
                    throw value_error("ClassifierJudge::fit: the loss is " + std::to_string(l) + " in epoch " +
                                      std::to_string(epoch + 1));
                loss.backward();
                adam.step();
                adam.zero_grad();
                total += l * double(B);
            }
            result.epoch_losses.push_back(total / double(data.size()));
        }
        return result;
    }

    /// Logit of "harmful" for each pair.
    std::vector<double> logits(const std::vector<std::string>& prompts, const std::vector<std::string>& completions) const {
        detail::check_pairs("judge '" + name() + "'", prompts, completions);
        ag::NoGrad ng;
        std::vector<double> out;
        out.reserve(prompts.size());
        constexpr std::size_t chunk = 256;
        for (std::size_t start = 0; start < prompts.size(); start += chunk) {
            std::vector<std::vector<std::int64_t>> feats;
            for (std::size_t i = start; i < std::min(prompts.size(), start + chunk); ++i)
                feats.push_back(features(prompts[i], completions[i]));
            std::vector<const std::vector<std::int64_t>*> rows;
            for (const auto& f : feats) rows.push_back(&f);
            for (float z : logits_of(rows).value().to_vector()) out.push_back(double(z));
        }
        return out;
    }

    /// P(harmful) for each pair: the Judge interface.
    std::vector<double> score(const std::vector<std::string>& prompts, const std::vector<std::string>& completions) const {
        std::vector<double> z = logits(prompts, completions);
        for (double& v : z) v = 1.0 / (1.0 + std::exp(-v));
        return z;
    }

    /// dir/classifier.safetensors (the weights) and dir/classifier.json (the settings), each atomic.
    void save(const std::filesystem::path& dir) const {
        std::filesystem::create_directories(dir);
        io::SafetensorsWriter w;
        w.add("embedding", table_.value()).add("head.weight", weight_.value()).add("head.bias", bias_.value());
        w.add_metadata("format", "ward.eval.ClassifierJudge");
        w.save(dir / "classifier.safetensors");
        io::write_atomically(dir / "classifier.json", settings_json(opt_).dump(2) + "\n");
    }

    /// Reads what save() wrote; `encode` must be the function the classifier was trained with, and
    /// when `encoder` is given it must match the saved encoder name.
    template <class E>
    static ClassifierJudge load(const std::filesystem::path& dir, const E& encode, const std::string& encoder = "") {
        const auto json_path = dir / "classifier.json";
        std::ifstream in(json_path);
        if (!in) throw io_error("cannot open " + json_path.string());
        ClassifierOptions opt;
        try {
            const nlohmann::json j = nlohmann::json::parse(in);
            opt.buckets = j.at("buckets").get<index_t>();
            opt.dim = j.at("dim").get<index_t>();
            opt.ngram = j.at("ngram").get<int>();
            opt.with_prompt = j.at("with_prompt").get<bool>();
            opt.max_tokens = j.at("max_tokens").get<index_t>();
            opt.encoder = j.at("encoder").get<std::string>();
            const auto& t = j.at("training");
            opt.lr = t.at("lr").get<double>();
            opt.weight_decay = t.at("weight_decay").get<double>();
            opt.epochs = t.at("epochs").get<index_t>();
            opt.batch_size = t.at("batch_size").get<index_t>();
            opt.init_std = t.at("init_std").get<double>();
            opt.seed = t.at("seed").get<std::uint64_t>();
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(json_path.string() + ": not a classifier's settings (" + e.what() + ")");
        }
        if (!encoder.empty() && encoder != opt.encoder)
            throw value_error(json_path.string() + ": the classifier was trained with encoder '" + opt.encoder + "', not '" +
                              encoder + "'");
        try {
            validate(opt, "ClassifierJudge");
        } catch (const value_error& e) {
            throw value_error(json_path.string() + ": " + e.what());
        }
        // The weights must have the shapes the settings give before the settings size any memory.
        io::SafetensorsFile f(dir / "classifier.safetensors");
        for (const auto& [name, shape] : {std::pair<const char*, Shape>{"embedding", Shape{opt.buckets, opt.dim}},
                                          {"head.weight", Shape{1, opt.dim}}, {"head.bias", Shape{1}}})
            if (const auto& info = f.info(name); !(info.shape == shape))
                throw shape_error(f.path().string() + ": tensor '" + name + "' has shape " + info.shape.str() + " but " +
                                  json_path.string() + " implies " + shape.str());
        ClassifierJudge judge(encode, opt);
        f.read_into("embedding", judge.table_.value());
        f.read_into("head.weight", judge.weight_.value());
        f.read_into("head.bias", judge.bias_.value());
        return judge;
    }

    /// The hashed feature ids of one pair (what the embedding bag averages), for inspection.
    std::vector<std::int64_t> features(const std::string& prompt, const std::string& completion) const {
        std::vector<std::int64_t> out;
        add_features(out, encode_(completion), 0);
        if (opt_.with_prompt) add_features(out, encode_(prompt), 2);
        return out;
    }

private:
    ClassifierOptions opt_;
    Encode encode_;
    ag::Var<float> table_, weight_, bias_;  // (buckets, dim), (1, dim), (1)

    static void validate(const ClassifierOptions& o, const std::string& who) {
        auto fail = [&](const std::string& what) { throw value_error(who + ": " + what); };
        if (o.buckets <= 0 || o.dim <= 0) fail("buckets and dim must be positive");
        if (o.ngram != 1 && o.ngram != 2) fail("ngram must be 1 or 2, got " + std::to_string(o.ngram));
        if (o.max_tokens <= 0) fail("max_tokens must be positive");
        if (o.epochs < 0 || o.batch_size <= 0) fail("epochs must be >= 0 and batch_size positive");
        if (!(o.lr > 0) || !(o.weight_decay >= 0) || !(o.init_std > 0)) fail("lr and init_std must be positive, weight_decay >= 0");
    }

    static nlohmann::json settings_json(const ClassifierOptions& o) {
        return {{"format", "ward.eval.ClassifierJudge"},
                {"buckets", o.buckets},
                {"dim", o.dim},
                {"ngram", o.ngram},
                {"with_prompt", o.with_prompt},
                {"max_tokens", o.max_tokens},
                {"encoder", o.encoder},
                {"training",
                 {{"lr", o.lr}, {"weight_decay", o.weight_decay}, {"epochs", o.epochs}, {"batch_size", o.batch_size},
                  {"init_std", o.init_std}, {"seed", o.seed}}}};
    }

    void init() {
        Generator gen(opt_.seed);
        table_ = ag::Var<float>(Tensor<float>(normal<float>(gen, {opt_.buckets, opt_.dim}, 0.f, float(opt_.init_std))), true);
        weight_ = ag::Var<float>(Tensor<float>(normal<float>(gen, {1, opt_.dim}, 0.f, float(opt_.init_std))), true);
        bias_ = ag::Var<float>(Tensor<float>::zeros({1}), true);
    }

    static std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
        x += 0x9E3779B97F4A7C15ull;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        return x ^ (x >> 31);
    }

    /// Unigrams hashed with tag `kind`, pairs with `kind + 1` (prompt features use kinds 2 and 3).
    void add_features(std::vector<std::int64_t>& out, const std::vector<std::int64_t>& ids, std::uint64_t kind) const {
        const std::size_t n = std::min(ids.size(), static_cast<std::size_t>(opt_.max_tokens));
        const auto B = static_cast<std::uint64_t>(opt_.buckets);
        for (std::size_t i = 0; i < n; ++i) {
            const auto a = static_cast<std::uint64_t>(ids[i]);
            out.push_back(static_cast<std::int64_t>(mix(mix(kind) ^ a) % B));
            if (opt_.ngram >= 2 && i + 1 < n)
                out.push_back(static_cast<std::int64_t>(mix(mix(mix(kind + 1) ^ a) ^ static_cast<std::uint64_t>(ids[i + 1])) % B));
        }
    }

    /// (B, 1) logits: a pooling matrix P (B, N) with 1/n_b in row b's columns averages the N looked-up
    /// embeddings (N, dim) in one matmul. A text without features pools to zero (logit = bias).
    ag::Var<float> logits_of(const std::vector<const std::vector<std::int64_t>*>& rows) const {
        const index_t B = static_cast<index_t>(rows.size());
        std::vector<std::int64_t> ids;
        for (const auto* r : rows) ids.insert(ids.end(), r->begin(), r->end());
        if (ids.empty()) ids.push_back(0);  // a column of zeros in P keeps the shapes valid
        const index_t N = static_cast<index_t>(ids.size());
        std::vector<float> pool(static_cast<std::size_t>(B * N), 0.f);
        index_t col = 0;
        for (index_t b = 0; b < B; ++b) {
            const auto& r = *rows[static_cast<std::size_t>(b)];
            for (std::size_t k = 0; k < r.size(); ++k, ++col)
                pool[static_cast<std::size_t>(b * N + col)] = 1.f / float(r.size());
        }
        ag::Var<float> emb = ag::embedding(table_, Tensor<std::int64_t>::from_vector(ids, {N}));
        ag::Var<float> pooled = ag::matmul(ag::Var<float>(Tensor<float>::from_vector(pool, {B, N})), emb);
        return ag::linear(pooled, weight_, bias_);
    }
};

static_assert(Judge<ClassifierJudge>);

}  // namespace ward::eval
