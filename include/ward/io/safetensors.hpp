#pragma once
// Reading and writing safetensors files (the format and its validation: safetensors_header.hpp).
//
//   io::SafetensorsWriter w;                       io::SafetensorsFile f("model.safetensors");
//   w.add("wte", wte);                             for (auto& name : f.names()) f.info(name);
//   w.add_metadata("format", "pt");                auto wte = f.get<float>("wte");        // exact type
//   w.save("model.safetensors");  // atomic        auto emb = f.get_as<float>("emb.bf16"); // converting
//
// The reader maps the file read-only (reading it into memory where mmap is unavailable) and
// validates the whole header when it opens, so a tensor read can never run past the data. Files
// replaced by write_atomically are safe to keep mapped (a rename never touches the old inode); a
// file truncated in place by another program while mapped faults, as with any mmap reader.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/io/safetensors_header.hpp"
#include "ward/tensor/storage.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::io {

namespace detail {

/// The bytes of a whole regular file: a read-only private mapping, or a heap copy of its st_size
/// bytes where mmap fails. Anything else (a FIFO, /dev/zero, a socket) is an io_error: its size is
/// not known in advance, and reading it could block or never end. O_NONBLOCK keeps the open itself
/// from waiting for a FIFO's writer.
class MappedFile {
public:
    explicit MappedFile(const std::filesystem::path& path) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) throw io_error("cannot open '" + path.string() + "': " + errno_text(errno));
        struct Closer {
            int fd;
            ~Closer() {
                if (fd >= 0) ::close(fd);
            }
        } closer{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw io_error("cannot stat '" + path.string() + "': " + errno_text(errno));
        if (S_ISDIR(st.st_mode)) throw io_error("cannot read '" + path.string() + "': it is a directory");
        if (!S_ISREG(st.st_mode))
            throw io_error("cannot read '" + path.string() + "': it is not a regular file (a pipe, device or socket)");
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ == 0) return;
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            mapped_ = p;
            data_ = static_cast<const std::byte*>(p);
            fd_ = std::exchange(closer.fd, -1);  // kept for copy_out
            path_ = path.string();
            return;
        }
        read_all(fd, path);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() {
        if (mapped_) ::munmap(mapped_, size_);
        if (fd_ >= 0) ::close(fd_);
    }

    const std::byte* data() const { return data_; }
    std::size_t size() const { return size_; }

    /// Copies bytes [offset, offset + bytes) into dst. A mapped file is read with pread: the kernel
    /// copies from its page cache straight into dst, which a loader filling a 13 GB model finds
    /// faster than faulting in the mapping's pages and copying them (and the mapping stays cold).
    void copy_out(std::size_t offset, void* dst, std::size_t bytes) const {
        if (fd_ < 0) {
            if (bytes) std::memcpy(dst, data_ + offset, bytes);
            return;
        }
        auto* out = static_cast<char*>(dst);
        while (bytes > 0) {
            const ssize_t r = ::pread(fd_, out, bytes, static_cast<off_t>(offset));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw io_error("cannot read '" + path_ + "': " + errno_text(errno));
            if (r == 0) throw io_error("cannot read '" + path_ + "': it was cut short while open");
            out += r;
            offset += static_cast<std::size_t>(r);
            bytes -= static_cast<std::size_t>(r);
        }
    }

    /// Lets the pages wholly inside [offset, offset + bytes) leave the process's resident memory: a
    /// loader that has copied a tensor out calls this so that the mapping of a 10 GB shard does not
    /// sit in RSS beside the copies. The bytes stay readable (touched again, they are read back
    /// from the file); the private mapping is never written, so nothing is lost. A heap copy keeps
    /// its bytes.
    void drop_pages(std::size_t offset, std::size_t bytes) const {
        if (!mapped_ || bytes == 0) return;
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        const std::size_t begin = (offset + page - 1) / page * page, end = (offset + bytes) / page * page;
        if (end > begin) ::madvise(static_cast<std::byte*>(mapped_) + begin, end - begin, MADV_DONTNEED);
    }

