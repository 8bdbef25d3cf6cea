// Fuzzes the safetensors reader (io/safetensors.hpp, io/safetensors_header.hpp): the input is the
// file. Every tensor the header admits is read as stored, converted, and copied through strides,
// so a header that lets a read past the data section show up under ASan.
#include <cstddef>
#include <cstdint>

#include <ward/io/safetensors.hpp>
#include <ward/tensor.hpp>

#include "fuzz_support.hpp"

using namespace ward;

namespace {

template <Element T>
void read_every_way(const io::SafetensorsFile& f, const io::TensorInfo& t) {
    auto exact = f.get<T>(t.name);
    if (exact.numel() != t.numel()) fuzz::fail("get: wrong element count for " + t.name);
    if (t.shape.rank == 2 && t.numel() > 0) {  // into a transposed (strided) destination
        auto storage = Tensor<T>::zeros(Shape{t.shape[1], t.shape[0]});
        f.read_into(t.name, storage.transpose());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
    fuzz::expect_ward_error_only(file.path(), [&] {
        io::SafetensorsFile f(file.path());
        std::uint64_t sum = 0;
        for (const auto& [k, v] : f.metadata()) sum += k.size() + v.size();
        for (const auto& name : f.names()) {
            const io::TensorInfo& t = f.info(name);
            for (std::byte b : f.raw(name)) sum += std::to_integer<unsigned>(b);
            if (t.nbytes() != static_cast<std::size_t>(t.numel()) * io::stored_dtype_size(t.dtype))
                fuzz::fail("nbytes disagrees with the shape of " + name);
            switch (t.dtype) {
                case io::StoredDtype::F32: read_every_way<float>(f, t); break;
                case io::StoredDtype::F64: read_every_way<double>(f, t); break;
                case io::StoredDtype::BF16: read_every_way<bf16>(f, t); break;
                case io::StoredDtype::I32: read_every_way<std::int32_t>(f, t); break;
                case io::StoredDtype::I64: read_every_way<std::int64_t>(f, t); break;
                default: break;
            }
            if (t.dtype != io::StoredDtype::U64 && t.dtype != io::StoredDtype::F8_E4M3 && t.dtype != io::StoredDtype::F8_E5M2) {
                auto converted = f.get_as<float>(name);
                if (converted.numel() != t.numel()) fuzz::fail("get_as: wrong element count for " + name);
            }
        }
        if (sum == 1) std::fputc(' ', stderr);  // keeps the reads
    });
    return 0;
}
