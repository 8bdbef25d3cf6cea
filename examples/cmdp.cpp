// cmdp: the optimal policy of a tabular constrained MDP, and a worked example of harmless reward hacking.
//
//   cmdp --file problem.json [--method lp|lagrangian|log-lagrangian|pid|bisection] [--iterations N]
//   cmdp --example reward-hacking
//
// With --file it prints one JSON object: optimal_value (expected discounted reward of the optimal constrained
// policy), cost (its expected discounted cost), lagrange_multiplier, policy[s][a], and for the iterative
// methods the iterations, the iterates' mean lambda and the number of distinct policies visited. Values are
// unnormalised expected discounted sums from mu0, sum_t gamma^t r_t, not multiplied by (1 - gamma).
#include <ward/cmdp.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace cmdp = ward::cmdp;

namespace {

struct Args {
    std::string file, method = "lp", example;
    int iterations = 10000;
};

template <cmdp::Multiplier M>
nlohmann::json primal_dual(const cmdp::Cmdp& m, M multiplier, int iterations) {
    const cmdp::PrimalDualResult r = cmdp::solve_primal_dual(m, multiplier, {.iterations = iterations});
    nlohmann::json j = cmdp::to_json(r.solution);
    j["iterations"] = iterations;
    j["mean_iterate_multiplier"] = r.mean_multiplier;
    j["policies_visited"] = r.policies_visited;
    return j;
}

nlohmann::json solve(const cmdp::Cmdp& m, const Args& a) {
    if (a.method == "lp") return cmdp::to_json(cmdp::solve_lp(m));
    if (a.method == "bisection") return cmdp::to_json(cmdp::solve_bisection(m));
    if (a.method == "lagrangian") return primal_dual(m, cmdp::LagrangeMultiplier(cmdp::suggested_ascent(m)), a.iterations);
    if (a.method == "log-lagrangian") return primal_dual(m, cmdp::LogLagrangeMultiplier(cmdp::suggested_log_ascent(m)), a.iterations);
    return primal_dual(m, cmdp::PidLagrangeMultiplier(cmdp::suggested_pid(m)), a.iterations);
}

int run(const Args& a) {
    if (!a.example.empty()) {
        const cmdp::RewardHackingExample ex = cmdp::reward_hacking_example();
        std::cout << cmdp::explain_reward_hacking(ex, cmdp::analyse_reward_hacking(ex));
        // The same optimum from the learner's side: primal-dual iteration on the proxy cost alone.
        cmdp::PidLagrangeMultiplier pid(cmdp::suggested_pid(ex.cmdp));
        const cmdp::PrimalDualResult r = cmdp::solve_primal_dual(ex.cmdp, pid, {.iterations = a.iterations});
        cmdp::Cmdp truth = ex.cmdp;
        truth.cost = ex.true_cost;
        std::printf("\nA PID-Lagrangian learner that sees only the proxy (%d primal-dual iterations) reaches reward %.4f at proxy\n"
                    "cost %.4f and true cost %.4f, lambda %.4f.\n",
                    a.iterations, r.solution.value, r.solution.cost, cmdp::evaluate(truth, r.solution.policy).cost, r.solution.multiplier);
        return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const cmdp::Cmdp m = cmdp::read_json(a.file);
    nlohmann::json out;
    try {
        out = solve(m, a);
    } catch (const cmdp::infeasible_error& e) {  // name the file, as for malformed ones
        throw cmdp::infeasible_error(a.file, m.threshold, e.minimum_cost());
    }
    out["method"] = a.method;
    out["threshold"] = m.threshold;
    out["values"] = "unnormalised expected discounted sums from mu0";
    out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "cmdp: the optimal policy of a finite discounted constrained MDP, maximise J_r(pi) subject to J_c(pi) <= threshold.\n"
        "J_r and J_c are unnormalised expected discounted sums from mu0, E[sum_t gamma^t r(s_t, a_t)], not multiplied by\n"
        "(1 - gamma). The JSON file has: states, actions (counts or lists of names), gamma in [0, 1), P[s][a][s'],\n"
        "reward[s][a], cost[s][a], mu0[s], threshold; other fields are ignored. Prints one JSON object with\n"
        "optimal_value, cost, lagrange_multiplier and policy[s][a]."};
    Args a;
    auto* file = app.add_option("--file", a.file, "the CMDP as JSON")->check(CLI::ExistingFile);
    app.add_option("--method", a.method,
                   "lp: occupancy-measure LP by GLPK, multiplier from its dual (default); lagrangian: primal-dual iteration "
                   "with projected gradient ascent on lambda; log-lagrangian: ascent on log lambda; pid: the PID-Lagrangian "
                   "(Stooke et al. 2020); bisection: bisection on lambda. The iterative methods report the best mixture "
                   "of the policies they visited")
        ->check(CLI::IsMember({"lp", "lagrangian", "log-lagrangian", "pid", "bisection"}));
    app.add_option("--iterations", a.iterations, "primal-dual iterations (lagrangian, log-lagrangian, pid)")
        ->check(CLI::PositiveNumber);
    auto* example = app.add_option("--example", a.example, "reward-hacking: the worked example of harmless reward hacking")
                        ->check(CLI::IsMember({"reward-hacking"}));
    file->excludes(example);
    CLI11_PARSE(app, argc, argv);
    if (a.file.empty() && a.example.empty()) {
        std::cerr << "cmdp: give --file F.json or --example reward-hacking (see --help)\n";
        return 1;
    }
    try {
        return run(a);
    } catch (const ward::error& e) {
        std::cerr << "cmdp: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "cmdp: unexpected error: " << e.what() << "\n";
        return 2;
    }
}
