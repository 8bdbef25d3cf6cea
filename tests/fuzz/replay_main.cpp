// Replays fuzz inputs without libFuzzer: `ward_fuzz_replay <target> <dir or file>...` feeds every
// file (in name order; directories that do not exist are skipped) to the target's harness, so that
// the committed corpus and crash reproducers run under the normal compiler and the sanitizers.
// Each input is named on stderr before it runs: a crash's report follows the name of its input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_targets.hpp"

namespace {

std::vector<std::filesystem::path> inputs_in(const std::filesystem::path& p) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return {p};
    std::vector<fs::path> files;
    if (!fs::is_directory(p, ec)) return files;
    for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file() && e.path().filename().string().front() != '.') files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

int main(int argc, char** argv) {
    using ward::fuzz::targets;
    const ward::fuzz::Target* target = nullptr;
    for (std::size_t t = 0; t < ward::fuzz::target_count; ++t)
        if (argc > 1 && std::strcmp(argv[1], targets[t].name) == 0) target = &targets[t];
    if (!target) {
        std::fprintf(stderr, "usage: %s <target> <dir or file>...\ntargets:", argv[0]);
        for (std::size_t t = 0; t < ward::fuzz::target_count; ++t) std::fprintf(stderr, " %s", targets[t].name);
        std::fprintf(stderr, "\n");
        return 2;
    }
    std::size_t count = 0;
    for (int i = 2; i < argc; ++i)
        for (const auto& file : inputs_in(argv[i])) {
            std::ifstream in(file, std::ios::binary);
            const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
            std::fprintf(stderr, "%s\n", file.c_str());
            target->run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
            ++count;
        }
    std::printf("%s: replayed %zu inputs\n", target->name, count);
    if (count == 0) std::fprintf(stderr, "%s: no inputs found (is the corpus missing?)\n", target->name);
    return count == 0 ? 1 : 0;
}