private:
    void* mapped_ = nullptr;
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    int fd_ = -1;  // open while mapped
    std::string path_;
    std::vector<std::byte> copy_;

    /// The first size_ bytes (a file that shrinks meanwhile is cut short, and the header's checks see it).
    void read_all(int fd, const std::filesystem::path& path) {
        copy_.resize(size_);
        std::size_t done = 0;
        while (done < size_) {
            ssize_t r = ::read(fd, copy_.data() + done, size_ - done);
            if (r < 0) {
                if (errno == EINTR) continue;
                throw io_error("cannot read '" + path.string() + "': " + errno_text(errno));
            }
            if (r == 0) break;
            done += static_cast<std::size_t>(r);
        }
        copy_.resize(done);
        data_ = copy_.data();
        size_ = copy_.size();
    }
};

/// Calls f(i, offset) for every element of a strided view in row-major order: i counts elements,
/// offset is the element's position in memory (in elements). Host-side, no executor needed.
template <class F>
void for_each_strided(const Shape& shape, const Strides& strides, F&& f) {
    const index_t n = shape.numel();
    if (n == 0) return;
    index_t idx[max_rank] = {};
    index_t offset = 0;
    for (index_t i = 0; i < n; ++i) {
        f(i, offset);
        for (int d = shape.rank - 1; d >= 0; --d) {  // odometer increment
            offset += strides[d];
            if (++idx[d] < shape[d]) break;
            offset -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
}

/// Writes a host tensor's elements row-major through a small buffer (no full contiguous copy).
template <class T>
void write_row_major(std::ostream& out, const T* data, const Shape& shape, const Strides& strides) {
    if (is_contiguous(shape, strides)) {
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(shape.numel() * sizeof(T)));
        return;
    }
    std::vector<T> buffer;
    buffer.reserve(4096);
    for_each_strided(shape, strides, [&](index_t, index_t offset) {
        buffer.push_back(data[offset]);
        if (buffer.size() == 4096) {
            out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size() * sizeof(T)));
            buffer.clear();
        }
    });
    out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size() * sizeof(T)));
}

/// IEEE half -> float (exact: every half is a float).
inline float half_to_float(std::uint16_t h) {
    std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    float f;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        f = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    std::uint32_t bits = exponent == 0x1f ? sign | 0x7f800000u | (mantissa << 13)  // inf, NaN
                                          : sign | ((exponent + 112u) << 23) | (mantissa << 13);
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

/// One stored element (unaligned, little-endian) converted to a floating type.
template <FloatElement To>
To convert_element(StoredDtype d, const std::byte* p) {
    auto load = [p]<class S>(S) {
        S s;
        std::memcpy(&s, p, sizeof s);
        return s;
    };
    switch (d) {
        case StoredDtype::F32: return element_cast<To>(load(float{}));
        case StoredDtype::F64: return element_cast<To>(load(double{}));
        case StoredDtype::BF16: return element_cast<To>(load(bf16{}));
        case StoredDtype::F16: return element_cast<To>(half_to_float(load(std::uint16_t{})));
        case StoredDtype::I32: return element_cast<To>(load(std::int32_t{}));
        case StoredDtype::I64: return element_cast<To>(load(std::int64_t{}));
        case StoredDtype::BOOL: return element_cast<To>(static_cast<std::int32_t>(load(std::uint8_t{}) != 0));
        case StoredDtype::U8: return element_cast<To>(static_cast<std::int32_t>(load(std::uint8_t{})));
        case StoredDtype::I8: return element_cast<To>(static_cast<std::int32_t>(load(std::int8_t{})));
        case StoredDtype::I16: return element_cast<To>(static_cast<std::int32_t>(load(std::int16_t{})));
        case StoredDtype::U16: return element_cast<To>(static_cast<std::int32_t>(load(std::uint16_t{})));
        case StoredDtype::U32: return element_cast<To>(static_cast<std::int64_t>(load(std::uint32_t{})));
        default: return To{};  // not reached: can_convert() filters the rest
    }
}

constexpr bool can_convert(StoredDtype d) {
    return d != StoredDtype::U64 && d != StoredDtype::F8_E4M3 && d != StoredDtype::F8_E5M2;
}

}  // namespace detail

