#pragma once
/// \file ward/cmdp.hpp
/// Tabular constrained MDPs (Altman 1999), the theory behind Lagrangian defences against unsafe feedback in
/// RLHF: the constrained optimum sits on the constraint boundary, and a Lagrangian learner spends its cost
/// budget wherever the cost signal is cheapest, including wherever the signal misses real harm. Needs
/// ward/core, Eigen, GLPK and (for JSON) nlohmann-json.
///
/// Every value is the unnormalised expected discounted sum from mu0, J = E[sum_t gamma^t x(s_t, a_t)]
/// (not multiplied by 1 - gamma); the constraint is J_c(pi) <= threshold in the same units.
///
/// Usage:
/// \code
///   #include <ward/cmdp.hpp>
///   namespace cmdp = ward::cmdp;
///
///   cmdp::Cmdp m = cmdp::read_json("problem.json");    // states, actions, gamma, P, reward, cost, mu0, threshold
///   cmdp::Evaluation e = cmdp::evaluate(m, pi);        // J_r, J_c of a policy pi[s][a] by one linear solve
///
///   cmdp::Solution lp = cmdp::solve_lp(m);             // occupancy-measure LP (GLPK); multiplier from the dual
///   cmdp::Solution bi = cmdp::solve_bisection(m);      // bisection on lambda, final mixture of two policies
///
///   cmdp::LagrangeMultiplier plain(cmdp::suggested_ascent(m));   // or LogLagrangeMultiplier, PidLagrangeMultiplier
///   cmdp::PrimalDualResult pd = cmdp::solve_primal_dual(m, plain, {.iterations = 10000});
///   // pd.solution: best mixture of the visited policies; pd.trace: lambda, J_r, J_c per iteration
///
///   // The multipliers alone, for a learner of any kind (e.g. PPO-Lagrangian on a language model):
///   cmdp::PidLagrangeMultiplier pid({.threshold = 0.1, .kp = 0.1, .ki = 0.01, .kd = 0.01});
///   double lambda = pid.update(measured_episode_cost);
///
///   auto ex = cmdp::reward_hacking_example();          // proxy cost vs true cost
///   std::cout << cmdp::explain_reward_hacking(ex, cmdp::analyse_reward_hacking(ex));
/// \endcode
///
/// Headers, one concept each: problem (the CMDP, validation, infeasible_error), evaluate (values, occupancy
/// measures, mixtures), mdp (policy iteration on any payoff), lp (the dual LP by GLPK), multiplier (the
/// Multiplier concept and its three forms; depends on nothing else here), lagrangian (primal-dual iteration
/// and bisection), reward_hacking (the worked example), json (reading CMDPs, writing solutions).
/// The program examples/cmdp.cpp solves a CMDP given as JSON and runs the worked example.

#include <ward/cmdp/evaluate.hpp>
#include <ward/cmdp/json.hpp>
#include <ward/cmdp/lagrangian.hpp>
#include <ward/cmdp/lp.hpp>
#include <ward/cmdp/mdp.hpp>
#include <ward/cmdp/multiplier.hpp>
#include <ward/cmdp/problem.hpp>
#include <ward/cmdp/reward_hacking.hpp>
