#pragma once
// Learning-rate schedules: functions of the step number returning a multiplier of the base lr,
// with Hugging Face transformers' conventions (get_*_schedule_with_warmup): `step` counts the
// optimizer steps already taken, so the first step uses schedule(0), which is 0 during warmup.
//
//   optim::WarmupCosine sched{.warmup_steps = 100, .total_steps = 10'000, .min_ratio = 0.1};
//   opt.set_lr_multiplier(sched(opt.step_count()));
//   opt.step();

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <numbers>
#include <string>

#include "ward/core/error.hpp"

namespace ward::optim {

/// A schedule maps a step number to an lr multiplier.
template <class S>
concept Schedule = requires(const S& s, std::int64_t step) {
    { s(step) } -> std::convertible_to<double>;
};

namespace detail {
inline void check_step(std::int64_t step) {
    if (step < 0) throw value_error("lr schedule: negative step " + std::to_string(step));
}
inline void check_steps(std::int64_t warmup, std::int64_t total) {
    if (warmup < 0) throw value_error("lr schedule: negative warmup_steps " + std::to_string(warmup));
    if (total < warmup)
        throw value_error("lr schedule: total_steps " + std::to_string(total) + " is less than warmup_steps " +
                          std::to_string(warmup));
}
inline void check_ratio(double r, const char* what) {
    if (!(r >= 0 && r <= 1)) throw value_error(std::string("lr schedule: ") + what + " must lie in [0, 1], got " + std::to_string(r));
}
/// step / warmup during warmup (0 at step 0), 1 afterwards.
inline double warmup_factor(std::int64_t step, std::int64_t warmup) {
    return step < warmup ? static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup)) : 1.0;
}
}  // namespace detail

/// Always 1.
struct ConstantSchedule {
    double operator()(std::int64_t step) const {
        detail::check_step(step);
        return 1.0;
    }
};

/// Linear warmup from 0 to 1 over warmup_steps, then constant (get_constant_schedule_with_warmup).
struct LinearWarmup {
    std::int64_t warmup_steps = 0;
    double operator()(std::int64_t step) const {
        detail::check_step(step);
        detail::check_steps(warmup_steps, warmup_steps);
        return detail::warmup_factor(step, warmup_steps);
    }
};

/// Linear warmup, then linear decay to final_ratio at total_steps, and final_ratio after it
/// (get_linear_schedule_with_warmup when final_ratio = 0; warmup_steps = 0 is plain linear decay).
struct WarmupLinearDecay {
    std::int64_t warmup_steps = 0;
    std::int64_t total_steps = 0;
    double final_ratio = 0.0;
    double operator()(std::int64_t step) const {
        detail::check_step(step);
        detail::check_steps(warmup_steps, total_steps);
        detail::check_ratio(final_ratio, "final_ratio");
        if (step < warmup_steps) return detail::warmup_factor(step, warmup_steps);
        double remaining = static_cast<double>(std::max<std::int64_t>(0, total_steps - step)) /
                           static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
        return final_ratio + (1.0 - final_ratio) * remaining;
    }
};

/// Linear warmup, then half a cosine from 1 down to min_ratio at total_steps, and min_ratio after
/// it (get_cosine_with_min_lr_schedule_with_warmup; min_ratio = 0 is get_cosine_schedule_with_warmup).
struct WarmupCosine {
    std::int64_t warmup_steps = 0;
    std::int64_t total_steps = 0;
    double min_ratio = 0.0;
    double operator()(std::int64_t step) const {
        detail::check_step(step);
        detail::check_steps(warmup_steps, total_steps);
        detail::check_ratio(min_ratio, "min_ratio");
        if (step < warmup_steps) return detail::warmup_factor(step, warmup_steps);
        double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
        progress = std::min(progress, 1.0);
        double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
        return min_ratio + (1.0 - min_ratio) * cosine;
    }
};

/// The lr a schedule gives at `step` for a base lr.
template <Schedule S>
double scheduled_lr(const S& schedule, double base_lr, std::int64_t step) {
    return base_lr * schedule(step);
}

}  // namespace ward::optim
