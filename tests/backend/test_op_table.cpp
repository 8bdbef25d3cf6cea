// The cross-device op table (tests/backend/op_table.hpp) run CPU against CPU: every case builds,
// runs and agrees with itself exactly; a result made wrong is caught (so the table can fail); the
// table covers the ops the library has. The CUDA program (tests/backend/cuda/op_table.cu) runs the
// same table CPU against CUDA.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

#include "backend/op_table.hpp"

namespace ot = ward_test::op_table;
using ward::cpu;

namespace {
const ot::Table<cpu, cpu>& table() {
    static const ot::Table<cpu, cpu> t = ot::make_table<cpu, cpu>();
    return t;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(backend_op_table)

BOOST_AUTO_TEST_CASE(every_case_runs_and_agrees_with_itself_exactly) {
    // WARD_OP_TABLE_PRINT=1 prints the table as the CUDA program does (one line per case).
    if (const char* p = std::getenv("WARD_OP_TABLE_PRINT"); p && std::string(p) == "1")
        ot::run_table<cpu>(table().cases(), ot::Options{}, "cpu", "cpu");
    int n = 0;
    for (const ot::Case& c : table().cases()) {
        ot::Row r = ot::check(c, "cpu");
        BOOST_TEST(r.status == "OK", c.name() << " " << r.shape << ": " << r.status << " " << r.note);
        // Same inputs, same thread count, same code: the CPU gives the same bits twice.
        BOOST_TEST(r.error == 0.0, c.name() << " " << r.shape << ": nmse " << r.error);
        ++n;
    }
    BOOST_TEST(n > 500);
}

BOOST_AUTO_TEST_CASE(every_case_computes_something) {
    // A case whose outputs are all zeros, or hold a NaN, would compare equal on any two devices without
    // testing the op: only these are all zeros by design (an empty product or sum, every target
    // ignored, the sign of a 0, a row of one element normalised).
    std::set<std::string> zeros_by_design, zero_up_to_rounding;
    for (const char* dt : {" f32", " bf16"}) {
        for (const char* c : {"matmul [K=0]", "cross_entropy.grad [(3,1025) all ignored]", "token_log_probs.grad [(3,1025) all ignored]",
                              "sign [rank0]", "sum [empty, axis 0]", "sum [empty, all]", "layer_norm (no affine) [one column]"})
            zeros_by_design.insert(std::string(c) + dt);
        // log softmax of a one-element row is x - log(exp(x)): 0 exactly or a rounding away from it,
        // depending on the kernel oneDNN picks for the machine's instruction set.
        zero_up_to_rounding.insert(std::string("log_softmax [one column]") + dt);
    }
    for (const ot::Case& c : table().cases()) {
        ot::Prepared p = c.ref(false);
        const ot::Outputs outs = p.run().collect();
        bool any_value = false, any_nonzero = false, any_nan = false;
        for (const ot::Output& o : outs)
            for (double v : o.values) {
                any_value = true;
                any_nonzero = any_nonzero || v != 0;
                any_nan = any_nan || std::isnan(v);
            }
        BOOST_TEST(!any_nan, c.name() << " gives NaN");
        if (any_value && !zero_up_to_rounding.count(c.name()))
            BOOST_TEST(any_nonzero == !zeros_by_design.count(c.name()), c.name() << " all zeros: " << !any_nonzero);
    }
}

BOOST_AUTO_TEST_CASE(a_wrong_result_fails_every_case_that_has_one) {
    // Every element of the first non-empty output moved by 10% (+0.1): an NMSE of at least 1e-2,
    // above every threshold; and one element of an exact op moved by one ulp.
    int caught = 0, nothing_to_change = 0;
    for (const ot::Case& c : table().cases()) {
        bool changed = false;
        ot::Row r = ot::check(c, "cpu", [&](ot::Outputs& outs) {
            for (ot::Output& o : outs)
                if (!o.values.empty()) {
                    for (double& v : o.values) v += 0.1 * (std::abs(v) + 1);
                    changed = true;
                    return;
                }
        });
        if (!changed) {  // all outputs empty: only the empty layouts
            ++nothing_to_change;
            BOOST_TEST(c.variant.find("empty") != std::string::npos, c.name() << " has no output to change");
            BOOST_TEST(r.status == "OK", c.name());
            continue;
        }
        BOOST_TEST(r.failed(), c.name() << " " << r.shape << " passed with a wrong result (nmse " << r.error << ")");
        caught += r.failed();
    }
    BOOST_TEST(caught > 500);
    BOOST_TEST(nothing_to_change < 100);

    for (const ot::Case& c : table().cases()) {
        if (c.name() != "add [same] f32") continue;
        ot::Row r = ot::check(c, "cpu", [](ot::Outputs& outs) {
            double& v = outs[0].values[5];
            v = double(std::nextafter(float(v), 1e30f));
        });
        BOOST_TEST(r.failed(), "one ulp in an exact op");
    }
}

BOOST_AUTO_TEST_CASE(the_error_is_normalised_and_strict_about_nan_and_size) {
    using V = std::vector<double>;
    BOOST_TEST(ot::nmse(V{1, 2, 3}, V{1, 2, 3}) == 0.0);
    BOOST_TEST(ot::nmse(V{3, 4}, V{3, 5}) == 1.0 / 25.0, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(ot::nmse(V{0, 0}, V{0, 0.5}) == 0.25);  // all-zero reference: the plain sum of squares
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    BOOST_TEST(ot::nmse(V{1, nan}, V{1, nan}) == 0.0);
    BOOST_TEST(std::isinf(ot::nmse(V{1, nan}, V{1, 2})));
    BOOST_TEST(std::isinf(ot::nmse(V{1, 2}, V{1, nan})));
    BOOST_TEST(ot::nmse(V{-inf, 1}, V{-inf, 1}) == 0.0);
    BOOST_TEST(std::isinf(ot::nmse(V{inf}, V{1})));
    BOOST_TEST(std::isinf(ot::nmse(V{1, 2}, V{1})));
    // Outputs compared by name and count.
    ot::Outputs a{{"y", V{1}}, {"d0", V{2}}}, b{{"y", V{1}}, {"d0", V{2.2}}};
    auto [e, which] = ot::compare(a, b);
    BOOST_TEST(which == "d0");
    BOOST_TEST(e == 0.01, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(std::isinf(ot::compare(a, ot::Outputs{{"y", V{1}}}).first));
    // Thresholds: exact work is exact, bf16 looser than f32, gradients looser than values.
    BOOST_TEST(ot::threshold(ot::Kind::exact, true, true) == 0.0);
    BOOST_TEST(ot::threshold(ot::Kind::eltwise, false, false) < ot::threshold(ot::Kind::eltwise, true, false));
    BOOST_TEST(ot::threshold(ot::Kind::matmul, false, false) < ot::threshold(ot::Kind::matmul, false, true));
}

BOOST_AUTO_TEST_CASE(the_table_covers_the_library_s_ops) {
    std::map<std::string, std::set<std::string>> dtypes;  // op -> dtypes
    std::map<std::string, std::set<std::string>> variants;
    for (const ot::Case& c : table().cases()) {
        dtypes[c.op].insert(c.dtype);
        variants[c.op].insert(c.variant);
    }
    const char* both[] = {"neg", "exp", "log", "log1p", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "gelu_tanh",
                          "gelu_tanh_grad", "abs", "square", "sign", "pow(x,2.5)", "clamp", "chain", "add", "sub", "mul",
                          "div", "pow", "maximum", "minimum", "lt", "le", "gt", "ge", "eq", "ne", "where", "sum", "mean",
                          "max", "min", "argmax", "argmin", "logsumexp", "sum(x*y)", "contiguous", "matmul", "matmul+bias",
                          "matmul+bias+relu", "matmul+bias+gelu", "softmax", "log_softmax", "layer_norm",
                          "layer_norm (no affine)", "rms_norm", "rms_norm (no gamma)", "embedding", "concat", "split"};
    for (const char* op : both) {
        BOOST_TEST(dtypes[op].count("f32") == 1u, op << " f32");
        BOOST_TEST(dtypes[op].count("bf16") == 1u, op << " bf16");
    }
    const char* f32_only[] = {"cast f32->bf16", "cast bf16->f32", "uniform", "normal", "bernoulli", "x+normal"};
    for (const char* op : f32_only) BOOST_TEST(dtypes.count(op) == 1u, op);
    const char* grads[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "gelu_tanh", "abs", "square",
                           "log_sigmoid", "pow(x,2.5)", "clamp", "dropout", "fused swish", "add", "sub", "mul", "div",
                           "maximum", "where", "sum all", "sum axis 0", "mean all", "mean axis -1 keepdim", "max axis -1",
                           "logsumexp axis -1", "reshape", "permute", "transpose", "slice", "select", "expand", "squeeze",
                           "split", "concat", "matmul", "linear", "softmax", "log_softmax", "layer_norm", "rms_norm",
                           "embedding", "cross_entropy", "token_log_probs", "mse", "bce_with_logits", "kl_div", "attention"};
    for (const char* op : grads) BOOST_TEST(dtypes.count(std::string(op) + ".grad") == 1u, op << ".grad");
    const char* bf16_grads[] = {"exp", "gelu_tanh", "mul", "sum axis 0", "logsumexp axis -1", "matmul", "softmax",
                                "log_softmax", "layer_norm", "rms_norm", "embedding", "cross_entropy", "token_log_probs",
                                "attention"};
    for (const char* op : bf16_grads) BOOST_TEST(dtypes[std::string(op) + ".grad"].count("bf16") == 1u, op << ".grad bf16");
    // The layouts: strided, broadcast, empty and rank-0 operands.
    for (const char* v : {"contig", "transposed", "sliced", "empty", "rank0"}) BOOST_TEST(variants["exp"].count(v) == 1u, v);
    for (const char* v : {"same", "bcast (R,1)x(1,C)", "bcast (R,C)x(C)", "a transposed", "b number", "empty"})
        BOOST_TEST(variants["add"].count(v) == 1u, v);
    BOOST_TEST(variants["matmul"].count("empty M") == 1u);
    BOOST_TEST(variants["softmax"].count("empty (0,17)") == 1u);
}

BOOST_AUTO_TEST_CASE(an_op_a_device_lacks_is_reported_not_failed) {
    // What the CUDA program prints for a bf16 matmul while Backend<cuda>::matmul takes f32 only.
    ot::Case c{"op", "contig", "bf16", ot::Kind::eltwise, false, false,
               [](bool) {
                   ot::Prepared p;
                   p.run = [] { return ot::Results().add("y", ward::Tensor<float>::ones({3})); };
                   return p;
               },
               [](bool) { return ot::Prepared::unsupported("takes no bf16"); }};
    ot::Row r = ot::check(c, "gpu");
    BOOST_TEST(r.status == "not on gpu");
    BOOST_TEST(r.note == "takes no bf16");
    BOOST_TEST(!r.failed());
    // An exception on the device under test is a failure with its message.
    c.dev = [](bool) -> ot::Prepared { throw ward::shape_error("bad shape"); };
    r = ot::check(c, "gpu");
    BOOST_TEST(r.failed());
    BOOST_TEST(r.note == "bad shape");
}

BOOST_AUTO_TEST_CASE(the_perf_mode_times_a_case_and_gives_its_rate) {
    for (const ot::Case& c : table().cases()) {
        if (c.name() != "relu [contig] f32") continue;
        ot::PerfRow r = ot::time_case<cpu>(c, c.dev, 1, 2);
        BOOST_TEST(r.status == "OK", r.status);
        BOOST_TEST(r.shape == "(4096,4096)");
        BOOST_TEST(r.ms > 0.0);
        BOOST_TEST(r.rate > 0.0);
        BOOST_TEST(std::string(r.unit) == "GB/s");
        return;
    }
    BOOST_FAIL("no relu case");
}

BOOST_AUTO_TEST_SUITE_END()
