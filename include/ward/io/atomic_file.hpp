#pragma once
// Atomic file writes: the new contents go to a temporary file in the target's directory, which is
// flushed, fsync'ed and renamed over the target, and the directory is fsync'ed so the rename
// itself survives a crash. Readers see the old file or the complete new one, never a torn one;
// when anything fails (a full disk, an exception thrown by the caller's writer part-way, a kill
// before the rename) the old file is untouched and the temporary file is removed (a kill -9
// leaves at most a hidden `.<name>.tmp-XXXXXX` next to it, which no reader opens).
// remove_durably takes a file away with the same care (the removal is fsync'ed too).
// write_directory_atomically replaces a whole directory of files (a sharded checkpoint) the same
// way: the new contents are written into a fresh directory beside it and exchanged with the old one
// in a single rename.

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

#include "ward/core/error.hpp"

namespace ward::io {

namespace detail {

inline std::string errno_text(int err) { return std::string(std::strerror(err)); }

/// An output streambuf over a POSIX file descriptor (so the data can be fsync'ed, which
/// std::ofstream cannot do). Remembers the first write error instead of losing it in the stream
/// state, so the caller can report errno.
class FdStreambuf : public std::streambuf {
public:
    explicit FdStreambuf(int fd) : fd_(fd) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
    FdStreambuf(const FdStreambuf&) = delete;
    FdStreambuf& operator=(const FdStreambuf&) = delete;

    /// errno of the first failed write (0 when every write succeeded).
    int error() const { return error_; }

protected:
    int_type overflow(int_type ch) override {
        if (!flush_buffer()) return traits_type::eof();
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    int sync() override { return flush_buffer() ? 0 : -1; }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        // Large writes (tensor data) bypass the buffer.
        if (n >= static_cast<std::streamsize>(buffer_.size())) {
            if (!flush_buffer() || !write_all(s, static_cast<std::size_t>(n))) return 0;
            return n;
        }
        return std::streambuf::xsputn(s, n);
    }

private:
    int fd_;
    int error_ = 0;
    std::array<char, 1 << 16> buffer_{};

    bool flush_buffer() {
        std::size_t n = static_cast<std::size_t>(pptr() - pbase());
        bool ok = write_all(pbase(), n);
        setp(buffer_.data(), buffer_.data() + buffer_.size());
        return ok;
    }
    bool write_all(const char* p, std::size_t n) {
        if (error_) return false;
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                error_ = errno;
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }
};

/// fsync of a directory, which makes renames and removals in it durable: 0, or the errno of a real
/// I/O error. Some file systems cannot fsync a directory (EINVAL, EROFS); that is not an error.
inline int fsync_directory(const std::filesystem::path& dir) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return 0;
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    return rc != 0 && err != EINVAL && err != EROFS ? err : 0;
}

/// Owns the temporary file until it has been renamed into place; removes it otherwise.
class TempFile {
public:
    explicit TempFile(const std::filesystem::path& target) : target_(target) {
        std::filesystem::path dir = target.parent_path();
        if (dir.empty()) dir = ".";
        std::string name = ".";  // built with += : GCC 12 warns falsely (-Wrestrict) on "." + string
        name += target.filename().string();
        name += ".tmp-XXXXXX";
        std::string pattern = (dir / name).string();
        fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd_ < 0)
            throw io_error("cannot write '" + target.string() + "': creating a temporary file in '" + dir.string() +
                           "' failed: " + errno_text(errno));
        path_ = pattern;
        dir_ = dir;
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(path_.c_str());
    }

    int fd() const { return fd_; }

    /// fsync, close, rename over the target, fsync the directory.
    void commit() {
        // mkstemp creates mode 0600; a checkpoint should be readable like any file we write.
        // Keep the mode of the file being replaced, else rw-r--r--.
        struct stat st {};
        mode_t mode = ::stat(target_.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
        if (::fchmod(fd_, mode) != 0) fail("setting the mode of the temporary file");
        if (::fsync(fd_) != 0) fail("fsync of the temporary file");
        int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail("closing the temporary file");
        if (::rename(path_.c_str(), target_.c_str()) != 0) fail("renaming the temporary file over it");
        committed_ = true;
        sync_directory();
    }

    [[noreturn]] void fail(const std::string& what) const {
        int err = errno;
        throw io_error("cannot write '" + target_.string() + "': " + what + " ('" + path_ + "') failed: " +
                       errno_text(err));
    }

private:
    std::filesystem::path target_, dir_;
    std::string path_;
    int fd_ = -1;
    bool committed_ = false;

    /// Makes the rename durable; the file is in place by then, so only a real I/O error is reported.
    void sync_directory() const {
        if (int err = fsync_directory(dir_))
            throw io_error("wrote '" + target_.string() + "', but fsync of its directory '" + dir_.string() +
                           "' failed: " + errno_text(err));
    }
};

}  // namespace detail

/// Writes `path` atomically with whatever `write` puts into the stream. If `write` throws, the
/// exception propagates unchanged and the previous file (if any) is untouched. Throws io_error
/// (naming the path and the system's error text) when the file cannot be created, written, synced
/// or renamed.
inline void write_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
    detail::TempFile tmp(path);
    detail::FdStreambuf buf(tmp.fd());
    std::ostream out(&buf);
    write(out);
    out.flush();
    if (buf.error() != 0) {
        errno = buf.error();
        tmp.fail("writing the temporary file");
    }
    if (!out) throw io_error("cannot write '" + path.string() + "': the output stream failed");
    tmp.commit();
}

