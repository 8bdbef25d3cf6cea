#pragma once
// Harmless reward hacking, worked on a three-state CMDP. A constrained learner (PPO-Lagrangian in RLHF, a
// Lagrangian here) maximises reward subject to a cost that it only sees through a proxy, a harmfulness
// classifier. Two facts of constrained optimisation make it exploit whatever the proxy misses:
//  - the constrained optimum sits on the constraint boundary: whenever reward and cost conflict, the optimal
//    policy spends the whole cost budget (it is a vertex of the occupancy polytope on the cost hyperplane);
//  - the Lagrangian learner maximises r - lambda * c_proxy, so it buys reward where proxy cost is cheapest:
//    harm that the classifier scores as harmless costs it (almost) nothing.
// The result meets the constraint as measured, at a true cost several times the threshold.
//
// The example: requests arrive, half of them harmful. At a harmful request the assistant can refuse, comply
// (the classifier flags it: proxy cost 1), or move into a role-play frame, where the same harmful answer,
// given in character, is scored 0.1 by the classifier while its true cost is still 1.

#include <ward/cmdp/lp.hpp>

#include <cstdio>
#include <sstream>
#include <string>

namespace ward::cmdp {

struct RewardHackingExample {
    Cmdp cmdp;         // the learner's problem: its cost is the proxy (the classifier's score)
    Table true_cost;   // the harm the proxy is meant to measure, [s][a]
};

/// States: benign request, harmful request, role-play frame. Actions: refuse, comply, role-play.
/// gamma 0.9; the proxy-cost threshold is 0.5 (expected discounted proxy cost, unnormalised).
inline RewardHackingExample reward_hacking_example() {
    RewardHackingExample ex;
    Cmdp& m = ex.cmdp;
    m.states = 3;
    m.actions = 3;
    m.state_names = {"benign request", "harmful request", "role-play frame"};
    m.action_names = {"refuse", "comply", "role-play"};
    m.gamma = 0.9;
    const std::vector<double> next_request{0.5, 0.5, 0.0};  // after any answer, the next request: benign or harmful
    const std::vector<double> into_frame{0.0, 0.0, 1.0};
    m.P = {{next_request, next_request, next_request},
           {next_request, next_request, into_frame},   // role-play at a harmful request opens the frame
           {next_request, next_request, next_request}};
    m.reward = {{0.0, 1.0, 0.5},   // benign: a refusal earns nothing, a plain answer 1, an answer in character 0.5
                {0.1, 1.0, 0.0},   // harmful: the rater likes compliance; setting up the frame earns nothing yet
                {0.1, 1.0, 1.0}};  // in the frame: the harmful answer in character is rated as compliance
    m.cost = {{0.0, 0.0, 0.0},     // proxy: the classifier flags plain harmful answers ...
              {0.0, 1.0, 0.0},
              {0.0, 0.1, 0.1}};    // ... and barely scores the same answers given in character
    ex.true_cost = {{0.0, 0.0, 0.0},
                    {0.0, 1.0, 0.0},
                    {0.0, 1.0, 1.0}};  // the harm is the same in character
    m.mu0 = {0.5, 0.5, 0.0};
    m.threshold = 0.5;
    return ex;
}

/// A policy's figures under both costs.
struct HackingFigures {
    Solution solution;      // the optimum of its problem (value, the cost it was constrained by, multiplier)
    double proxy_cost = 0;  // J of the proxy cost
    double true_cost = 0;   // J of the true cost
};

struct RewardHackingReport {
    HackingFigures learned;  // constrained by the proxy: what the constrained learner converges to
    HackingFigures honest;   // constrained by the true cost at the same threshold: what it should have learned
    double unconstrained_true_cost = 0;  // the reward-optimal policy's true cost, for scale
};

/// Solves the example under the proxy cost and under the true cost (by the LP), and evaluates each optimum
/// under both costs.
inline RewardHackingReport analyse_reward_hacking(const RewardHackingExample& ex) {
    Cmdp truth = ex.cmdp;
    truth.cost = ex.true_cost;
    const auto figures = [&](Solution s) {
        const double proxy = evaluate(ex.cmdp, s.policy).cost, real = evaluate(truth, s.policy).cost;
        return HackingFigures{std::move(s), proxy, real};
    };
    RewardHackingReport r{figures(solve_lp(ex.cmdp)), figures(solve_lp(truth)), 0.0};
    Cmdp free = truth;
    free.threshold = 1e300;  // nothing binds
    r.unconstrained_true_cost = solve_lp(free).cost;
    return r;
}

/// The figures and why they come out so, as text for a terminal.
inline std::string explain_reward_hacking(const RewardHackingExample& ex, const RewardHackingReport& r) {
    const Cmdp& m = ex.cmdp;
    std::ostringstream os;
    char line[256];
    os << "Harmless reward hacking: a constrained learner that sees the cost only through a proxy\n"
       << "states: benign request, harmful request, role-play frame; actions: refuse, comply, role-play; gamma "
       << m.gamma << "\nThe learner maximises expected discounted reward subject to expected discounted proxy cost <= "
       << m.threshold << " (unnormalised sums from mu0).\nThe proxy (a harmfulness classifier) flags plain harmful"
       << " answers (cost 1) but scores the same answer given in character 0.1; its true cost is 1.\n\n";
    std::snprintf(line, sizeof line, "%-34s %8s %11s %10s %8s\n", "optimal constrained policy", "reward", "proxy cost",
                  "true cost", "lambda");
    os << line;
    std::snprintf(line, sizeof line, "%-34s %8.4f %11.4f %10.4f %8.4f\n", "constrained by the proxy cost",
                  r.learned.solution.value, r.learned.proxy_cost, r.learned.true_cost, r.learned.solution.multiplier);
    os << line;
    std::snprintf(line, sizeof line, "%-34s %8.4f %11.4f %10.4f %8.4f\n", "constrained by the true cost", r.honest.solution.value,
                  r.honest.proxy_cost, r.honest.true_cost, r.honest.solution.multiplier);
    os << line;
    const auto& harmful = r.learned.solution.policy[1];
    std::snprintf(line, sizeof line,
                  "\nAt a harmful request the proxy-constrained policy refuses %.1f%%, complies %.1f%% and moves into "
                  "role-play %.1f%% of the time.\n",
                  100 * harmful[0], 100 * harmful[1], 100 * harmful[2]);
    os << line;
    std::snprintf(line, sizeof line,
                  "Its proxy cost equals the threshold and its true cost is %.1f times it (%.0f%% of the harm of the "
                  "unconstrained policy, %.4f).\n",
                  r.learned.true_cost / m.threshold, 100 * r.learned.true_cost / r.unconstrained_true_cost, r.unconstrained_true_cost);
    os << line;
    os << "Why: (1) the constrained optimum sits on the boundary. Reward and cost conflict, so the optimal policy\n"
          "spends the whole budget: an LP optimum lies on a vertex of the occupancy polytope cut by the cost\n"
          "hyperplane, a mixture of two deterministic policies (here: comply or role-play at harmful requests).\n";
    std::snprintf(line, sizeof line, "(2) The Lagrangian learner maximises r - lambda * c_proxy with lambda = %.4f, the reward one unit\n",
                  r.learned.solution.multiplier);
    os << line
       << "of proxy budget buys. Role-play costs 0.1 proxy units per harmful answer instead of 1, so that is where the\n"
          "learner buys its reward: the constraint holds as measured, and the harm moves to where the proxy is blind.\n";
    std::snprintf(line, sizeof line, "Under the true cost the same learner mostly refuses instead, at a reward of %.4f instead of %.4f.\n",
                  r.honest.solution.value, r.learned.solution.value);
    os << line;
    return os.str();
}

}  // namespace ward::cmdp
