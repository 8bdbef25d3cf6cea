// The cross-device op table (tests/backend/op_table.hpp), CPU against CUDA: every op of ward's front
// ends, forward and backward, over dense, strided, broadcast, empty and odd shapes, one line per
// case with its normalised error and threshold. Exits 1 if any case fails, 77 without a GPU.
//
//   backend_cuda_op_table                     # check every case
//   backend_cuda_op_table --filter softmax    # the cases whose name contains "softmax"
//   backend_cuda_op_table --perf [--reps N]   # time each op on the GPU (large shapes): ms, GB/s or TFLOP/s
#include <cstdio>
#include <exception>

#include <ward/cuda.cuh>

#include "backend/op_table.hpp"

namespace ward_test::op_table {

/// CUDA events around the calls, on the stream the library queues its work on.
template <>
struct Clock<ward::cuda> {
    static double mean_ms(const std::function<void()>& f, int warmup, int reps) {
        namespace wc = ward::backend::cuda;
        for (int i = 0; i < warmup; ++i) f();
        cudaStream_t s = wc::current_stream();
        cudaEvent_t start, stop;
        WARD_CUDA_CHECK(cudaEventCreate(&start));
        WARD_CUDA_CHECK(cudaEventCreate(&stop));
        WARD_CUDA_CHECK(cudaEventRecord(start, s));
        for (int i = 0; i < reps; ++i) f();
        WARD_CUDA_CHECK(cudaEventRecord(stop, s));
        WARD_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        WARD_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        WARD_CUDA_CHECK(cudaEventDestroy(start));
        WARD_CUDA_CHECK(cudaEventDestroy(stop));
        return double(ms) / reps;
    }
};

}  // namespace ward_test::op_table

int main(int argc, char** argv) {
    namespace ot = ward_test::op_table;
    if (!ward::backend::cuda::device_available()) {
        std::printf("no CUDA device: skipped\n");
        return 77;
    }
    try {
        const ot::Options o = ot::parse(argc, argv);
        const auto table = ot::make_table<ward::cpu, ward::cuda>();
        const int failed = ot::run_table<ward::cuda>(table.cases(), o, "cpu", "cuda");
        return failed > 0 ? 1 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "op table: %s\n", e.what());
        return 1;
    }
}
