#pragma once
// The machinery of the cross-device op table (tests/backend/op_table.hpp): inputs built from a
// seed on the host, results brought back as doubles, the normalised error and its thresholds,
// and the loops that check or time every case. The table itself (which ops, which shapes) is
// in op_table.hpp; both are templates over the reference device and the device under test, so
// the same table runs CPU against CUDA (tests/backend/cuda/op_table.cu) and CPU against CPU
// (tests/backend/test_op_table.cpp, which proves every case builds and runs where CI has no GPU).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ward/autograd.hpp>

namespace ward_test::op_table {

using ward::index_t;
using ward::Shape;
using ward::Tensor;

// ---- thresholds ------------------------------------------------------------------------------
/// How close two devices must come, by the kind of work an op does. The error is ggml's NMSE,
/// sum((ref - dev)^2) / sum(ref^2) over all of a case's outputs (each output on its own, the
/// largest counts), so it reads as a squared relative error: 1e-10 is a relative RMS of 1e-5.
enum class Kind {
    exact,    // copies, gathers, casts, comparisons, selections: the same bits on every device
    eltwise,  // one element-wise formula: CUDA's and glibc's exp/log/tanh differ by a few ulp
    reduce,   // sums in another order: reductions, softmax, norms, random draws (log, cos, sqrt)
    matmul,   // long dot products in another order: matmul, attention, losses built on them
};

inline const char* kind_name(Kind k) {
    switch (k) {
        case Kind::exact: return "exact";
        case Kind::eltwise: return "eltwise";
        case Kind::reduce: return "reduce";
        case Kind::matmul: return "matmul";
    }
    return "?";
}

/// The one place the thresholds are stated. f32: a few ulp (2^-23 relative) per element is an NMSE
/// near 1e-13; sums of K terms in another order reach ~sqrt(K) ulp, so 1e-9 for rows of thousands;
/// cuBLASLt's f32 matmul (CUBLAS_COMPUTE_32F, no TF32) and the attention built on it get 1e-7,
/// ggml's default. bf16 (8 bits of mantissa): f32 results rounded once agree but for ties and
/// 1-ulp flips of 2^-8, an NMSE of at most ~1.5e-5 even if every element flipped: 1e-4, and 1e-3
/// where a matmul sums bf16 products. A gradient passes through a few more ops: ten times the
/// forward's threshold. Exact work must be exact (0) in both dtypes.
inline double threshold(Kind k, bool bf16, bool backward) {
    double t = 0;
    switch (k) {
        case Kind::exact: return 0;
        case Kind::eltwise: t = bf16 ? 1e-4 : 1e-10; break;
        case Kind::reduce: t = bf16 ? 1e-4 : 1e-9; break;
        case Kind::matmul: t = bf16 ? 1e-3 : 1e-7; break;
    }
    return backward ? t * 10 : t;
}

// ---- values on the host ------------------------------------------------------------------------
template <class T>
double to_double(T v) {
    if constexpr (std::is_same_v<T, ward::bf16>) return double(float(v));
    else return static_cast<double>(v);
}

/// Elements of t, row-major, as doubles on the host.
template <class T, class D>
std::vector<double> host(const Tensor<T, D>& t) {
    std::vector<T> v = t.template to<ward::cpu>().to_vector();
    std::vector<double> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = to_double(v[i]);
    return out;
}

struct Output {
    std::string name;
    std::vector<double> values;
};
using Outputs = std::vector<Output>;

/// A case's results as the op left them (device tensors, not yet copied): collected after timing.
class Results {
public:
    template <class T, class D>
    Results& add(std::string name, const Tensor<T, D>& t) {
        items_.emplace_back(std::move(name), [t] { return host(t); });
        return *this;
    }
    Outputs collect() const {
        Outputs out;
        for (const auto& [name, f] : items_) out.push_back({name, f()});
        return out;
    }

private:
    std::vector<std::pair<std::string, std::function<std::vector<double>()>>> items_;
};

/// One case made ready on one device: inputs built, the op to run (forward, or forward and
/// backward), and the work it does per run for the perf mode's rates.
struct Prepared {
    std::string shape;                // what the inputs are, for the printed table
    std::string not_here;             // non-empty: the op does not take this dtype on this device
    std::function<Results()> run;
    double bytes = 0;                 // bytes read and written per run (element-wise, rows)
    double flops = 0;                 // or floating-point operations per run (matmul, attention)

    static Prepared unsupported(std::string why) {
        Prepared p;
        p.not_here = std::move(why);
        return p;
    }
};

// ---- inputs ---------------------------------------------------------------------------------
/// What values an input takes: an op's domain (log of positives, division by non-zeros) and, for
/// comparisons and max/min, values on a grid of 0.5 so that ties happen.
enum class Domain { normal, positive, nonzero, grid, unit };

/// A dense tensor of `shape` with values drawn on the host from `seed` (the same on every device),
/// then copied to D.
template <class T, class D>
Tensor<T, D> input(std::uint64_t seed, const Shape& shape, Domain dom = Domain::normal) {
    ward::Generator g(seed);
    std::vector<float> v = Tensor<float>(ward::normal<float>(g, shape)).to_vector();
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        float x = v[i];
        switch (dom) {
            case Domain::normal: break;
            case Domain::positive: x = std::abs(x) + 0.5f; break;
            case Domain::nonzero: x = x >= 0 ? x + 0.5f : x - 0.5f; break;
            case Domain::grid: x = std::round(x * 2) / 2; break;
            case Domain::unit: x = 0.5f + 0.5f * std::tanh(x); break;
        }
        out[i] = ward::element_cast<T>(x);
    }
    return Tensor<T, ward::cpu>::from_vector(out, shape).template to<D>();
}

