// quickstart: a tour of ward's tensor layer on the CPU. It builds tensors and views, evaluates a
// fused element-wise expression (and counts the passes over memory), reduces, runs the heavy ops
// (matmul with a fused bias + GELU, softmax, layer norm, embedding) and checks each against a
// plain loop, printing what it did.
//
//   quickstart [--size N] [--seed S]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>

#include <ward/ward.hpp>

using namespace ward;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"A tour of ward's tensor layer"};
    index_t n = 512;
    std::uint64_t seed = 24;
    app.add_option("--size", n, "matrix size for the matmul timing")->check(CLI::Range(1, 4096));
    app.add_option("--seed", seed, "random seed");
    CLI11_PARSE(app, argc, argv);

    try {
        Generator gen(seed);
        std::printf("ward quickstart (threads: %d, seed %llu)\n\n", backend::cpu::max_threads(),
                    static_cast<unsigned long long>(seed));

        // Views share memory: a transpose and a strided slice are strides, not copies.
        auto x = Tensor<float>::arange(12).reshape({3, 4});
        auto xt = x.transpose();
        auto odd = x.slice(1, 1, 4, 2);
        std::printf("views: x %s, x.T %s (contiguous: %s), x[:, 1::2] %s, x.T(3, 2) = %g\n", x.shape().str().c_str(),
                    xt.shape().str().c_str(), xt.is_contiguous() ? "yes" : "no", odd.shape().str().c_str(), xt(3, 2));

        // Six element-wise ops fused into one pass.
        const index_t m = 1 << 20;
        Tensor<float> a = normal<float>(gen, {m}), b = normal<float>(gen, {m}), c = uniform<float>(gen, {m});
        auto passes = stats::elementwise_passes.load();
        Tensor<float> y = abs(clamp((a * b + c) * 2.0f - a, -3.0, 3.0));
        passes = stats::elementwise_passes.load() - passes;
        auto t0 = std::chrono::steady_clock::now();
        y.assign(abs(clamp((a * b + c) * 2.0f - a, -3.0, 3.0)));  // again, into memory already touched
        double dt = seconds_since(t0);
        std::printf("fused: abs(clamp((a*b + c)*2 - a, -3, 3)) on %lld floats: %llu pass, %.2f ms\n",
                    static_cast<long long>(m), static_cast<unsigned long long>(passes),
                    dt * 1e3);
        float want = std::abs(std::clamp((a(7) * b(7) + c(7)) * 2.0f - a(7), -3.0f, 3.0f));
        std::printf("       y[7] = %.6f (loop: %.6f)\n", y(7), want);

        // Reductions read expressions without materialising them.
        std::printf("reduce: mean(a) = %.4f, mean(a^2) = %.4f (a ~ N(0, 1)), max(c) = %.4f, argmax(a) = %lld\n",
                    mean(a).item(), mean(square(a)).item(), max(c).item(), static_cast<long long>(argmax(a).item()));

        // matmul with bias and GELU fused into the oneDNN primitive.
        Tensor<float> w = normal<float>(gen, {n, n}, 0.0f, 1.0f / std::sqrt(float(n)));
        Tensor<float> inp = normal<float>(gen, {n, n}), bias = normal<float>(gen, {n});
        matmul(inp, w, bias, Activation::gelu_tanh);  // the first call creates and caches the primitive
        t0 = std::chrono::steady_clock::now();
        Tensor<float> h = matmul(inp, w, bias, Activation::gelu_tanh);
        dt = seconds_since(t0);
        double ref = bias(5);
        for (index_t k = 0; k < n; ++k) ref += double(inp(3, k)) * double(w(k, 5));
        ref = 0.5 * ref * (1 + std::tanh(0.7978845608028654 * (ref + 0.044715 * ref * ref * ref)));
        std::printf("matmul: gelu(inp @ w + bias), %lld^3: %.2f ms, %.1f GFLOP/s; h(3, 5) = %.5f (loop: %.5f)\n",
                    static_cast<long long>(n), dt * 1e3, 2.0 * double(n) * n * n / dt * 1e-9, h(3, 5), ref);
        Tensor<float> ht = matmul(inp.transpose(), w);  // a transposed operand, passed as strides
        std::printf("        inp.T @ w: %s\n", ht.shape().str().c_str());

        // softmax rows sum to one; layer norm rows have mean 0 and variance 1.
        Tensor<float> p = softmax(h);
        std::printf("softmax: row sums in [%.6f, %.6f]\n", min(sum(p, -1)).item(), max(sum(p, -1)).item());
        Tensor<float> ln = layer_norm(h, Tensor<float>::ones({n}), Tensor<float>::zeros({n}));
        std::printf("layer_norm: row mean %.2e, row variance %.4f\n", max(abs(mean(ln, -1))).item(), mean(mean(square(ln), -1)).item());

        // Embedding rows by id; a bad id is a clear error, not a read past the table.
        auto ids = Tensor<std::int64_t>::from_vector({2, 0, 2}, {3});
        Tensor<float> table = normal<float>(gen, {4, 8});
        Tensor<float> e = embedding(table, ids);
        std::printf("embedding: ids (2, 0, 2) -> %s, row 0 == table row 2: %s\n", e.shape().str().c_str(),
                    e(0, 3) == table(2, 3) ? "yes" : "no");
        try {
            embedding(table, Tensor<std::int64_t>::from_vector({9}, {1}));
        } catch (const index_error& err) {
            std::printf("           bad id -> ward::index_error: %s\n", err.what());
        }
        return 0;
    } catch (const ward::error& err) {
        std::fprintf(stderr, "quickstart: %s\n", err.what());
        return 1;
    } catch (const std::exception& err) {
        std::fprintf(stderr, "quickstart: unexpected error: %s\n", err.what());
        return 2;
    }
}
