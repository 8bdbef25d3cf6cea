// Atomic writes: new and replaced files, the mode a file gets, and every way a save can fail
// (the writer throws, the disk fills up, the directory is missing, the process is killed mid-save),
// after each of which the previous file must be intact and no temporary file may be left behind.
#include <boost/test/unit_test.hpp>

#include <ward/io/atomic_file.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_message.hpp"

namespace fs = std::filesystem;
using ward::io::write_atomically;

namespace {

/// A fresh directory under the system's temp dir, removed with everything in it at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ward-atomic-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    /// Names of the files in the directory, sorted.
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int mode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return static_cast<int>(st.st_mode & 0777);
}

void write_plain(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

using ward::testing::message_of;

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(writes_a_new_file_with_ordinary_permissions) {
    TempDir dir;
    fs::path target = dir.path / "new.bin";
    std::string payload("header\0binary\xff tail", 19);
    write_atomically(target, payload);
    BOOST_TEST(read_file(target) == payload);
    BOOST_TEST(mode_of(target) == 0644);
    BOOST_TEST(dir.entries() == std::vector<std::string>{"new.bin"});
}

BOOST_AUTO_TEST_CASE(stream_writer_replaces_the_old_contents_and_keeps_its_mode) {
    TempDir dir;
    fs::path target = dir.path / "ckpt";
    write_plain(target, "old contents that are longer than the new ones");
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write);
    write_atomically(target, [](std::ostream& out) {
        out << "new ";
        std::string big(300000, 'x');  // larger than the stream buffer: takes the direct-write path
        out.write(big.data(), static_cast<std::streamsize>(big.size()));
        out << " end";
    });
    std::string got = read_file(target);
    BOOST_TEST(got.size() == 4u + 300000u + 4u);
    BOOST_TEST(got.substr(0, 4) == "new ");
    BOOST_TEST(got.substr(got.size() - 4) == " end");
    BOOST_TEST(mode_of(target) == 0600);
    BOOST_TEST(dir.entries() == std::vector<std::string>{"ckpt"});
}

BOOST_AUTO_TEST_CASE(writer_that_throws_leaves_the_old_file_and_no_temporary) {
    TempDir dir;
    fs::path target = dir.path / "state.safetensors";
    write_plain(target, "previous checkpoint");
    BOOST_CHECK_THROW(write_atomically(target,
                                       [](std::ostream& out) {
                                           out << std::string(100000, 'y');  // part of the new file is on disk
                                           throw std::logic_error("writer failed part-way");
                                       }),
                      std::logic_error);
    BOOST_TEST(read_file(target) == "previous checkpoint");
    BOOST_TEST(dir.entries() == std::vector<std::string>{"state.safetensors"});
}

BOOST_AUTO_TEST_CASE(full_disk_is_an_io_error_naming_the_file_and_the_old_file_survives) {
    TempDir dir;
    fs::path target = dir.path / "big.bin";
    write_plain(target, "small old file");
    // A file-size limit makes write() fail with EFBIG part-way, as a full disk makes it fail with ENOSPC.
    struct rlimit old_limit {};
    ::getrlimit(RLIMIT_FSIZE, &old_limit);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    ::setrlimit(RLIMIT_FSIZE, &small);
    std::string msg = message_of<ward::io_error>([&] { write_atomically(target, std::string(1 << 20, 'z')); });
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    BOOST_TEST(msg.find(target.string()) != std::string::npos, msg);
    BOOST_TEST(msg.find("File too large") != std::string::npos, msg);
    BOOST_TEST(read_file(target) == "small old file");
    BOOST_TEST(dir.entries() == std::vector<std::string>{"big.bin"});
}

BOOST_AUTO_TEST_CASE(missing_directory_is_an_io_error_naming_the_path) {
    TempDir dir;
    fs::path target = dir.path / "no" / "such" / "dir" / "file.bin";
    std::string msg = message_of<ward::io_error>([&] { write_atomically(target, "x"); });
    BOOST_TEST(msg.find(target.string()) != std::string::npos, msg);
    BOOST_TEST(msg.find("No such file or directory") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(target_that_is_a_directory_fails_and_cleans_up) {
    TempDir dir;
    fs::create_directory(dir.path / "occupied");
    write_plain(dir.path / "occupied" / "inside", "keep me");
    std::string msg = message_of<ward::io_error>([&] { write_atomically(dir.path / "occupied", "x"); });
    BOOST_TEST(msg.find("occupied") != std::string::npos, msg);
    BOOST_TEST(msg.find("renaming") != std::string::npos, msg);
    BOOST_TEST(dir.entries() == std::vector<std::string>{"occupied"});
    BOOST_TEST(read_file(dir.path / "occupied" / "inside") == "keep me");
}

BOOST_AUTO_TEST_CASE(process_killed_mid_save_leaves_the_previous_file_intact) {
    TempDir dir;
    fs::path target = dir.path / "model.safetensors";
    write_plain(target, "the last good checkpoint");
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {  // child: write half a file, then die the way a preempted job dies
        write_atomically(target, [](std::ostream& out) {
            out << std::string(200000, 'n');
            out.flush();
            ::raise(SIGKILL);
        });
        ::_exit(0);  // not reached
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST(read_file(target) == "the last good checkpoint");
    // The only other thing left is the dead writer's hidden temporary, which no reader opens.
    auto names = dir.entries();
    BOOST_TEST_REQUIRE(names.size() == 2u);
    BOOST_TEST(names[0].rfind(".model.safetensors.tmp-", 0) == 0u, names[0]);
    BOOST_TEST(names[1] == "model.safetensors");
    // The next save succeeds regardless.
    write_atomically(target, "resumed");
    BOOST_TEST(read_file(target) == "resumed");
}

BOOST_AUTO_TEST_CASE(relative_path_in_the_working_directory) {
    TempDir dir;
    fs::path previous = fs::current_path();
    fs::current_path(dir.path);
    write_atomically("plain-name.txt", "in cwd");
    fs::current_path(previous);
    BOOST_TEST(read_file(dir.path / "plain-name.txt") == "in cwd");
    BOOST_TEST(dir.entries() == std::vector<std::string>{"plain-name.txt"});
}

BOOST_AUTO_TEST_CASE(remove_durably_removes_a_file_ignores_a_missing_one_and_reports_failure) {
    TempDir dir;
    write_plain(dir.path / "stale.safetensors", "old weights");
    write_plain(dir.path / "keep", "k");
    ward::io::remove_durably(dir.path / "stale.safetensors");
    BOOST_TEST(dir.entries() == std::vector<std::string>{"keep"});
    ward::io::remove_durably(dir.path / "stale.safetensors");  // already gone: nothing to do
    BOOST_TEST(dir.entries() == std::vector<std::string>{"keep"});
    fs::create_directory(dir.path / "full");  // a non-empty directory cannot be removed as a file
    write_plain(dir.path / "full" / "inside", "x");
    std::string msg = message_of<ward::io_error>([&] { ward::io::remove_durably(dir.path / "full"); });
    BOOST_TEST(msg.find((dir.path / "full").string()) != std::string::npos, msg);
    BOOST_TEST(read_file(dir.path / "full" / "inside") == "x");
}

BOOST_AUTO_TEST_SUITE_END()
