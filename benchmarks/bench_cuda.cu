// The CUDA executor against the memory system: each kernel's bandwidth (bytes it must read and
// write over its time, on CUDA events) as a fraction of a device-to-device copy of the same bytes,
// measured in the same run. Then the compute-bound rows torch_cuda_ops.py prints for its peers:
// matmul 4096^3 and 8192^3 in f32, TF32 and bf16 (TFLOP/s), and one AdamW step over GPT-2 small's
// 124M parameters in 148 tensors (GB/s over the bytes it must read and write); causal attention
// forward and forward + backward in f32 and bf16 (TFLOP/s; the peers are torch_cuda_ops.py's SDPA
// at the same shape). Exits 77 where no GPU exists.
//
//   bench_cuda [elements]      (default 64M f32)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <ward/cuda.cuh>
#include <ward/optim/adam.hpp>

using namespace ward;
namespace bc = ward::backend::cuda;

namespace {

/// Median-free but warm: one untimed run, then the mean of `reps` runs between two events.
double time_ms(const std::function<void()>& work, int reps) {
    work();
    bc::synchronize();
    bc::Event start, stop;
    start.record();
    for (int i = 0; i < reps; ++i) work();
    stop.record();
    return double(bc::Event::elapsed_ms(start, stop)) / reps;
}

double gbps(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

}  // namespace

int main(int argc, char** argv) {
    if (!bc::device_available()) {
        std::printf("bench_cuda: no CUDA device found; nothing measured (skipped)\n");
        return 77;
    }
    const index_t n = argc > 1 ? std::atoll(argv[1]) : index_t(64) << 20;
    const int reps = 20;
    const double bytes = double(n) * sizeof(float);
    cudaDeviceProp prop{};
    WARD_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("bench_cuda: %s, %lld f32 elements (%.0f MiB per tensor), mean of %d runs\n", prop.name, (long long)n,
                bytes / (1 << 20), reps);

    Generator g(1);
    Tensor<float, cuda> a = normal<float, cuda>(g, {n});  // drawn on the device
    Tensor<float, cuda> b = normal<float, cuda>(g, {n});
    auto out = Tensor<float, cuda>::empty({n});

    // The peer: cudaMemcpy reads and writes every byte once.
    const double copy_ms = time_ms([&] { DeviceMemory<cuda>::copy(out.data(), a.data(), std::size_t(bytes)); }, reps);
    const double copy_gbps = gbps(2 * bytes, copy_ms);
    std::printf("%-44s %9.3f ms %8.1f GB/s\n", "D2D copy (read + write)", copy_ms, copy_gbps);

    auto report = [&](const std::string& what, double moved, double ms) {
        const double rate = gbps(moved, ms);
        std::printf("%-44s %9.3f ms %8.1f GB/s   %.2fx copy\n", what.c_str(), ms, rate, rate / copy_gbps);
    };

    // Element-wise: two reads, one write.
    report("gelu_tanh(a*b+1) - tanh(a)*0.5  (6 ops)", 3 * bytes,
           time_ms([&] { out.assign(gelu_tanh(a * b + 1.0f) - tanh(a) * 0.5f); }, reps));
    report("a * 2 + 1", 2 * bytes, time_ms([&] { out.assign(a * 2.0f + 1.0f); }, reps));

    // Broadcast rows and a strided read (a transposed square).
    const index_t side = 4096;
    if (n >= side * side) {
        auto x = a.slice(0, 0, side * side).reshape({side, side});
        auto y = out.slice(0, 0, side * side).reshape({side, side});
        auto bias = b.slice(0, 0, side);
        const double square = double(side) * side * sizeof(float);
        report("x + bias  (4096 x 4096, broadcast rows)", 2 * square, time_ms([&] { y.assign(x + bias); }, reps));
        report("x^T * 2  (4096 x 4096, strided)", 2 * square, time_ms([&] { y.assign(x.transpose() * 2.0f); }, reps));
    }

    // Reductions read every byte once.
    report("sum(a)  (everything)", bytes, time_ms([&] { (void)sum(a); }, reps));
    report("logsumexp(a)  (everything)", bytes, time_ms([&] { (void)logsumexp(a); }, reps));
    for (index_t cols : {index_t(8192), index_t(1024), index_t(64)}) {
        if (n % cols != 0) continue;
        auto m = a.reshape({n / cols, cols});
        report("sum(m, 1)  (rows of " + std::to_string(cols) + ")", bytes, time_ms([&] { (void)sum(m, 1); }, reps));
    }
    if (n % 8192 == 0) {
        auto m = a.reshape({n / 8192, 8192});
        report("sum(m, 0)  (columns of " + std::to_string(n / 8192) + ")", bytes, time_ms([&] { (void)sum(m, 0); }, reps));
        report("argmax(m, 1)  (rows of 8192)", bytes, time_ms([&] { (void)argmax(m, 1); }, reps));
    }
    // Matmul through cuBLASLt: 2 M N K flops, as torch_cuda_ops.py counts them.
    for (index_t size : {index_t(4096), index_t(8192)}) {
        const double flops = 2.0 * double(size) * double(size) * double(size);
        auto row = [&](const char* name, double ms) {
            std::printf("%-44s %9.3f ms %8.1f TFLOP/s\n", ("matmul " + std::to_string(size) + "^3 " + name).c_str(), ms,
                        flops / ms / 1e9);
        };
        Tensor<float, cuda> p = normal<float, cuda>(g, {size, size}), q = normal<float, cuda>(g, {size, size});
        bc::set_allow_tf32(false);
        row("f32", time_ms([&] { (void)matmul(p, q); }, 10));
        bc::set_allow_tf32(true);
        row("TF32", time_ms([&] { (void)matmul(p, q); }, 10));
        bc::set_allow_tf32(false);
        Tensor<bf16, cuda> pb(cast<bf16>(p)), qb(cast<bf16>(q));
        row("bf16", time_ms([&] { (void)matmul(pb, qb); }, 10));
    }

    // One AdamW step over GPT-2 small's parameters (124M in 148 tensors), all in one multi-tensor
    // call: reads p, g, m, v and writes p, m, v, 28 bytes per parameter.
    {
        const index_t C = 768, V = 50257, L = 12;
        std::vector<Shape> shapes{{V, C}, {1024, C}};
        for (index_t l = 0; l < L; ++l)
            for (const Shape& s : {Shape{C}, Shape{C}, Shape{C, 3 * C}, Shape{3 * C}, Shape{C, C}, Shape{C}, Shape{C},
                                   Shape{C}, Shape{C, 4 * C}, Shape{4 * C}, Shape{4 * C, C}, Shape{C}})
                shapes.push_back(s);
        shapes.push_back({C});
        shapes.push_back({C});
        optim::ParameterList<float, cuda> params;
        double count = 0;
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            params.push_back({"p" + std::to_string(i), normal<float, cuda>(g, shapes[i]), normal<float, cuda>(g, shapes[i])});
            count += double(shapes[i].numel());
        }
        optim::AdamW<float, cuda> opt(params, {.lr = 1e-4});
        opt.set_check_finite(false);  // as torch's fused step, which checks nothing without a grad scaler
        const std::string what = "AdamW step (" + std::to_string(std::llround(count / 1e6)) + "M in " +
                                 std::to_string(shapes.size()) + " tensors)";
        report(what, 28 * count, time_ms([&] { opt.step(); }, 10));
        opt.set_check_finite(true);
        report(what + " + finite check", 28 * count, time_ms([&] { opt.step(); }, 10));
    }