/// Removes `path` if it is there and makes the removal durable, so that a crash cannot bring back
/// a file removed to keep readers away from it. Throws io_error naming the path on failure.
inline void remove_durably(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::remove(path, ec)) {
        if (ec) throw io_error("cannot remove '" + path.string() + "': " + ec.message());
        return;  // it was not there
    }
    std::filesystem::path dir = path.parent_path();
    if (int err = detail::fsync_directory(dir.empty() ? "." : dir))
        throw io_error("removed '" + path.string() + "', but fsync of its directory failed: " + detail::errno_text(err));
}

/// Removes the temporary files that killed writes of `path` left behind (`.<name>.tmp-XXXXXX`).
/// For a writer that saves the same file again and again (a training checkpoint), so that repeated
/// kills do not pile them up; never call it while another process may be writing `path`.
inline void remove_stale_temporaries(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    const std::string prefix = "." + path.filename().string() + ".tmp-";
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string f = it->path().filename().string();
        if (f.size() == prefix.size() + 6 && f.compare(0, prefix.size(), prefix) == 0) {
            std::error_code ignored;
            fs::remove(it->path(), ignored);
        }
    }
}

/// Replaces the directory `dir` as a whole. `fill(staging)` writes the new contents into a fresh
/// directory beside it (`.<name>.save-XXXXXX`, e.g. with write_atomically); the entries of the old
/// `dir` that `fill` did not write and `carry(name)` accepts are carried over as hard links (copies
/// where linking fails), so files other writers put there (a tokenizer, a README) survive. The new
/// directory is fsync'ed and exchanged with the old one in one renameat2(RENAME_EXCHANGE), then the
/// old contents are removed. A reader, or a kill at any moment, finds `dir` holding the old contents
/// or the new, complete, never a mixture; what a killed save leaves is a hidden `.<name>.save-*`
/// directory, removed by the next save into `dir` (so run one save into a directory at a time). On
/// file systems without RENAME_EXCHANGE the old directory is first renamed aside, which leaves a
/// moment in which `dir` does not exist. If `fill` throws, `dir` is untouched.
inline void write_directory_atomically(const std::filesystem::path& dir, const std::function<void(const std::filesystem::path&)>& fill,
                                       const std::function<bool(const std::string&)>& carry) {
    namespace fs = std::filesystem;
    const fs::path target = dir.has_filename() ? dir : dir.parent_path();  // "out/model/" names "out/model"
    if (target.empty()) throw io_error("cannot write directory '" + dir.string() + "': it has no name");
    const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string name = target.filename().string(), prefix = "." + name + ".save-";
    fs::create_directories(parent);
    const bool replacing = fs::exists(target);
    if (replacing && !fs::is_directory(target)) throw io_error("cannot write directory '" + target.string() + "': it is a file");
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(parent)) {  // what killed saves left
        const std::string f = e.path().filename().string();
        if (f.size() == prefix.size() + 6 && f.compare(0, prefix.size(), prefix) == 0) fs::remove_all(e.path(), ec);
    }
    std::string pattern = (parent / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
        throw io_error("cannot write directory '" + target.string() + "': creating '" + pattern + "' failed: " + detail::errno_text(errno));
    const fs::path staging = pattern;
    struct RemoveStaging {  // until the exchange, the staging directory is ours to remove; after it, the old contents are
        const fs::path& path;
        ~RemoveStaging() {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    } cleanup{staging};
    auto fail = [&](const std::string& what, int err) {
        return io_error("cannot write directory '" + target.string() + "': " + what + " failed: " + detail::errno_text(err));
    };

    fill(staging);
    struct stat st {};
    const mode_t mode = replacing && ::stat(target.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0755;
    if (::chmod(staging.c_str(), mode) != 0) throw fail("setting the mode of '" + staging.string() + "'", errno);
    if (replacing)
        for (const auto& e : fs::directory_iterator(target)) {
            const std::string f = e.path().filename().string();
            if (fs::exists(fs::symlink_status(staging / f)) || !carry(f)) continue;
            const auto how = fs::copy_options::recursive | fs::copy_options::copy_symlinks;
            fs::copy(e.path(), staging / f, how | fs::copy_options::create_hard_links, ec);
            if (ec) {
                fs::remove_all(staging / f, ec);
                fs::copy(e.path(), staging / f, how, ec);
                if (ec) throw io_error("cannot write directory '" + target.string() + "': carrying '" + f + "' over failed: " + ec.message());
            }
        }
    if (int err = detail::fsync_directory(staging)) throw fail("fsync of '" + staging.string() + "'", err);

    if (!replacing) {
        if (::rename(staging.c_str(), target.c_str()) != 0) throw fail("renaming '" + staging.string() + "' into place", errno);
    } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
        if (errno != EINVAL && errno != ENOSYS) throw fail("exchanging '" + staging.string() + "' with it", errno);
        // No RENAME_EXCHANGE here: the old directory moves aside (over an empty one of ours), then the new one in.
        std::string aside = (parent / (prefix + "XXXXXX")).string();
        if (!::mkdtemp(aside.data())) throw fail("creating '" + aside + "'", errno);
        if (::rename(target.c_str(), aside.c_str()) != 0) throw fail("moving the old directory aside", errno);
        if (::rename(staging.c_str(), target.c_str()) != 0) {
            const int err = errno;
            (void)::rename(aside.c_str(), target.c_str());
            throw fail("renaming '" + staging.string() + "' into place", err);
        }
        fs::remove_all(aside, ec);
    }
    if (int err = detail::fsync_directory(parent))
        throw io_error("wrote directory '" + target.string() + "', but fsync of '" + parent.string() + "' failed: " + detail::errno_text(err));
}

/// Writes `bytes` to `path` atomically.
inline void write_atomically(const std::filesystem::path& path, std::string_view bytes) {
    write_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace ward::io
