// Crash safety, for real: a child process (crash_child.cpp) trains with a checkpoint after every
// step, or saves a sharded model again and again, and is killed with SIGKILL at random moments, 200
// times per case (50 under AddressSanitizer). After every kill what is on disk must be the old state or the new one, complete:
// the checkpoint loads (weights, optimiser, the loop's history and the procedure's own state), its
// step never goes back and at most one temporary file is left; the saved directory loads and equals
// one of the two models bitwise, with a file the save did not write still beside it. A run killed
// over and over is then let finish, and its final checkpoint must be byte-identical to that of a run
// never interrupted: the resumed training is bit-identical.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crash_world.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ward;
using ward_test::read_file;
using Clock = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer the test takes three times as long: 50 kills per case still reach every phase
// of a save, and the Release build's 200 cover the rarer timings.
constexpr int kills_per_case = 50;
#else
constexpr int kills_per_case = 200;
#endif

/// crash_child, built beside this test's executable.
std::string child_path() {
    static const std::string path = (fs::read_symlink("/proc/self/exe").parent_path() / "crash_child").string();
    return path;
}

/// This process's environment with OMP_NUM_THREADS=1: the child's runs are tiny, and OpenMP threads
/// that spin-wait for a core another process holds would make them a hundred times slower.
std::vector<std::string> child_environment() {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("OMP_NUM_THREADS=", 0) != 0) env.emplace_back(*e);
    env.emplace_back("OMP_NUM_THREADS=1");
    return env;
}

/// Starts crash_child `mode` `where`; with stdout_fd, the child's standard output goes there.
pid_t spawn_child(const std::string& mode, const fs::path& where, int stdout_fd = -1) {
    const std::string exe = child_path();
    static std::vector<std::string> env = child_environment();
    std::vector<std::string> args = {exe, mode, where.string()};
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    if (stdout_fd >= 0) ::posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    pid_t pid = 0;
    const int err = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    if (err) throw std::runtime_error("posix_spawn " + exe + ": " + std::strerror(err));
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw std::runtime_error("waitpid failed");
    return status;
}

/// Runs the child to its end: true when it exited with 0.
bool run_to_end(const std::string& mode, const fs::path& where) {
    const int status = wait_status(spawn_child(mode, where));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Starts the child, kills it after `delay` unless it has ended by then: true when it was killed.
bool kill_after(const std::string& mode, const fs::path& where, std::chrono::microseconds delay, bool& finished_ok) {
    const pid_t pid = spawn_child(mode, where);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);  // a child that already exited is a zombie until waited for: the kill is harmless
    const int status = wait_status(pid);
    finished_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/// Starts the child, waits for the line it prints when it is about to start saving, then kills it
/// after `delay`: the kills land relative to its saves, however long its start-up took on a loaded
/// machine. True when it was killed (not when it had died before saying it was ready).
bool kill_after_ready(const std::string& mode, const fs::path& where, std::chrono::microseconds delay) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    const pid_t pid = spawn_child(mode, where, fds[1]);
    ::close(fds[1]);
    char c = 0;
    ssize_t got = 0;
    while ((got = ::read(fds[0], &c, 1)) < 0 && errno == EINTR) {}
    ::close(fds[0]);
    if (got == 1) std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    const int status = wait_status(pid);
    return got == 1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Entries of `dir` whose names start with `prefix`.
int count_prefixed(const fs::path& dir, const std::string& prefix) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(prefix, 0) == 0;
    return n;
}

/// Loads the checkpoint as the loop would (everything checked, the procedure's state included) and
/// checks it is at or after `last_step`; returns its step (0 when there is none yet).
std::int64_t check_checkpoint(const std::string& mode, const fs::path& file, std::int64_t last_step) {
    BOOST_TEST(count_prefixed(file.parent_path(), "." + file.filename().string() + ".tmp-") <= 1);
    if (!fs::exists(file)) {
        BOOST_TEST(last_step == 0);
        return 0;
    }
    nn::CausalLM<float> model(crash_world::config(), 3);
    auto params = nn::parameters<float, cpu>(model);
    optim::AdamW<float> adam(params, {});
    train::CheckpointInfo info;
    if (mode == "lisa") {
        defence::detail::LisaAnchor<float, cpu> anchor{&params, {}};
        for (const auto& p : params) anchor.weights.push_back(p.value.clone());
        info = train::load_checkpoint(file, params, adam, nullptr, &anchor);
    } else {
        info = train::load_checkpoint(file, params, adam);
    }
    BOOST_TEST(info.step >= last_step);
    BOOST_TEST(info.metadata.count("loop.history") == 1u);
    return info.step;
}

