// The classifier judge: a learnable rule (texts with certain words are harmful) reaches high
// held-out accuracy; the same seed gives the same classifier; save/load gives the same scores; on
// DecodingTrust's labelled continuations (data/decodingtrust) with GPT-2's tokenizer, held-out
// accuracy beats the majority class and the AUC (by pair counting, here) is well above chance.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ward/eval/classifier_judge.hpp>
#include <ward/eval/decodingtrust.hpp>
#include <ward/eval/split.hpp>
#include <ward/io/tokenizer.hpp>

#include "error_message.hpp"

using namespace ward;
namespace fs = std::filesystem;

namespace {

const fs::path data_dir = WARD_DATA_DIR;  // the data shipped in data/

/// Random sentences over neutral words; a harmful one has one trigger word at a random place.
std::vector<eval::LabelledPair> synthetic(std::size_t n, std::uint64_t seed) {
    std::vector<std::string> words;
    for (int i = 0; i < 300; ++i) {
        std::string w = "w";  // built with += : GCC 12 warns falsely (-Wstringop-overflow) on "w" + string
        w += std::to_string(i);
        words.push_back(w);
    }
    const std::vector<std::string> triggers = {"poison", "explosive", "stalk", "launder"};
    Generator g(seed);
    auto pick = [&](std::size_t k) { return static_cast<std::size_t>(g.uniform() * double(k)) % k; };
    std::vector<eval::LabelledPair> out;
    for (std::size_t i = 0; i < n; ++i) {
        const int label = g.uniform() < 0.4 ? 1 : 0;
        const std::size_t len = 4 + pick(7), at = pick(len);
        std::string text;
        for (std::size_t k = 0; k < len; ++k) {
            if (k) text += ' ';
            text += label && k == at ? triggers[pick(triggers.size())] : words[pick(words.size())];
        }
        out.push_back({"prompt " + std::to_string(i), text, label, 0.0, "synthetic"});
    }
    return out;
}

struct Columns {
    std::vector<std::string> prompts, completions;
    std::vector<int> labels;
};
Columns columns(const std::vector<eval::LabelledPair>& d, const std::vector<std::size_t>& idx) {
    Columns c;
    for (auto i : idx) {
        c.prompts.push_back(d[i].prompt);
        c.completions.push_back(d[i].completion);
        c.labels.push_back(d[i].label);
    }
    return c;
}
std::vector<eval::LabelledPair> subset(const std::vector<eval::LabelledPair>& d, const std::vector<std::size_t>& idx) {
    std::vector<eval::LabelledPair> s;
    for (auto i : idx) s.push_back(d[i]);
    return s;
}

double accuracy(const std::vector<double>& p, const std::vector<int>& y) {
    std::size_t right = 0;
    for (std::size_t i = 0; i < p.size(); ++i) right += (p[i] > 0.5) == (y[i] == 1);
    return double(right) / double(p.size());
}

/// P(score of a random positive > score of a random negative), ties counting half: every pair.
double auc(const std::vector<double>& p, const std::vector<int>& y) {
    double wins = 0, pairs = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
        for (std::size_t j = 0; j < p.size(); ++j)
            if (y[i] == 1 && y[j] == 0) {
                pairs += 1;
                wins += p[i] > p[j] ? 1.0 : (p[i] == p[j] ? 0.5 : 0.0);
            }
    return wins / pairs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eval_classifier_judge)

BOOST_AUTO_TEST_CASE(learns_a_keyword_rule) {
    // 3,000 texts: with fewer, the noise words are seen too rarely and the fit memorises them.
    auto data = synthetic(3000, 3);
    std::vector<int> labels;
    for (auto& p : data) labels.push_back(p.label);
    auto split = eval::stratified_split(labels, 0.3, 11);
    eval::ClassifierJudge judge(eval::word_ids, {.buckets = 4096, .encoder = "words"});
    auto fit = judge.fit(subset(data, split.train));
    BOOST_TEST(fit.epoch_losses.back() < fit.epoch_losses.front());
    auto test = columns(data, split.test);
    auto p = judge.score(test.prompts, test.completions);
    const double acc = accuracy(p, test.labels);
    BOOST_TEST_MESSAGE("synthetic held-out accuracy " << acc);
    BOOST_TEST(acc > 0.95);
    BOOST_TEST(auc(p, test.labels) > 0.98);
    for (double v : p) BOOST_TEST((v >= 0 && v <= 1));
}

BOOST_AUTO_TEST_CASE(same_seed_same_classifier_and_save_load) {
    auto data = synthetic(200, 5);
    eval::ClassifierOptions o{.buckets = 4096, .dim = 4, .epochs = 3, .seed = 9, .encoder = "words"};
    eval::ClassifierJudge a(eval::word_ids, o), b(eval::word_ids, o);
    a.fit(data);
    b.fit(data);
    auto c = columns(data, {0, 1, 2, 3, 4, 5, 6, 7});
    auto pa = a.score(c.prompts, c.completions), pb = b.score(c.prompts, c.completions);
    BOOST_TEST(pa == pb, boost::test_tools::per_element());

    const fs::path dir = fs::temp_directory_path() / "ward_test_classifier_judge";
    fs::remove_all(dir);
    a.save(dir);
    BOOST_TEST(fs::exists(dir / "classifier.safetensors"));
    auto loaded = eval::ClassifierJudge::load(dir, eval::word_ids, "words");
    BOOST_TEST(loaded.score(c.prompts, c.completions) == pa, boost::test_tools::per_element());
    BOOST_TEST(loaded.options().buckets == 4096);
    BOOST_TEST(loaded.name() == "classifier(words)");

    // The prompt counts only when asked for.
    std::vector<std::string> other_prompts(c.prompts.size(), "something else entirely");
    BOOST_TEST(a.score(other_prompts, c.completions) == pa, boost::test_tools::per_element());
    eval::ClassifierOptions wp = o;
    wp.with_prompt = true;
    eval::ClassifierJudge w(eval::word_ids, wp);
    w.fit(data);
    BOOST_TEST(w.score(other_prompts, c.completions) != w.score(c.prompts, c.completions));

    // Errors.
    BOOST_CHECK_THROW(eval::ClassifierJudge::load(dir, eval::word_ids, "gpt2"), ward::value_error);
    BOOST_CHECK_THROW(eval::ClassifierJudge::load(dir / "missing", eval::word_ids), ward::io_error);
    std::ofstream(dir / "classifier.json") << "{\"buckets\": 3}";
    BOOST_CHECK_THROW(eval::ClassifierJudge::load(dir, eval::word_ids), ward::parse_error);
    auto bad = data;
    bad[3].label = 2;
    BOOST_CHECK_THROW(a.fit(bad), ward::value_error);
    BOOST_CHECK_THROW(a.score({"x"}, {}), ward::value_error);
    BOOST_CHECK_THROW(eval::ClassifierJudge(eval::word_ids, {.ngram = 3}), ward::value_error);
}

BOOST_AUTO_TEST_CASE(saved_settings_are_checked_against_the_weights_before_allocation) {
    const fs::path dir = fs::temp_directory_path() / "ward_test_classifier_judge_settings";
    fs::remove_all(dir);
    eval::ClassifierJudge(eval::word_ids, {.buckets = 64, .dim = 2, .epochs = 0}).save(dir);
    std::ifstream in(dir / "classifier.json");
    const nlohmann::json good = nlohmann::json::parse(in);
    auto load_with = [&](const char* key, const nlohmann::json& value) {
        nlohmann::json j = good;
        j[key] = value;
        std::ofstream(dir / "classifier.json") << j.dump();
        return [&dir] { (void)eval::ClassifierJudge::load(dir, eval::word_ids); };
    };
    // 2^40 buckets would be terabytes of embedding: the weights' header refuses them first.
    std::string msg = ward::testing::message_of<ward::shape_error>(load_with("buckets", std::int64_t(1) << 40));
    BOOST_TEST(msg.find((dir / "classifier.safetensors").string() + ": tensor 'embedding' has shape (64, 2) but " +
                        (dir / "classifier.json").string() + " implies (1099511627776, 2)") != std::string::npos, msg);
    msg = ward::testing::message_of<ward::shape_error>(load_with("dim", 3));
    BOOST_TEST(msg.find("'embedding' has shape (64, 2)") != std::string::npos, msg);
    // Settings no classifier can have name the settings file.
    msg = ward::testing::message_of<ward::value_error>(load_with("buckets", 0));
    BOOST_TEST(msg.find((dir / "classifier.json").string() + ": ClassifierJudge: buckets and dim must be positive") == 0u, msg);
    std::ofstream(dir / "classifier.json") << good.dump();
    BOOST_TEST(eval::ClassifierJudge::load(dir, eval::word_ids).options().buckets == 64);
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(empty_text_scores_the_bias) {
    eval::ClassifierJudge j(eval::word_ids, {.buckets = 64, .dim = 2, .epochs = 1});
    auto s = j.score({"", ""}, {"", "!!"});  // no words: both pool to zero
    BOOST_TEST(s[0] == 0.5);
    BOOST_TEST(s[1] == 0.5);
}

BOOST_AUTO_TEST_CASE(malformed_decodingtrust_rows_are_parse_errors_naming_file_and_line) {
    const fs::path file = fs::temp_directory_path() / "ward_decodingtrust_malformed.jsonl";
    const std::string good = R"({"type": "toxic", "prompt": {"text": "p"}, "continuation": {"text": "c", "toxicity": 0.9}})";
    auto failure = [&](const std::string& second_row) {
        std::ofstream(file) << good << "\n" << second_row << "\n";
        return ward::testing::message_of<ward::parse_error>([&] { eval::read_decodingtrust_toxicity(file); });
    };
    const std::string at = file.string() + ":2: ";
    std::string msg = failure("5");  // a row that is not an object
    BOOST_TEST(msg.find(at + "no string field 'prompt.text'") != std::string::npos, msg);
    msg = failure(R"({"type": 3, "prompt": {"text": "p"}, "continuation": {"text": "c", "toxicity": 0.1}})");
    BOOST_TEST(msg.find(at + "field 'type' must be a string, got 3") != std::string::npos, msg);
    msg = failure(R"({"prompt": {"text": "p"}, "continuation": {"text": "c", "toxicity": "high"}})");
    BOOST_TEST(msg.find(at + "'continuation.toxicity' is not a number") != std::string::npos, msg);
    std::ofstream(file) << good << "\n";
    const auto rows = eval::read_decodingtrust_toxicity(file);
    BOOST_TEST_REQUIRE(rows.size() == 1u);
    BOOST_TEST(rows[0].label == 1);
    BOOST_TEST(rows[0].kind == "toxic");
    fs::remove(file);
}

BOOST_AUTO_TEST_CASE(decodingtrust_toxicity_with_gpt2_tokens) {
    const fs::path file = data_dir / "decodingtrust" / "training_dataset.jsonl";
    const fs::path tok_dir = data_dir / "gpt2-tokenizer";
    auto data = eval::read_decodingtrust_toxicity(file);

    // The labels, counted straight from the file.
    std::ifstream in(file);
    std::string line;
    std::size_t rows = 0, toxic = 0;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);
        ++rows;
        toxic += j["continuation"]["toxicity"].get<double>() > 0.5;
    }
    BOOST_REQUIRE_EQUAL(data.size(), rows);
    std::size_t positives = 0;
    for (auto& p : data) positives += p.label;
    BOOST_TEST(positives == toxic);
    BOOST_TEST(eval::read_decodingtrust_toxicity(file, {.types = {"non_toxic"}}).size() < rows);

    const auto tok = io::Tokenizer::from_dir(tok_dir);
    auto encode = [&tok](std::string_view s) { return tok.encode(s, false); };
    std::vector<int> labels;
    for (auto& p : data) labels.push_back(p.label);
    auto split = eval::stratified_split(labels, 0.3, 2024);
    eval::ClassifierJudge judge(encode, {.seed = 1, .encoder = "gpt2"});
    judge.fit(subset(data, split.train));
    auto test = columns(data, split.test);
    auto p = judge.score(test.prompts, test.completions);
    const double pos = double(std::count(test.labels.begin(), test.labels.end(), 1)) / double(test.labels.size());
    const double majority = std::max(pos, 1 - pos), acc = accuracy(p, test.labels), a = auc(p, test.labels);
    BOOST_TEST_MESSAGE("DecodingTrust held-out: accuracy " << acc << " (majority " << majority << "), AUC " << a);
    BOOST_TEST(acc > majority + 0.04);
    BOOST_TEST(a > 0.75);
}

BOOST_AUTO_TEST_SUITE_END()
