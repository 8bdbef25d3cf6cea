#pragma once
// Judges of harmfulness, and one that runs a user's program. A judge scores (prompt, completion)
// pairs from 0 (harmless) to 1 (harmful); any type with score() and name() is one.
//
// ExternalCommandJudge hands the pairs to another process as JSON Lines, one
// {"prompt": ..., "completion": ...} object per line, and reads one number per line back from its
// stdout. The program is started with posix_spawnp, never through a shell, unless the caller asks
// for `sh -c` with ExternalCommandJudge::shell; input, output and error go through temporary
// files, so a program that reads everything before writing cannot deadlock on a full pipe.
//   ExternalCommandJudge j({"python3", "my_judge.py", "--input", "{input}"});  // {input}: the JSONL file
//   ExternalCommandJudge k({"python3", "my_judge.py"});                        // JSONL on stdin
//   auto scores = j.score(prompts, completions);

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"

extern char** environ;

namespace ward::eval {

// A judge scores each (prompt, completion) pair: 0 = harmless ... 1 = harmful.
template <class J>
concept Judge = requires(J& j, const std::vector<std::string>& prompts, const std::vector<std::string>& completions) {
    { j.score(prompts, completions) } -> std::convertible_to<std::vector<double>>;
    { j.name() } -> std::convertible_to<std::string>;
};

namespace detail {

/// prompts and completions pair up one to one.
inline void check_pairs(const std::string& who, const std::vector<std::string>& prompts,
                        const std::vector<std::string>& completions) {
    if (prompts.size() != completions.size())
        throw value_error(who + ": " + std::to_string(prompts.size()) + " prompts but " + std::to_string(completions.size()) +
                          " completions");
}

/// A file in the temporary directory, removed when this goes out of scope.
class ScratchFile {
public:
    explicit ScratchFile(const std::string& tag) {
        std::string pattern = (std::filesystem::temp_directory_path() / ("ward-judge-" + tag + "-XXXXXX")).string();
        int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd < 0) throw io_error("external judge: cannot create a temporary file '" + pattern + "': " + std::strerror(errno));
        ::close(fd);
        path_ = pattern;
    }
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;
    ~ScratchFile() { ::unlink(path_.c_str()); }
    const std::string& path() const { return path_; }
    std::string read() const {
        std::ifstream in(path_, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    std::string path_;
};

/// The last `n` characters of `s`, for error messages.
inline std::string tail(const std::string& s, std::size_t n = 600) {
    std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return t;
}

}  // namespace detail

struct ExternalCommandOptions {
    std::string name;           // the judge's name (default: the command line)
    double timeout_s = 0;       // kill the program after this many seconds (0: wait for ever)
    bool require_unit_interval = true;  // scores outside [0, 1] are an error
};

class ExternalCommandJudge {
public:
    /// argv[0] is looked up on $PATH and run with the arguments as given (no shell). An argument
    /// containing "{input}" has it replaced by the path of the JSONL file, and stdin is then
    /// /dev/null; otherwise the JSONL arrives on stdin.
    explicit ExternalCommandJudge(std::vector<std::string> argv, ExternalCommandOptions options = {})
        : argv_(std::move(argv)), options_(std::move(options)) {
        if (argv_.empty() || argv_[0].empty()) throw value_error("ExternalCommandJudge: no command given");
        if (options_.name.empty())
            for (const auto& a : argv_) options_.name += (options_.name.empty() ? "" : " ") + a;
        if (!(options_.timeout_s >= 0)) throw value_error("ExternalCommandJudge: timeout_s must be >= 0");
    }

    /// `/bin/sh -c command`: for pipelines and redirections, with the quoting the command itself has.
    static ExternalCommandJudge shell(const std::string& command, ExternalCommandOptions options = {}) {
        if (options.name.empty()) options.name = command;
        return ExternalCommandJudge({"/bin/sh", "-c", command}, std::move(options));
    }

    std::string name() const { return options_.name; }
    const std::vector<std::string>& argv() const { return argv_; }

    /// One score per pair, in order. No pairs: no process is started.
    std::vector<double> score(const std::vector<std::string>& prompts, const std::vector<std::string>& completions) const {
        detail::check_pairs("judge '" + name() + "'", prompts, completions);
        if (prompts.empty()) return {};
        detail::ScratchFile input("in"), output("out"), errors("err");
        {
            std::ofstream in(input.path(), std::ios::binary);
            for (std::size_t i = 0; i < prompts.size(); ++i) {
                nlohmann::json row = {{"prompt", prompts[i]}, {"completion", completions[i]}};
                // Text that is not UTF-8 is written with U+FFFD, not refused.
                in << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
            }
            in.flush();
            if (!in) throw io_error("judge '" + name() + "': cannot write its input file '" + input.path() + "'");
        }
        run(input.path(), output.path(), errors.path(), [&] { return errors.read(); });
        return parse(output.read(), prompts.size(), errors.read());
    }

private:
    std::vector<std::string> argv_;
    ExternalCommandOptions options_;

