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

BOOST_AUTO_TEST_SUITE(io_atomic_file)

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

BOOST_AUTO_TEST_CASE(stale_temporaries_of_one_target_are_removed_and_nothing_else) {
    TempDir dir;
    write_plain(dir.path / "ckpt.safetensors", "current");
    write_plain(dir.path / ".ckpt.safetensors.tmp-a1B2c3", "killed save");
    write_plain(dir.path / ".ckpt.safetensors.tmp-zzzzzz", "killed save");
    write_plain(dir.path / ".other.safetensors.tmp-a1B2c3", "another target's");
    write_plain(dir.path / ".ckpt.safetensors.tmp-toolong1", "not a temporary name");
    ward::io::remove_stale_temporaries(dir.path / "ckpt.safetensors");
    BOOST_TEST((dir.entries() == std::vector<std::string>{".ckpt.safetensors.tmp-toolong1", ".other.safetensors.tmp-a1B2c3", "ckpt.safetensors"}));
}

namespace {
/// A fill for write_directory_atomically: writes `files` (name, contents) into the staging directory.
auto writing(std::vector<std::pair<std::string, std::string>> files) {
    return [files](const fs::path& out) {
        for (const auto& [name, text] : files) write_atomically(out / name, text);
    };
}
bool carry_all_but_weights(const std::string& f) { return f.find("weights") == std::string::npos; }

ino_t inode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_ino;
}
}  // namespace

BOOST_AUTO_TEST_CASE(directory_is_created_whole_with_no_staging_left) {
    TempDir root;
    ward::io::write_directory_atomically(root.path / "model/", writing({{"weights-1", "a"}, {"config.json", "{}"}}), carry_all_but_weights);
    BOOST_TEST(root.entries() == std::vector<std::string>{"model"});
    BOOST_TEST(read_file(root.path / "model" / "weights-1") == "a");
    BOOST_TEST(read_file(root.path / "model" / "config.json") == "{}");
    BOOST_TEST(mode_of(root.path / "model") == 0755);
}

BOOST_AUTO_TEST_CASE(directory_replacement_keeps_what_it_carries_and_drops_the_rest) {
    TempDir root;
    const fs::path dir = root.path / "model";
    ward::io::write_directory_atomically(dir, writing({{"weights-1", "a1"}, {"weights-2", "a2"}, {"config.json", "A"}}),
                                         carry_all_but_weights);
    write_plain(dir / "tokenizer.json", "tok");
    fs::create_directories(dir / "extra" / "deep");
    write_plain(dir / "extra" / "deep" / "notes.txt", "n");
    ::chmod(dir.c_str(), 0750);
    const ino_t tokenizer_inode = inode_of(dir / "tokenizer.json");
    ward::io::write_directory_atomically(dir, writing({{"weights-1", "b1"}, {"config.json", "B"}}), carry_all_but_weights);
    BOOST_TEST(root.entries() == std::vector<std::string>{"model"});  // the old contents and the staging are gone
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    BOOST_TEST((names == std::vector<std::string>{"config.json", "extra", "tokenizer.json", "weights-1"}));  // weights-2 not carried
    BOOST_TEST(read_file(dir / "weights-1") == "b1");
    BOOST_TEST(read_file(dir / "config.json") == "B");
    BOOST_TEST(read_file(dir / "tokenizer.json") == "tok");
    BOOST_TEST(inode_of(dir / "tokenizer.json") == tokenizer_inode);  // carried as a hard link, not copied
    BOOST_TEST(read_file(dir / "extra" / "deep" / "notes.txt") == "n");
    BOOST_TEST(mode_of(dir) == 0750);
}

BOOST_AUTO_TEST_CASE(directory_fill_that_throws_leaves_the_old_directory) {
    TempDir root;
    const fs::path dir = root.path / "model";
    ward::io::write_directory_atomically(dir, writing({{"weights-1", "a"}}), carry_all_but_weights);
    auto failing = [](const fs::path& out) {
        write_atomically(out / "weights-1", "half");
        throw std::runtime_error("disk on fire");
    };
    BOOST_CHECK_THROW(ward::io::write_directory_atomically(dir, failing, carry_all_but_weights), std::runtime_error);
    BOOST_TEST(root.entries() == std::vector<std::string>{"model"});
    BOOST_TEST(read_file(dir / "weights-1") == "a");
}

BOOST_AUTO_TEST_CASE(directory_save_removes_what_a_killed_save_left_and_refuses_a_file) {
    TempDir root;
    const fs::path dir = root.path / "model";
    fs::create_directories(root.path / ".model.save-AbC123");  // a killed save's staging
    write_plain(root.path / ".model.save-AbC123" / "weights-1", "partial");
    fs::create_directories(root.path / ".model.save-keep-me");  // not a staging name
    ward::io::write_directory_atomically(dir, writing({{"weights-1", "a"}}), carry_all_but_weights);
    BOOST_TEST((root.entries() == std::vector<std::string>{".model.save-keep-me", "model"}));
    write_plain(root.path / "file", "x");
    const std::string msg = message_of<ward::io_error>(
        [&] { ward::io::write_directory_atomically(root.path / "file", writing({{"w", "a"}}), carry_all_but_weights); });
    BOOST_TEST(msg.find("it is a file") != std::string::npos, msg);
    BOOST_TEST(read_file(root.path / "file") == "x");
}

BOOST_AUTO_TEST_SUITE_END()
