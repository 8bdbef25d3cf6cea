#pragma once
// The optimal constrained policy by linear programming over discounted occupancy measures (Altman 1999,
// the dual LP), solved by GLPK's simplex. In the unnormalised form used throughout ward/cmdp:
//
//   maximise    sum_{s,a} d(s,a) r(s,a)
//   subject to  sum_a d(s',a) - gamma sum_{s,a} P(s'|s,a) d(s,a) = mu0(s')   for every s'   (flow)
//               sum_{s,a} d(s,a) c(s,a) <= threshold                                         (cost)
//               d >= 0
//
// so sum d = 1 / (1 - gamma) and the objective is J_r itself. The optimal policy is d(s,a) / sum_a d(s,a).
// A basic solution has at most |S| + 1 positive entries, so with the cost row active the policy randomises
// in at most one state: the mixture of two deterministic policies that the constrained optimum is. The dual value of the cost row is the Lagrange
// multiplier lambda* = dJ*/d threshold: the reward one more unit of cost budget buys.

#include <ward/cmdp/evaluate.hpp>

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace ward::cmdp {

namespace detail {

struct GlpkProblemDeleter {
    void operator()(glp_prob* p) const { glp_delete_prob(p); }
};

/// Silences GLPK's terminal output for a scope (glp_std_basis and friends print regardless of msg_lev).
struct GlpkQuiet {
    int previous = glp_term_out(GLP_OFF);
    ~GlpkQuiet() { glp_term_out(previous); }
};

struct OccupancyLp {
    int status = 0;  // GLP_OPT, GLP_NOFEAS, ...
    Table d;
    double objective = 0, cost_dual = 0;
};

/// Optimises sum d * objective (maximise or minimise) over the flow polytope, with the cost row when
/// `with_cost_row`. The CMDP must be valid, so GLPK gets only well-formed input (its own errors abort).
inline OccupancyLp solve_occupancy_lp(const Cmdp& m, const Table& objective, bool maximise, bool with_cost_row) {
    const GlpkQuiet quiet;
    const std::unique_ptr<glp_prob, GlpkProblemDeleter> lp(glp_create_prob());
    const int S = static_cast<int>(m.states), A = static_cast<int>(m.actions);
    const int rows = S + (with_cost_row ? 1 : 0), cols = S * A;
    glp_set_obj_dir(lp.get(), maximise ? GLP_MAX : GLP_MIN);
    glp_add_rows(lp.get(), rows);
    glp_add_cols(lp.get(), cols);
    for (int s = 0; s < S; ++s) {
        const double b = m.mu0[static_cast<std::size_t>(s)];
        glp_set_row_bnds(lp.get(), s + 1, GLP_FX, b, b);
    }
    if (with_cost_row) glp_set_row_bnds(lp.get(), S + 1, GLP_UP, 0.0, m.threshold);

    // Column (s, a): +1 in its own flow row, -gamma P(s'|s,a) in row s' (summed: GLPK wants each entry
    // once), c(s, a) in the cost row. Arrays are 1-based; element 0 is unused.
    std::vector<int> ia{0}, ja{0};
    std::vector<double> ar{0.0};
    std::vector<double> column(static_cast<std::size_t>(S));
    for (int s = 0; s < S; ++s)
        for (int a = 0; a < A; ++a) {
            const int j = s * A + a + 1;
            const auto us = static_cast<std::size_t>(s), ua = static_cast<std::size_t>(a);
            glp_set_col_bnds(lp.get(), j, GLP_LO, 0.0, 0.0);
            glp_set_obj_coef(lp.get(), j, objective[us][ua]);
            for (std::size_t t = 0; t < m.states; ++t) column[t] = -m.gamma * m.P[us][ua][t];
            column[us] += 1.0;
            for (int t = 0; t < S; ++t)
                if (column[static_cast<std::size_t>(t)] != 0) {
                    ia.push_back(t + 1);
                    ja.push_back(j);
                    ar.push_back(column[static_cast<std::size_t>(t)]);
                }
            if (with_cost_row && m.cost[us][ua] != 0) {
                ia.push_back(S + 1);
                ja.push_back(j);
                ar.push_back(m.cost[us][ua]);
            }
        }
    glp_load_matrix(lp.get(), static_cast<int>(ar.size()) - 1, ia.data(), ja.data(), ar.data());

    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;  // with the presolver off an infeasible LP reports GLP_NOFEAS, not an error code
    glp_std_basis(lp.get());
    const int rc = glp_simplex(lp.get(), &parm);
    if (rc != 0) throw backend_error("cmdp::solve_lp: GLPK's simplex failed (glp_simplex returned " + std::to_string(rc) + ")");

    OccupancyLp out;
    out.status = glp_get_status(lp.get());
    if (out.status != GLP_OPT) return out;
    out.objective = glp_get_obj_val(lp.get());
    if (with_cost_row) out.cost_dual = glp_get_row_dual(lp.get(), S + 1);
    out.d.assign(m.states, std::vector<double>(m.actions));
    for (int s = 0; s < S; ++s)
        for (int a = 0; a < A; ++a)
            out.d[static_cast<std::size_t>(s)][static_cast<std::size_t>(a)] = glp_get_col_prim(lp.get(), s * A + a + 1);
    return out;
}

}  // namespace detail

/// The least expected discounted cost any policy achieves from mu0 (the LP without the cost row).
inline double minimum_cost(const Cmdp& m) {
    validate(m);
    const detail::OccupancyLp lp = detail::solve_occupancy_lp(m, m.cost, /*maximise=*/false, /*with_cost_row=*/false);
    if (lp.status != GLP_OPT) throw backend_error("cmdp::minimum_cost: GLPK found no optimum (status " + std::to_string(lp.status) + ")");
    return lp.objective;
}

/// The optimal constrained policy, its values and the multiplier of the cost constraint (the LP dual).
/// Throws infeasible_error, with the minimum achievable cost, when no policy meets the threshold.
inline Solution solve_lp(const Cmdp& m) {
    validate(m);
    const detail::OccupancyLp lp = detail::solve_occupancy_lp(m, m.reward, /*maximise=*/true, /*with_cost_row=*/true);
    if (lp.status == GLP_NOFEAS) throw infeasible_error("cmdp::solve_lp", m.threshold, minimum_cost(m));
    if (lp.status != GLP_OPT) throw backend_error("cmdp::solve_lp: GLPK found no optimum (status " + std::to_string(lp.status) + ")");
    // For a maximisation GLPK's row dual is d objective / d bound: >= 0 on a <= row; clear a round-off sign.
    double multiplier = std::max(0.0, lp.cost_dual);
    // When the best policy without the constraint already meets it, every lambda in [0, dual] prices the
    // constraint correctly and GLPK may return any of them: report 0, the reward the budget's edge costs.
    if (multiplier > 0) {
        const detail::OccupancyLp free = detail::solve_occupancy_lp(m, m.reward, /*maximise=*/true, /*with_cost_row=*/false);
        if (free.status == GLP_OPT && free.objective <= lp.objective + 1e-9 * (1 + std::abs(lp.objective))) multiplier = 0;
    }
    return make_solution(m, policy_from_occupancy(m, lp.d), multiplier);
}

}  // namespace ward::cmdp