    template <class ReadErrors>
    void run(const std::string& input, const std::string& output, const std::string& errors, ReadErrors read_errors) const {
        bool by_path = false;
        std::vector<std::string> args = argv_;
        for (auto& a : args)
            for (std::size_t at; (at = a.find("{input}")) != std::string::npos; by_path = true) a.replace(at, 7, input);
        std::vector<char*> cargv;
        for (auto& a : args) cargv.push_back(a.data());
        cargv.push_back(nullptr);

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, by_path ? "/dev/null" : input.c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, output.c_str(), O_WRONLY | O_TRUNC, 0);
        posix_spawn_file_actions_addopen(&fa, 2, errors.c_str(), O_WRONLY | O_TRUNC, 0);
        pid_t pid = 0;
        const int rc = ::posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw io_error("judge '" + name() + "': cannot start '" + argv_[0] + "': " + std::strerror(rc));

        const auto start = std::chrono::steady_clock::now();
        int status = 0;
        bool timed_out = false;
        while (true) {
            const pid_t w = ::waitpid(pid, &status, options_.timeout_s > 0 ? WNOHANG : 0);
            if (w == pid) break;
            if (w < 0 && errno != EINTR) throw io_error("judge '" + name() + "': waitpid failed: " + std::strerror(errno));
            if (w == 0) {
                if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > options_.timeout_s) {
                    ::kill(pid, SIGKILL);
                    timed_out = true;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
        auto with_stderr = [&](std::string msg) {
            const std::string err = detail::tail(read_errors());
            return err.empty() ? msg : msg + "; its stderr ends: " + err;
        };
        if (timed_out)
            throw backend_error(with_stderr("judge '" + name() + "': killed after the timeout of " +
                                            std::to_string(options_.timeout_s) + " s"));
        if (WIFSIGNALED(status))
            throw backend_error(with_stderr("judge '" + name() + "': killed by signal " + std::to_string(WTERMSIG(status))));
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
            const int code = WEXITSTATUS(status);
            throw backend_error(with_stderr("judge '" + name() + "': exited with status " + std::to_string(code) +
                                            (code == 127 ? " (command not found?)" : "")));
        }
    }

    /// One finite number per line; trailing blank lines are ignored, any other line must be a number.
    std::vector<double> parse(const std::string& out, std::size_t expected, const std::string& errors) const {
        std::vector<std::string> lines;
        std::size_t begin = 0;
        while (begin < out.size()) {
            std::size_t end = out.find('\n', begin);
            if (end == std::string::npos) end = out.size();
            lines.push_back(out.substr(begin, end - begin));
            begin = end + 1;
        }
        auto blank = [](const std::string& s) { return s.find_first_not_of(" \t\r") == std::string::npos; };
        while (!lines.empty() && blank(lines.back())) lines.pop_back();
        const std::string who = "judge '" + name() + "'";
        if (lines.size() != expected) {
            std::string msg = who + ": printed " + std::to_string(lines.size()) + " lines for " + std::to_string(expected) +
                              " pairs (one number per line expected)";
            const std::string err = detail::tail(errors);
            throw parse_error(err.empty() ? msg : msg + "; its stderr ends: " + err);
        }
        std::vector<double> scores;
        scores.reserve(expected);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const std::string& l = lines[i];
            const std::size_t a = l.find_first_not_of(" \t\r"), b = l.find_last_not_of(" \t\r");
            double v = 0;
            std::from_chars_result r{};
            if (a != std::string::npos) r = std::from_chars(l.data() + a, l.data() + b + 1, v);
            const std::string shown = l.size() > 80 ? l.substr(0, 80) + "..." : l;
            if (a == std::string::npos || r.ec != std::errc() || r.ptr != l.data() + b + 1 || !std::isfinite(v))
                throw parse_error(who + ": output line " + std::to_string(i + 1) + " is not a finite number: '" + shown + "'");
            if (options_.require_unit_interval && (v < 0 || v > 1))
                throw value_error(who + ": output line " + std::to_string(i + 1) + " is " + shown + ", outside [0, 1]");
            scores.push_back(v);
        }
        return scores;
    }
};

/// A judge from a function of one pair, e.g. a keyword rule or a model already in memory.
template <class F>
    requires std::is_invocable_r_v<double, const F&, const std::string&, const std::string&>
class FunctionJudge {
public:
    FunctionJudge(std::string name, F f) : name_(std::move(name)), f_(std::move(f)) {}
    std::string name() const { return name_; }
    std::vector<double> score(const std::vector<std::string>& prompts, const std::vector<std::string>& completions) const {
        detail::check_pairs("judge '" + name_ + "'", prompts, completions);
        std::vector<double> out;
        out.reserve(prompts.size());
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            const double v = f_(prompts[i], completions[i]);
            if (!(v >= 0 && v <= 1))
                throw value_error("judge '" + name_ + "': pair " + std::to_string(i) + " scored " + std::to_string(v) +
                                  ", outside [0, 1]");
            out.push_back(v);
        }
        return out;
    }

private:
    std::string name_;
    F f_;
};

static_assert(Judge<ExternalCommandJudge>);

}  // namespace ward::eval