/// Ids in [0, n) (and `ignore` at every `every`-th position when every > 0), from `seed`.
template <class D>
Tensor<std::int64_t, D> ids(std::uint64_t seed, const Shape& shape, index_t n, index_t every = 0, std::int64_t ignore = -100) {
    ward::Generator g(seed);
    std::vector<float> u = Tensor<float>(ward::uniform<float>(g, shape)).to_vector();
    std::vector<std::int64_t> out(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) {
        out[i] = std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(u[i] * float(n)));
        if (every > 0 && i % static_cast<std::size_t>(every) == static_cast<std::size_t>(every) - 1) out[i] = ignore;
    }
    return Tensor<std::int64_t, ward::cpu>::from_vector(out, shape).template to<D>();
}

/// prefix followed by n ("d" 0 -> "d0"); appended, not `"d" + std::to_string(n)`, which g++ 12 at -O2
/// warns about (a -Wrestrict false positive).
template <class N>
std::string numbered(const char* prefix, N n) {
    std::string r = prefix;
    r += std::to_string(n);
    return r;
}

inline std::string str(const Shape& s) {
    std::string r = "(";
    for (int i = 0; i < s.rank; ++i) {
        if (i) r += ',';
        r += std::to_string(s[i]);
    }
    return r + ")";
}

// ---- comparison -------------------------------------------------------------------------------
/// sum((ref - got)^2) / sum(ref^2); the plain sum of squares where ref is all zeros; infinite when
/// sizes differ or a NaN or infinity of one side is not matched by the other.
inline double nmse(const std::vector<double>& ref, const std::vector<double>& got) {
    if (ref.size() != got.size()) return std::numeric_limits<double>::infinity();
    double num = 0, den = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double a = ref[i], b = got[i];
        if (std::isnan(a) || std::isnan(b)) {
            if (std::isnan(a) && std::isnan(b)) continue;
            return std::numeric_limits<double>::infinity();
        }
        if (std::isinf(a) || std::isinf(b)) {
            if (a == b) continue;
            return std::numeric_limits<double>::infinity();
        }
        num += (a - b) * (a - b);
        den += a * a;
    }
    return den > 0 ? num / den : num;
}

/// The largest nmse over the outputs, and which output it was.
inline std::pair<double, std::string> compare(const Outputs& ref, const Outputs& got) {
    if (ref.size() != got.size()) return {std::numeric_limits<double>::infinity(), "number of outputs"};
    std::pair<double, std::string> worst{0.0, ref.empty() ? "" : ref[0].name};
    for (std::size_t i = 0; i < ref.size(); ++i) {
        double e = ref[i].name == got[i].name ? nmse(ref[i].values, got[i].values) : std::numeric_limits<double>::infinity();
        if (!(e <= worst.first)) worst = {e, ref[i].name};
    }
    return worst;
}

// ---- the table ----------------------------------------------------------------------------------
struct Case {
    std::string op;       // e.g. "exp", "matmul+bias", "softmax.grad"
    std::string variant;  // the layout: "contig", "transposed", "bcast", "empty", ...
    std::string dtype;    // "f32" or "bf16"
    Kind kind;
    bool backward;
    bool perf;            // timed in --perf mode (empty and tiny variants are not)
    std::function<Prepared(bool big)> ref, dev;

    std::string name() const { return op + " [" + variant + "] " + dtype; }
    double threshold() const { return op_table::threshold(kind, dtype == "bf16", backward); }
};

/// Collects the cases; `make` is a generic callable (std::type_identity<D>, bool big) -> Prepared,
/// instantiated once per device.
template <class Ref, class Dev>
class Table {
public:
    template <class F>
    void add(std::string op, std::string variant, std::string dtype, Kind kind, bool backward, bool perf, F make) {
        cases_.push_back(Case{std::move(op), std::move(variant), std::move(dtype), kind, backward, perf,
                              [make](bool big) { return make(std::type_identity<Ref>{}, big); },
                              [make](bool big) { return make(std::type_identity<Dev>{}, big); }});
    }
    const std::vector<Case>& cases() const { return cases_; }

private:
    std::vector<Case> cases_;
};

// ---- checking ---------------------------------------------------------------------------------
struct Row {
    std::string name, shape;
    double error = 0, threshold = 0;
    std::string worst;   // the output with the largest error
    std::string status;  // "OK", "FAIL", "not on <device>"
    std::string note;    // an exception's message
    bool failed() const { return status == "FAIL"; }
};

