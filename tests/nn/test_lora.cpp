// LoRA: a new adapter leaves the outputs unchanged; only the adapters train; switched off, the
// model is the base model exactly; merged, it matches the model with adapters on.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include <ward/autograd.hpp>
#include <ward/nn.hpp>
#include <ward/optim.hpp>
#include <ward/tensor.hpp>

using namespace ward;

namespace {
const std::filesystem::path fixtures = std::filesystem::path(__FILE__).parent_path() / "fixtures";
}

BOOST_AUTO_TEST_SUITE(nn_lora)

BOOST_AUTO_TEST_CASE(adapters_train_alone_switch_off_and_merge) {
    for (const char* family : {"llama", "gpt2"}) {
        auto model = nn::load_causal_lm<float>(fixtures / family);
        auto base = nn::load_causal_lm<float>(fixtures / family);
        auto ids = Tensor<std::int64_t>::from_vector({3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
        Tensor<float> before = base.forward(ids).logits.value();

        nn::LoraOptions opt;
        opt.rank = 4;
        opt.alpha = 8;
        int n = nn::add_lora(model, opt);
        BOOST_TEST(n == (std::string(family) == "llama" ? 4 : 2));  // q_proj + v_proj (Llama) or c_attn (GPT-2), 2 layers
        BOOST_TEST(max(abs(model.forward(ids).logits.value() - before)).item() == 0.0f);  // B starts at zero

        auto params = nn::parameters<float, cpu>(model);
        BOOST_TEST(params.size() == std::size_t(2 * n));
        for (const auto& p : params) BOOST_TEST(p.name.find("lora_") != std::string::npos);

        optim::AdamWOptions o;
        o.lr = 1e-2;
        optim::AdamW<float> adam(params, o);
        auto loss_of = [&]() {
            auto r = model.forward(ids);
            return ag::cross_entropy(ag::slice(r.logits, 1, 0, 3), ids.slice(1, 1, 4).contiguous());
        };
        float first = loss_of().value().item();
        for (int step = 0; step < 20; ++step) {
            auto loss = loss_of();
            loss.backward();
            adam.step();
            adam.zero_grad();
        }
        float last = loss_of().value().item();
        BOOST_TEST(last < first - 0.1f, family << ": loss " << first << " -> " << last);
        // the base weights did not move
        auto w_now = nn::named_parameters<float, cpu>(model), w_base = nn::named_parameters<float, cpu>(base);
        for (std::size_t i = 0, j = 0; i < w_now.size(); ++i) {
            if (w_now[i].name.find("lora_") != std::string::npos) continue;
            BOOST_TEST(w_now[i].name == w_base[j].name);
            BOOST_TEST(max(abs(w_now[i].var->value() - w_base[j].var->value())).item() == 0.0f);
            ++j;
        }
        Tensor<float> adapted = model.forward(ids).logits.value();
        BOOST_TEST(max(abs(adapted - before)).item() > 1e-3f);
        nn::set_lora_enabled(model, false);
        BOOST_TEST(max(abs(model.forward(ids).logits.value() - before)).item() == 0.0f);
        nn::set_lora_enabled(model, true);
        nn::merge_lora(model);
        const std::size_t merged_count = nn::named_parameters<float, cpu>(model).size();
        BOOST_TEST(merged_count == w_base.size());
        BOOST_TEST(max(abs(model.forward(ids).logits.value() - adapted)).item() <= 1e-4f * max(abs(adapted)).item());
    }
}

BOOST_AUTO_TEST_SUITE_END()
