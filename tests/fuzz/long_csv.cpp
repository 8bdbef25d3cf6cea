// Fuzzes the plain score tables (irt/long_csv.hpp over irt/csv.hpp): the input is a long CSV of
// scores and, after fuzz::separator, a metadata CSV to join to it. The scores are also read as a
// wide table (one row per model).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ward/irt/long_csv.hpp>

#include "check_dataset.hpp"
#include "fuzz_support.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parts = fuzz::split_input(data, size, 2);
    fuzz::MemFile scores(parts[0]), meta(parts.size() > 1 ? parts[1] : std::string_view("model,release_date\n"));
    for (bool percent : {false, true}) {
        irt::Dataset d;
        bool read = false;
        fuzz::expect_ward_error_only(scores.path(), [&] {
            d = irt::read_long_csv(scores.path(), {.percent_scores = percent});
            read = true;
        });
        if (!read) continue;
        fuzz::check_dataset(d);
        bool joined = false;
        fuzz::expect_ward_error_only(meta.path(), [&] {
            irt::join_model_metadata(d, meta.path(), {.unknown = percent ? irt::UnknownModel::skip_and_count : irt::UnknownModel::error});
            joined = true;
        });
        if (joined) fuzz::check_dataset(d);
    }
    // As a wide table: the model, its family, then (with four columns or more) training compute in
    // units of 1e21 FLOPs as ObsScaling's table has it, then the benchmarks.
    irt::WideCsvOptions o;
    fuzz::expect_ward_error_only(scores.path(), [&] {
        const irt::CsvTable t = irt::read_csv(scores.path());
        if (t.header.size() < 3) return;
        o.model_column = t.header[0];
        o.family_column = t.header[1];
        if (t.header.size() > 3) o.compute_column = t.header[2];
        for (std::size_t j = t.header.size() > 3 ? 3 : 2; j < t.header.size() && j < 10; ++j) o.benchmark_columns.push_back(t.header[j]);
    });
    if (o.benchmark_columns.empty()) return 0;
    o.compute_scale = 1e21;
    irt::Dataset wide;
    bool read = false;
    fuzz::expect_ward_error_only(scores.path(), [&] {
        wide = irt::read_wide_csv(scores.path(), o);
        read = true;
    });
    if (read) fuzz::check_dataset(wide);
    return 0;
}