    // Causal attention through the fused kernels (tensor/fused.hpp), f32 and bf16 (f32 math inside),
    // at torch_cuda_ops.py's SDPA shape; FLOPs counted as there: 4 B H T^2 hd / 2 forward (q k^T and
    // p v, half the pairs causal), 3.5 times that forward + backward.
    auto attention = [&](auto element) {
        using T = decltype(element);
        const char* name = std::is_same_v<T, bf16> ? "bf16" : "f32";
        const index_t B = 16, H = 12, Tn = 1024, hd = 64;
        auto input = [&](const Shape& s) { return Tensor<T, cuda>(cast<T>(normal<float, cuda>(g, s))); };
        Tensor<T, cuda> q = input({B, H, Tn, hd}), k = input({B, H, Tn, hd}), v = input({B, H, Tn, hd}),
                        grad = input({B, Tn, H * hd});
        const double scale = 1.0 / std::sqrt(double(hd)), flops = 4.0 * B * H * double(Tn) * Tn * hd / 2;
        const int attention_reps = 10;
        const double fwd = time_ms([&] { (void)attention_forward(q, k, v, 0, Tensor<T, cuda>(), scale); }, attention_reps);
        const double both = time_ms(
            [&] {
                FusedAttention<T, cuda> f = attention_forward(q, k, v, 0, Tensor<T, cuda>(), scale);
                (void)attention_backward(f, grad);
            },
            attention_reps);
        const std::string shape = std::string(" (") + name + ", 16x12x1024x64)";
        std::printf("%-44s %9.3f ms %8.1f TFLOP/s\n", ("attention causal fwd" + shape).c_str(), fwd, flops / fwd / 1e9);
        std::printf("%-44s %9.3f ms %8.1f TFLOP/s\n", ("attention causal fwd+bwd" + shape).c_str(), both,
                    3.5 * flops / both / 1e9);
    };
    attention(float{});
    attention(bf16{});
    std::printf("device memory: %lld bytes in use, peak %lld, cache hits %llu, misses %llu\n",
                (long long)stats::device_bytes_in_use.load(), (long long)stats::device_bytes_peak.load(),
                (unsigned long long)stats::device_cache_hits.load(), (unsigned long long)stats::device_cache_misses.load());
    return 0;
}
