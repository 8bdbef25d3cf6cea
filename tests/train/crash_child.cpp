// The program tests/train/test_crash_safety.cpp kills with SIGKILL at random moments:
//   crash_child lm|defence|lisa CHECKPOINT   one run of that training loop, a checkpoint after every
//                                            step, resumed from CHECKPOINT when it exists
//   crash_child save DIR                     saves the two models of crash_world into DIR in turn,
//                                            sharded in two layouts, until killed; prints "ready"
//                                            when its first save starts
#include <cstdio>
#include <string>

#include "crash_world.hpp"

using namespace ward;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: crash_child lm|defence|lisa CHECKPOINT | crash_child save DIR\n");
        return 2;
    }
    const std::string mode = argv[1];
    const std::filesystem::path where = argv[2];
    try {
        nn::CausalLM<float> model(crash_world::config(), 1);
        if (mode == "lm") {
            train::train_lm(model, crash_world::corpus(), {}, crash_world::lm_options(where));
        } else if (mode == "defence") {
            defence::train(model, defence::repnoise(0.5, 1.0), crash_world::pairs(), crash_world::defence_options(where));
        } else if (mode == "lisa") {
            const auto data = crash_world::corpus();
            const std::vector<train::Example> alignment(data.begin(), data.begin() + 4), user(data.begin() + 4, data.end());
            defence::lisa_finetune(model, alignment, user, crash_world::lisa_options(where));
        } else if (mode == "save") {
            nn::CausalLM<float> models[2] = {crash_world::model(0), crash_world::model(1)};
            std::puts("ready");
            std::fflush(stdout);
            for (int i = 0;; i ^= 1) nn::save_pretrained(models[i], where, crash_world::save_options());
        } else {
            std::fprintf(stderr, "crash_child: unknown mode '%s'\n", mode.c_str());
            return 2;
        }
    } catch (const ward::error& e) {
        std::fprintf(stderr, "crash_child: %s\n", e.what());
        return 1;
    }
    return 0;
}
