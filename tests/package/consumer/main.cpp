// A program outside the ward tree, built against the installed package.
#include <ward/cmdp/lp.hpp>
#include <ward/io/tokenizer.hpp>
#include <ward/ward.hpp>

#include <cmath>
#include <cstdio>

int main() {
    using namespace ward;
    auto x = Tensor<float>::arange(6).reshape({2, 3});
    Tensor<float> y = exp(x) * 0.5f + 1.0f;
    float total = sum(x).item();
    if (total != 15.0f || !(y(1, 2) > 1.0f)) {
        std::printf("consumer: wrong results\n");
        return 1;
    }
    // GLPK comes through find_package(ward) too. One state; action 0 earns 1 at cost 1, action 1 nothing: always
    // earning is worth 2 at cost 2 (gamma 1/2), so a budget of 1 buys half of it.
    cmdp::Cmdp m;
    m.states = 1;
    m.actions = 2;
    m.gamma = 0.5;
    m.P = {{{1.0}, {1.0}}};
    m.reward = {{1.0, 0.0}};
    m.cost = {{1.0, 0.0}};
    m.mu0 = {1.0};
    m.threshold = 1.0;
    if (std::abs(cmdp::solve_lp(m).value - 1.0) > 1e-9) {
        std::printf("consumer: wrong CMDP optimum\n");
        return 1;
    }
    // The data installed with the package (ward_DATA_DIR): GPT-2's BPE files.
    const std::string gpt2 = std::string(WARD_DATA_DIR) + "/gpt2-tokenizer";
    const auto tok = io::Tokenizer::from_gpt2_files(gpt2 + "/encoder.json", gpt2 + "/vocab.bpe");
    if (tok.encode("Hello world") != std::vector<std::int32_t>{15496, 995}) {
        std::printf("consumer: the installed GPT-2 tokenizer files give other ids\n");
        return 1;
    }
    std::printf("consumer: ward works from the installed package (sum = %g)\n", total);
    return 0;
}
