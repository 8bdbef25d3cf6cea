// Fuzzes the Epoch AI benchmarking-hub layout (irt::read_epoch over irt/csv.hpp): a directory of
// benchmarks_runs.csv, model_versions.csv and 34 external_benchmark_*.csv files. The first input
// byte picks which external file (and which options) the input fills; the rest is
// benchmarks_runs.csv, model_versions.csv and that external file, cut at fuzz::separator. The other
// external files hold only their header.
#include <cstddef>
#include <cstdint>
#include <string>

#include <ward/irt/epoch.hpp>

#include "check_dataset.hpp"
#include "fuzz_support.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fuzz::ScratchDir dir;
    const auto& external = irt::epoch_external_benchmarks();
    static const bool headers_written = [&] {
        for (const auto& eb : external) dir.write(eb.file, std::string("Model version,") + eb.column + "\n");
        return true;
    }();
    (void)headers_written;
    if (size == 0) return 0;
    const std::uint8_t pick = data[0];
    const auto& fuzzed = external[pick % external.size()];
    const auto parts = fuzz::split_input(data + 1, size - 1, 3);
    dir.write("benchmarks_runs.csv", parts[0]);
    dir.write("model_versions.csv", parts.size() > 1 ? parts[1] : std::string_view("id,Version release date\n"));
    dir.write(fuzzed.file, parts.size() > 2 ? parts[2] : std::string_view(std::string("Model version,") + fuzzed.column + "\n"));
    irt::EpochOptions opt;
    if (pick & 0x80) opt.unknown_model = irt::UnknownModel::error;
    if (pick & 0x40) opt.released_since.clear();
    if (pick & 0x20) opt.min_benchmarks_exclusive = 0;
    irt::Dataset d;
    bool read = false;
    fuzz::expect_ward_error_only(dir.path().string(), [&] {
        d = irt::read_epoch(dir.path().string(), opt);
        read = true;
    });
    if (read) fuzz::check_dataset(d);
    // Restore the external file to its header for the next input.
    dir.write(fuzzed.file, std::string("Model version,") + fuzzed.column + "\n");
    return 0;
}