/// A safetensors file opened for reading. Copies share the mapping; tensors it returns own their
/// memory (they stay valid after the file is gone).
class SafetensorsFile {
public:
    /// Opens and validates the file: io_error when it cannot be read, parse_error when malformed.
    explicit SafetensorsFile(const std::filesystem::path& path)
        : path_(path), file_(std::make_shared<detail::MappedFile>(path)),
          header_(std::make_shared<SafetensorsHeader>(
              parse_safetensors_header(file_->data(), file_->size(), path.string()))) {}

    const std::filesystem::path& path() const { return path_; }
    /// Tensor names, sorted.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& t : header_->tensors) out.push_back(t.name);
        return out;
    }
    std::size_t size() const { return header_->tensors.size(); }
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    /// dtype, shape and byte range of a tensor; index_error when there is none of that name.
    const TensorInfo& info(std::string_view name) const {
        if (const TensorInfo* t = find(name)) return *t;
        throw index_error("safetensors file '" + path_.string() + "' has no tensor '" + std::string(name) + "' (it holds " +
                          std::to_string(size()) + " tensors)");
    }
    const std::map<std::string, std::string>& metadata() const { return header_->metadata; }

    /// The stored bytes of a tensor (little-endian, row-major), valid while this file object lives.
    std::span<const std::byte> raw(std::string_view name) const {
        const TensorInfo& t = info(name);
        return {file_->data() + header_->data_offset + t.data_begin, t.nbytes()};
    }

    /// The tensor as stored, which must be of type T (dtype_error otherwise: use get_as to convert).
    template <Element T, Device D = cpu>
    Tensor<T, D> get(std::string_view name) const {
        const TensorInfo& t = info(name);
        require_dtype<T>(t);
        auto out = Tensor<T, D>::empty(t.shape);
        if (t.nbytes() > 0) DeviceMemory<D>::from_host(out.data(), raw(name).data(), t.nbytes());
        return out;
    }

    /// The tensor converted to a floating type T from any numeric stored type (F16, BF16, F32, F64,
    /// integers and BOOL; not U64 or the F8 types).
    template <FloatElement T, Device D = cpu>
    Tensor<T, D> get_as(std::string_view name) const {
        const TensorInfo& t = info(name);
        if (t.dtype == stored_dtype_of<T>()) return get<T, D>(name);
        if (!detail::can_convert(t.dtype))
            throw dtype_error("safetensors file '" + path_.string() + "': tensor '" + t.name + "' is stored as " +
                              std::string(stored_dtype_name(t.dtype)) + ", which ward cannot convert to " +
                              std::string(dtype_name(dtype_of_v<T>)));
        std::vector<T> values(static_cast<std::size_t>(t.numel()));
        const std::byte* p = raw(name).data();
        const std::size_t size = stored_dtype_size(t.dtype);
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = detail::convert_element<T>(t.dtype, p + i * size);
        return Tensor<T, D>::from_vector(values, t.shape);
    }

    /// Copies the tensor into dst's memory (through its strides), for loading weights into
    /// parameters that must keep their storage. Shape and type must match exactly.
    template <Element T, Device D>
    void read_into(std::string_view name, const Tensor<T, D>& dst) const {
        const TensorInfo& t = info(name);
        require_dtype<T>(t);
        if (!(t.shape == dst.shape()))
            throw shape_error("safetensors file '" + path_.string() + "': tensor '" + t.name + "' has shape " +
                              t.shape.str() + ", the destination " + dst.shape().str());
        if (t.nbytes() == 0) return;
        const std::byte* src = raw(name).data();
        if (dst.is_contiguous()) {
            DeviceMemory<D>::from_host(dst.data(), src, t.nbytes());
        } else if constexpr (std::is_same_v<D, cpu>) {
            T* out = dst.data();
            detail::for_each_strided(dst.shape(), dst.strides(), [&](index_t i, index_t offset) {
                std::memcpy(out + offset, src + static_cast<std::size_t>(i) * sizeof(T), sizeof(T));
            });
        } else {
            Tensor<T, D> target = dst;
            target.assign(get<T, D>(name));  // through the device's executor
        }
    }

    /// Like read_into, converting from any stored type get_as converts, straight into dst's memory
    /// (no temporary of the tensor's size on the host). With `drop_behind` the mapped pages are let
    /// go (MappedFile::drop_pages) as the copy passes them, a few MB at a time, so that loading a
    /// model keeps no more of the files resident than one such chunk.
    template <FloatElement T, Device D>
    void convert_into(std::string_view name, const Tensor<T, D>& dst, bool drop_behind = false) const {
        const TensorInfo& t = info(name);
        if (!(t.shape == dst.shape()))
            throw shape_error("safetensors file '" + path_.string() + "': tensor '" + t.name + "' has shape " +
                              t.shape.str() + ", the destination " + dst.shape().str());
        if (t.dtype != stored_dtype_of<T>() && !detail::can_convert(t.dtype)) get_as<T, D>(name);  // its dtype_error
        if constexpr (std::is_same_v<D, cpu>) {
            if (dst.is_contiguous()) {
                T* out = dst.data();
                const std::byte* p = raw(name).data();
                const std::size_t size = stored_dtype_size(t.dtype), n = static_cast<std::size_t>(t.numel());
                const std::size_t chunk = std::max<std::size_t>(1, (std::size_t{4} << 20) / size);  // 4 MB of the file
                const std::size_t file_offset = header_->data_offset + t.data_begin;
                // Chunks on every thread: one thread's copy does not reach the memory bandwidth.
                const auto chunks = static_cast<std::ptrdiff_t>((n + chunk - 1) / chunk);
                std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
                for (std::ptrdiff_t c = 0; c < chunks; ++c) {
                    const std::size_t begin = static_cast<std::size_t>(c) * chunk, end = std::min(n, begin + chunk);
                    try {
                        if (t.dtype == stored_dtype_of<T>()) {
                            file_->copy_out(file_offset + begin * size, out + begin, (end - begin) * size);
                        } else {
                            for (std::size_t i = begin; i < end; ++i)
                                out[i] = detail::convert_element<T>(t.dtype, p + i * size);
                        }
                        if (drop_behind) file_->drop_pages(file_offset + begin * size, (end - begin) * size);
                    } catch (...) {  // nothing may leave an OpenMP region: the first failure is rethrown below
#pragma omp critical(ward_safetensors_copy)
                        if (!failure) failure = std::current_exception();
                    }
                }
                if (failure) std::rethrow_exception(failure);
                return;
            }
        }
        if (t.dtype == stored_dtype_of<T>()) {
            read_into(name, dst);
        } else {
            Tensor<T, D> target = dst;
            target.assign(get_as<T, D>(name));
        }
        if (drop_behind) drop_pages(name);
    }

    /// The tensor's mapped bytes leave resident memory (MappedFile::drop_pages); it stays readable.
    void drop_pages(std::string_view name) const {
        const TensorInfo& t = info(name);
        file_->drop_pages(header_->data_offset + t.data_begin, t.nbytes());
    }