/// Runs one case on both devices (small shapes) and compares. `tamper`, when given, changes the
/// device's outputs first (the test that proves a wrong result fails).
inline Row check(const Case& c, const char* dev_name, const std::function<void(Outputs&)>& tamper = {}) {
    Row r{c.name(), "", 0, c.threshold(), "", "OK", ""};
    try {
        Prepared pr = c.ref(false), pd = c.dev(false);
        r.shape = pr.shape;
        if (!pd.not_here.empty()) {
            r.status = std::string("not on ") + dev_name;
            r.note = pd.not_here;
            return r;
        }
        if (!pr.not_here.empty()) {
            r.status = "not on the reference";
            r.note = pr.not_here;
            return r;
        }
        Outputs want = pr.run().collect();
        Outputs got = pd.run().collect();
        if (tamper) tamper(got);
        auto [e, which] = compare(want, got);
        r.error = e;
        r.worst = which;
        if (!(e <= r.threshold)) r.status = "FAIL";
    } catch (const std::exception& ex) {
        r.status = "FAIL";
        r.note = ex.what();
        r.error = std::numeric_limits<double>::infinity();
    }
    return r;
}

// ---- timing -----------------------------------------------------------------------------------
/// Mean milliseconds of one call of f on device D after `warmup` calls. The CPU's clock is
/// steady_clock; a device with asynchronous work specialises this (CUDA: events on its stream).
template <class D>
struct Clock {
    static double mean_ms(const std::function<void()>& f, int warmup, int reps) {
        for (int i = 0; i < warmup; ++i) f();
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) f();
        auto t1 = std::chrono::steady_clock::now();
        return std::chrono::duration<double, std::milli>(t1 - t0).count() / std::max(reps, 1);
    }
};

struct PerfRow {
    std::string name, shape, status;
    double ms = 0, rate = 0;
    const char* unit = "";
};

/// Times one case's run on device D with its perf shapes.
template <class D>
PerfRow time_case(const Case& c, const std::function<Prepared(bool)>& make, int warmup, int reps) {
    PerfRow r{c.name(), "", "OK"};
    try {
        Prepared p = make(true);
        r.shape = p.shape;
        if (!p.not_here.empty()) {
            r.status = "not here";
            return r;
        }
        r.ms = Clock<D>::mean_ms([&] { (void)p.run(); }, warmup, reps);
        if (p.flops > 0) r.rate = p.flops / (r.ms * 1e-3) / 1e12, r.unit = "TFLOP/s";
        else if (p.bytes > 0) r.rate = p.bytes / (r.ms * 1e-3) / 1e9, r.unit = "GB/s";
    } catch (const std::exception& ex) {
        r.status = std::string("ERROR: ") + ex.what();
    }
    return r;
}

// ---- the program's loop ---------------------------------------------------------------------------
struct Options {
    bool perf = false;
    std::string filter;
    int warmup = 2, reps = 10;
};

/// Parses --perf, --filter S, --reps N; other arguments (a runner's --log_level=...) are ignored.
inline Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--perf") o.perf = true;
        else if (a == "--filter" && i + 1 < argc) o.filter = argv[++i];
        else if (a.rfind("--filter=", 0) == 0) o.filter = a.substr(9);
        else if (a == "--reps" && i + 1 < argc) o.reps = std::max(1, std::atoi(argv[++i]));
    }
    return o;
}

/// Checks (or times) every case whose name contains the filter, printing one line each; returns
/// the number of failures.
template <class Dev>
int run_table(const std::vector<Case>& cases, const Options& o, const char* ref_name, const char* dev_name) {
    int failed = 0, ran = 0, skipped = 0;
    if (o.perf) std::printf("%-44s %-30s %12s %12s\n", "case", "shape", "ms", "rate");
    else std::printf("%-44s %-30s %10s %10s  %s (%s vs %s)\n", "case", "shape", "nmse", "threshold", "status", dev_name, ref_name);
    for (const Case& c : cases) {
        if (!o.filter.empty() && c.name().find(o.filter) == std::string::npos) continue;
        if (o.perf) {
            if (!c.perf) continue;
            PerfRow r = time_case<Dev>(c, c.dev, o.warmup, o.reps);
            ++ran;
            if (r.status == "OK")
                std::printf("%-44s %-30s %12.4f %8.2f %s\n", r.name.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit);
            else
                std::printf("%-44s %-30s %s\n", r.name.c_str(), r.shape.c_str(), r.status.c_str());
            std::fflush(stdout);
            continue;
        }
        Row r = check(c, dev_name);
        ++ran;
        if (r.failed()) ++failed;
        if (r.status.rfind("not on", 0) == 0) ++skipped;
        std::printf("%-44s %-30s %10.3g %10.3g  %s%s%s\n", r.name.c_str(), r.shape.c_str(), r.error, r.threshold,
                    r.status.c_str(), r.worst.empty() || r.status != "FAIL" ? "" : (" (" + r.worst + ")").c_str(),
                    r.note.empty() ? "" : (": " + r.note).c_str());
        std::fflush(stdout);
    }
    if (!o.perf) std::printf("%d cases, %d failed, %d not on %s\n", ran, failed, skipped, dev_name);
    return failed;
}

}  // namespace ward_test::op_table
