#pragma once
// Training progress on stderr: a bar redrawn in place on a terminal, plain lines (every
// `line_every` steps) when stderr is a file or a pipe.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace ward::train {

class Progress {
public:
    Progress(long total_steps, long line_every = 10, bool quiet = false)
        : total_(total_steps), line_every_(line_every), quiet_(quiet), tty_(isatty(fileno(stderr)) == 1),
          start_(std::chrono::steady_clock::now()) {}

    /// Reports step `step` (1-based) with its loss and the tokens processed so far.
    void update(long step, double loss, double tokens) {
        if (quiet_) return;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        double rate = secs > 0 ? tokens / secs : 0;
        if (tty_) {
            const int width = 30;
            int filled = total_ > 0 ? int(width * step / total_) : 0;
            std::string bar(std::size_t(filled), '#');
            bar.resize(width, '.');
            std::fprintf(stderr, "\r[%s] %ld/%ld loss %.4f %.0f tok/s", bar.c_str(), step, total_, loss, rate);
            if (step == total_) std::fprintf(stderr, "\n");
        } else if (step % line_every_ == 0 || step == total_) {
            std::fprintf(stderr, "step %ld/%ld loss %.4f %.0f tok/s\n", step, total_, loss, rate);
        }
        std::fflush(stderr);
    }
    void note(const std::string& line) {
        if (quiet_) return;
        std::fprintf(stderr, "%s%s\n", tty_ ? "\n" : "", line.c_str());
    }

private:
    long total_, line_every_;
    bool quiet_, tty_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace ward::train