private:
    std::filesystem::path path_;
    std::shared_ptr<const detail::MappedFile> file_;
    std::shared_ptr<const SafetensorsHeader> header_;

    const TensorInfo* find(std::string_view name) const {
        const auto& ts = header_->tensors;
        auto it = std::lower_bound(ts.begin(), ts.end(), name, [](const TensorInfo& t, std::string_view n) { return t.name < n; });
        return it != ts.end() && it->name == name ? &*it : nullptr;
    }
    template <Element T>
    void require_dtype(const TensorInfo& t) const {
        if (t.dtype != stored_dtype_of<T>())
            throw dtype_error("safetensors file '" + path_.string() + "': tensor '" + t.name + "' is stored as " +
                              std::string(stored_dtype_name(t.dtype)) + ", but " +
                              std::string(stored_dtype_name(stored_dtype_of<T>())) + " (" +
                              std::string(dtype_name(dtype_of_v<T>)) + ") was requested; get_as<T>() converts");
    }
};

/// Collects tensors (any element type, device and strides) and metadata, then writes them in one
/// atomic save: names sorted, offsets contiguous, data row-major. Tensors are held by handle and
/// read when save() runs.
class SafetensorsWriter {
public:
    template <Element T, Device D>
    SafetensorsWriter& add(std::string name, const Tensor<T, D>& tensor) {
        if (name == "__metadata__") throw value_error("safetensors: '__metadata__' cannot name a tensor");
        if (!tensor.defined()) throw value_error("safetensors: tensor '" + name + "' is undefined");
        if (contains(name)) throw value_error("safetensors: tensor '" + name + "' added twice");
        Entry e;
        e.dtype = stored_dtype_of<T>();
        e.shape = tensor.shape();
        e.write = [tensor](std::ostream& out) {
            if constexpr (std::is_same_v<D, cpu>) {
                detail::write_row_major(out, tensor.data(), tensor.shape(), tensor.strides());
            } else {
                std::vector<T> host = tensor.to_vector();
                out.write(reinterpret_cast<const char*>(host.data()), static_cast<std::streamsize>(host.size() * sizeof(T)));
            }
        };
        entries_.emplace(std::move(name), std::move(e));
        return *this;
    }
    SafetensorsWriter& add_metadata(std::string key, std::string value) {
        metadata_[std::move(key)] = std::move(value);
        return *this;
    }
    bool contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }
    std::size_t size() const { return entries_.size(); }

    /// Writes the file atomically (io_error on failure; the previous file then stays as it was).
    void save(const std::filesystem::path& path) const {
        std::vector<TensorInfo> infos;
        std::size_t offset = 0;
        for (const auto& [name, e] : entries_) {
            TensorInfo t;
            t.name = name;
            t.dtype = e.dtype;
            t.shape = e.shape;
            t.data_begin = offset;
            offset += static_cast<std::size_t>(e.shape.numel()) * stored_dtype_size(e.dtype);
            t.data_end = offset;
            infos.push_back(std::move(t));
        }
        std::string header;
        try {
            header = serialize_safetensors_header(infos, metadata_);
        } catch (const nlohmann::json::exception& ex) {  // names or metadata that are not UTF-8
            throw value_error("safetensors: cannot write '" + path.string() + "': " + ex.what());
        }
        write_atomically(path, [&](std::ostream& out) {
            out.write(header.data(), static_cast<std::streamsize>(header.size()));
            for (const auto& [name, e] : entries_) e.write(out);
        });
    }

private:
    struct Entry {
        StoredDtype dtype;
        Shape shape;
        std::function<void(std::ostream&)> write;
    };
    std::map<std::string, Entry, std::less<>> entries_;
    std::map<std::string, std::string> metadata_;
};

/// Saves named tensors of one type (and metadata) atomically.
template <Element T, Device D>
void save_safetensors(const std::filesystem::path& path, const std::map<std::string, Tensor<T, D>>& tensors,
                      const std::map<std::string, std::string>& metadata = {}) {
    SafetensorsWriter w;
    for (const auto& [name, t] : tensors) w.add(name, t);
    for (const auto& [k, v] : metadata) w.add_metadata(k, v);
    w.save(path);
}

}  // namespace ward::io
