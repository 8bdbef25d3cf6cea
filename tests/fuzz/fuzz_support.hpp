#pragma once
// What the fuzz harnesses share: the input as a file (or several), and the rule that a reader given
// bad bytes ends in a ward::error with a message, and in nothing else.
//
// A harness whose reader takes several files gets them from one input cut at `separator`: the
// seeds hold it, and libFuzzer's mutations and cross-overs keep, drop and repeat it.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include <ward/core/error.hpp>

namespace ward::fuzz {

inline constexpr std::string_view separator = "\n#next-file#\n";

/// The input cut at each separator into at most `max_parts` parts (the last keeps the rest).
inline std::vector<std::string_view> split_input(const std::uint8_t* data, std::size_t size, std::size_t max_parts) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < max_parts) {
        const auto at = rest.find(separator);
        if (at == std::string_view::npos) break;
        parts.push_back(rest.substr(0, at));
        rest.remove_prefix(at + separator.size());
    }
    parts.push_back(rest);
    return parts;
}

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "\nward fuzz: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

/// Bytes in an anonymous in-memory file, opened by readers through /proc/self/fd/N: no disk, no
/// names to clean up, a regular file to fstat and mmap.
class MemFile {
public:
    explicit MemFile(std::string_view bytes) {
        fd_ = ::memfd_create("ward-fuzz", MFD_CLOEXEC);
        if (fd_ < 0) fail("memfd_create failed");
        for (std::size_t done = 0; done < bytes.size();) {
            const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (n <= 0) fail("write to memfd failed");
            done += static_cast<std::size_t>(n);
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
    ~MemFile() { ::close(fd_); }
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

/// A directory of this process's own under /dev/shm (or the temporary directory), emptied for each
/// input: for readers that look files up by name.
class ScratchDir {
public:
    ScratchDir() {
        std::error_code ec;
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                                                      : std::filesystem::temp_directory_path();
        path_ = base / ("ward-fuzz-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path_, ec);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    /// Removes every file left by the previous input.
    void clear() const {
        for (const auto& e : std::filesystem::directory_iterator(path_)) std::filesystem::remove_all(e.path());
    }
    void write(const std::string& name, std::string_view bytes) const {
        std::FILE* f = std::fopen((path_ / name).c_str(), "wb");
        if (!f) fail("cannot create " + (path_ / name).string());
        if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) fail("short write");
        std::fclose(f);
    }

private:
    std::filesystem::path path_;
};

/// Runs a reader on bad bytes: a ward::error is the expected outcome, and its message must name
/// `where` (the file or directory read; empty: any non-empty message). Any other exception is a
/// bug in the library, reported as a crash. WARD_FUZZ_VERBOSE=1 prints each refusal.
template <class F>
void expect_ward_error_only(const std::string& where, F&& f) {
    try {
        f();
    } catch (const ward::error& e) {
        const std::string msg = e.what();
        static const bool verbose = std::getenv("WARD_FUZZ_VERBOSE") != nullptr;  // to see why seeds are refused
        if (verbose) std::fprintf(stderr, "refused: %s\n", msg.c_str());
        if (msg.empty()) fail(std::string("ward::error (") + typeid(e).name() + ") with an empty message");
        if (!where.empty() && msg.find(where) == std::string::npos)
            fail(std::string("ward::error (") + typeid(e).name() + ") does not name '" + where + "': " + msg);
    } catch (const std::exception& e) {
        fail(std::string("an exception that is not a ward::error escaped: ") + typeid(e).name() + ": " + e.what());
    }
}

}  // namespace ward::fuzz