/// Kills the training loop `mode` kills_per_case times; each run killed over and over is let finish
/// and compared with an uninterrupted one.
void kill_training(const std::string& mode) {
    ward_test::TempDir dir("ward-crash-" + mode);
    const fs::path reference = dir.path / "reference.safetensors", file = dir.path / "run.safetensors";
    const auto start = Clock::now();
    BOOST_REQUIRE(run_to_end(mode, reference));
    const double whole_run = seconds_since(start);
    const std::string expected = read_file(reference);
    BOOST_REQUIRE(!expected.empty());

    std::mt19937_64 rng(0x6b696c6c);
    // Kill within the first half of a whole run's time: most kills land part-way through training,
    // and so during or between checkpoint writes, while each attempt still makes some progress.
    std::uniform_int_distribution<long> delay_us(0, static_cast<long>(whole_run * 0.5e6));
    int kills = 0, runs = 0;
    std::int64_t steps_seen = 0;
    while (kills < kills_per_case) {
        fs::remove(file);
        std::int64_t step = 0;
        for (bool finished = false; !finished;) {
            if (kills < kills_per_case) {
                bool exited_ok = false;
                if (kill_after(mode, file, std::chrono::microseconds(delay_us(rng)), exited_ok)) {
                    ++kills;
                } else {  // it ended before the kill
                    BOOST_REQUIRE(exited_ok);
                    finished = true;
                }
            } else {  // enough kills: let this run finish
                BOOST_REQUIRE(run_to_end(mode, file));
                finished = true;
            }
            step = check_checkpoint(mode, file, step);
        }
        steps_seen += step;
        ++runs;
        BOOST_TEST((read_file(file) == expected), mode << " run " << runs << ": the resumed run's final checkpoint differs");
    }
    BOOST_TEST_MESSAGE(mode << ": " << kills << " kills over " << runs << " runs (a whole run takes " << whole_run << " s)");
    BOOST_TEST(steps_seen == runs * crash_world::steps);
}

/// The parameters of a model, in its order.
std::vector<std::vector<float>> weights_of(nn::CausalLM<float>& model) {
    std::vector<std::vector<float>> out;
    for (const auto& p : nn::parameters<float, cpu>(model)) out.push_back(p.value.to_vector());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_crash_safety)

BOOST_AUTO_TEST_CASE(killed_lm_training_resumes_bit_identically) { kill_training("lm"); }

BOOST_AUTO_TEST_CASE(killed_defence_training_resumes_bit_identically) { kill_training("defence"); }

BOOST_AUTO_TEST_CASE(killed_lisa_resumes_bit_identically) { kill_training("lisa"); }

BOOST_AUTO_TEST_CASE(killed_sharded_save_leaves_the_old_or_the_new_model) {
    ward_test::TempDir root("ward-crash-save");
    const fs::path dir = root.path / "model";
    std::vector<std::vector<float>> expected[2];
    for (int i = 0; i < 2; ++i) {
        nn::CausalLM<float> m = crash_world::model(i);
        expected[i] = weights_of(m);
    }
    BOOST_REQUIRE(expected[0] != expected[1]);
    double one_save = 0;
    {
        nn::CausalLM<float> first = crash_world::model(0);
        const auto start = Clock::now();
        nn::save_pretrained(first, dir, crash_world::save_options());
        nn::save_pretrained(first, dir, crash_world::save_options());  // a replacement, as the child does
        one_save = seconds_since(start) / 2;
    }
    const std::string tokenizer = R"({"model": {"type": "BPE"}})";
    io::write_atomically(dir / "tokenizer.json", tokenizer);
    // The child saves model 0, then 1, then 0 ...: kills spread over the time of eight saves as
    // measured here, counted from when it says it starts. Model 1 is on disk from the end of its
    // second save to the end of its third, and so on, so its saves may be three times slower than
    // measured and the kills still land on both models.
    std::mt19937_64 rng(0x73617665);
    std::uniform_int_distribution<long> delay_us(0, static_cast<long>(8 * one_save * 1e6));
    int kills = 0, seen[2] = {0, 0};
    while (kills < kills_per_case) {
        BOOST_REQUIRE(kill_after_ready("save", dir, std::chrono::microseconds(delay_us(rng))));
        ++kills;
        nn::CausalLM<float> loaded = nn::load_causal_lm<float>(dir);  // throws on a torn or mixed checkpoint
        const auto w = weights_of(loaded);
        const int which = w == expected[0] ? 0 : w == expected[1] ? 1 : -1;
        BOOST_TEST(which >= 0, "after kill " << kills << " the directory holds neither model");
        if (which >= 0) ++seen[which];
        BOOST_TEST(read_file(dir / "tokenizer.json") == tokenizer);
        BOOST_TEST(count_prefixed(root.path, ".model.save-") <= 1);  // what a kill leaves, removed by the next save
    }
    BOOST_TEST_MESSAGE("sharded save: " << kills << " kills, model 0 found " << seen[0] << " times, model 1 " << seen[1]);
    BOOST_TEST(seen[0] > 0);  // the kills did land on both sides of a replacement
    BOOST_TEST(seen[1] > 0);
}

BOOST_AUTO_TEST_SUITE_END()
