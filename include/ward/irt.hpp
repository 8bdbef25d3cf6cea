#pragma once
/// \file ward/irt.hpp
/// Benchmark stitching ("A Rosetta Stone for AI Benchmarks", Ho, Denain, Atanasov et al., Epoch AI 2025):
/// an item-response model that puts model capabilities and benchmark difficulties on one scale, and the
/// analyses built on it. Needs ward/core, Eigen and (for summary.json) nlohmann-json only.
///
/// The model: y_hat(m, b) = floor_b + (ceil_b - floor_b) * sigmoid(alpha_b * (C_m - D_b)), fitted by
/// bounded least squares with the penalty lambda/P * |theta|^2 (or by the binomial likelihood for
/// per-question 0/1 data, the classic 2PL), the scale fixed by an anchor benchmark (Winogrande by default:
/// slope 1, difficulty shifted to 0) or by two anchor models.
///
/// Usage:
/// \code
///   #include <ward/irt.hpp>
///   namespace irt = ward::irt;
///
///   irt::Dataset data = irt::read_epoch("data/benchmark-stitching");  // the paper's table (shipped with ward)
///   // or: irt::read_long_csv("scores.csv")  (model, benchmark, score [, release_date, compute, family])
///   std::cout << data.report.str();                 // every dropped/clipped/merged row, counted
///
///   irt::FitResult fit = irt::fit(data);            // lambda 0.1, anchor Winogrande, bounds as the paper
///   auto boot = irt::bootstrap(data, {}, fit, {.replicates = 1000, .seed = 1});   // 95% percentile CIs
///   auto prof = irt::profile_intervals(data, fit);  // C_m moved until its own SSE rises 5%
///
///   irt::EciScale eci = irt::eci_scale(data, fit.capability);        // Claude 3.5 Sonnet (Oct) 130, GPT-5 (high) 150
///   irt::Trend trend = irt::frontier_trend(data, fit.capability);     // frontier + OLS slope per year
///   auto band = irt::forecast(trend.line, {2026.0, 2027.0});           // mean and prediction bands
///   auto bt = irt::backtest(data, fit.capability, 2024.67);            // the paper's: cutoff 2024-09-01
///   auto bp = irt::fit_breakpoint(trend.frontier.date, trend.frontier.capability);  // acceleration?
///   bool paper_says = irt::meets(bp, irt::PaperRule{});               // ratio >= 2, R^2 >= 0.6, 3 after
///   auto run = irt::running_max_frontier(data, fit.capability);
///   auto scan = irt::scan_for_acceleration(run.date, run.capability); // the paper's scan, first hit
///   auto eff = irt::algorithmic_efficiency(data, fit.capability);     // needs compute + families
///
///   io::write_atomically("out/capabilities.csv", irt::capabilities_csv(data, fit, &boot.capability_low,
///                                                                      &boot.capability_high, &eci));
///   irt::plot_capabilities("out", data, fit, trend, band, nullptr, nullptr, &eci);  // gnuplot, when installed
///
///   // The paper's simulated worlds, and both rules' power and false-positive rate:
///   auto study = irt::detection_study(irt::paper_detection_world(4.0), 200, /*seed=*/1);
/// \endcode
///
/// Headers, one concept each: csv (RFC 4180 reader), date (decimal years), dataset (table + builder +
/// filters + load report), long_csv (long/wide CSV, metadata join), epoch (the Epoch layout, as the paper builds its table),
/// model (parameters, objective, residuals, sparse Jacobian), fit (bounded LM, Schur complement),
/// bootstrap, profile, eci (the Epoch Capabilities Index), stats (OLS, t/F distributions), trend (frontier,
/// running maximum, forecast, backtest), efficiency, breakpoint, detection (the F-test rule and the paper's
/// rule), simulate, acceleration (detection study), report (CSV/JSON, atomic writes), plot (gnuplot).
/// The example program examples/rosetta.cpp runs the whole pipeline.

#include <ward/irt/acceleration.hpp>
#include <ward/irt/bootstrap.hpp>
#include <ward/irt/breakpoint.hpp>
#include <ward/irt/csv.hpp>
#include <ward/irt/dataset.hpp>
#include <ward/irt/date.hpp>
#include <ward/irt/detection.hpp>
#include <ward/irt/eci.hpp>
#include <ward/irt/efficiency.hpp>
#include <ward/irt/epoch.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/long_csv.hpp>
#include <ward/irt/model.hpp>
#include <ward/irt/plot.hpp>
#include <ward/irt/profile.hpp>
#include <ward/irt/report.hpp>
#include <ward/irt/simulate.hpp>
#include <ward/irt/stats.hpp>
#include <ward/irt/trend.hpp>
