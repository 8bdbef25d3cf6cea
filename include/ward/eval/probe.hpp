#pragma once
// Depth probes: how well a linear classifier tells harmful from harmless sequences at each layer.
// Each sequence is pooled to one vector per layer (the mean over its real positions, or its last
// real token), the pooled vectors are split train/test (seeded, stratified), standardised with the
// train split's statistics, and one L2-regularised logistic regression per layer is fitted by
// Newton's method (IRLS) in double precision; the result is the train and held-out accuracy per
// layer. The objective, for features x_i, labels y_i in {0, 1} and n training rows:
//   (1/n) sum_i [log(1 + exp(z_i)) - y_i z_i] + (l2 / 2) |w|^2,   z_i = w . x_i + b  (b not penalised)
// It is strictly convex for l2 > 0, so Newton with a backtracking line search finds its minimum.
//
// Layer numbering follows ForwardResult::hidden: layer l is the output of block l (0-based), so a
// model with L blocks gives L probes; with include_embedding the embedding output comes first (L + 1
// probes, block l's output at l + 1).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "ward/autograd/var.hpp"
#include "ward/core/error.hpp"
#include "ward/eval/split.hpp"
#include "ward/nn/transformer.hpp"
#include "ward/tensor.hpp"

namespace ward::eval {

enum class Pooling { mean, last };

struct LogisticOptions {
    double l2 = 1e-2;
    int max_iter = 100;
    double tol = 1e-16;  // stop when half the squared Newton decrement (the predicted decrease) falls below this
};

struct LogisticFit {
    Eigen::VectorXd w;
    double b = 0;
    int iterations = 0;
    bool converged = false;
};

/// Minimises the objective above for X (n, d) and y (n) by Newton's method.
inline LogisticFit fit_logistic(const Eigen::MatrixXd& X, const std::vector<int>& y, const LogisticOptions& opt = {}) {
    const Eigen::Index n = X.rows(), d = X.cols();
    if (n == 0 || static_cast<std::size_t>(n) != y.size())
        throw shape_error("fit_logistic: " + std::to_string(n) + " rows of features for " + std::to_string(y.size()) + " labels");
    if (!(opt.l2 > 0)) throw value_error("fit_logistic: l2 must be positive, got " + std::to_string(opt.l2));
    if (!X.allFinite()) throw value_error("fit_logistic: the features hold NaN or infinite values");
    Eigen::VectorXd yv(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        const int v = y[static_cast<std::size_t>(i)];
        if (v != 0 && v != 1) throw value_error("fit_logistic: label " + std::to_string(v) + " at row " + std::to_string(i));
        yv(i) = v;
    }
    if (yv.sum() == 0 || yv.sum() == double(n)) throw value_error("fit_logistic: the labels hold one class only");
    // theta = (w, b); the bias is the last column of A = [X 1].
    Eigen::MatrixXd A(n, d + 1);
    A.leftCols(d) = X;
    A.col(d).setOnes();
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(d + 1), reg = Eigen::VectorXd::Constant(d + 1, opt.l2);
    reg(d) = 0;
    auto objective = [&](const Eigen::VectorXd& t) {
        const Eigen::VectorXd z = A * t;
        double s = 0;
        for (Eigen::Index i = 0; i < n; ++i) s += std::max(z(i), 0.0) + std::log1p(std::exp(-std::abs(z(i)))) - yv(i) * z(i);
        return s / double(n) + 0.5 * (reg.array() * t.array().square()).sum();
    };
    LogisticFit fit;
    double f = objective(theta);
    for (fit.iterations = 0; fit.iterations < opt.max_iter; ++fit.iterations) {
        const Eigen::VectorXd z = A * theta;
        Eigen::VectorXd p(n), s(n);
        for (Eigen::Index i = 0; i < n; ++i) {
            p(i) = 1.0 / (1.0 + std::exp(-z(i)));
            s(i) = p(i) * (1 - p(i));
        }
        const Eigen::VectorXd g = A.transpose() * (p - yv) / double(n) + reg.cwiseProduct(theta);
        Eigen::MatrixXd H = A.transpose() * s.asDiagonal() * A / double(n);
        H.diagonal() += reg;
        H(d, d) += 1e-12;  // the bias's curvature vanishes only when every p saturates
        const Eigen::VectorXd step = H.ldlt().solve(g);
        const double decrement = g.dot(step);
        if (decrement / 2 < opt.tol) {
            fit.converged = true;
            break;
        }
        double t = 1;
        Eigen::VectorXd next = theta - step;
        double fn = objective(next);
        while (fn > f - 0.25 * t * decrement && t > 1e-10) {
            t /= 2;
            next = theta - t * step;
            fn = objective(next);
        }
        theta = next;
        f = fn;
    }
    fit.w = theta.head(d);
    fit.b = theta(d);
    return fit;
}

/// (B, T, C) -> (B, C): the mean over the positions where mask (B, T) is 1, or the last such
/// position. No mask: every position is real. A row without real positions is a value_error.
inline Eigen::MatrixXd pool_sequences(const Tensor<float>& layer, const Tensor<float>& mask = {}, Pooling pooling = Pooling::mean,
                                      const std::string& what = "layer") {
    if (layer.rank() != 3) throw shape_error("pool_sequences: " + what + " must be (B, T, C), got " + layer.shape().str());
    const index_t B = layer.size(0), T = layer.size(1), C = layer.size(2);
    if (mask.defined() && !(mask.shape() == Shape{B, T}))
        throw shape_error("pool_sequences: mask " + mask.shape().str() + " does not match " + what + " " + layer.shape().str());
    const std::vector<float> x = layer.contiguous().to_vector();
    const std::vector<float> m = mask.defined() ? mask.contiguous().to_vector() : std::vector<float>(static_cast<std::size_t>(B * T), 1.f);
    Eigen::MatrixXd out = Eigen::MatrixXd::Zero(B, C);
    for (index_t b = 0; b < B; ++b) {
        index_t count = 0, last = -1;
        for (index_t t = 0; t < T; ++t) {
            if (m[static_cast<std::size_t>(b * T + t)] == 0.f) continue;
            ++count;
            last = t;
            if (pooling == Pooling::mean)
                for (index_t c = 0; c < C; ++c) out(b, c) += double(x[static_cast<std::size_t>((b * T + t) * C + c)]);
        }
        if (count == 0) throw value_error("pool_sequences: row " + std::to_string(b) + " of " + what + " has no real positions");
        if (pooling == Pooling::mean) out.row(b) /= double(count);
        else
            for (index_t c = 0; c < C; ++c) out(b, c) = double(x[static_cast<std::size_t>((b * T + last) * C + c)]);
    }
    return out;
}

struct ProbeOptions {
    Pooling pooling = Pooling::mean;
    double test_fraction = 0.3;
    std::uint64_t seed = 0;
    std::vector<int> groups = {};    // per row of [harmful; harmless]: split by whole groups (empty: stratified by class)
    bool include_embedding = false;  // probe the embedding output too, as layer 0 (blocks are then 1 .. L)
    bool standardize = true;  // per feature, by the train split's mean and standard deviation
    LogisticOptions logistic{};
};

struct ProbeResult {
    std::vector<double> train_accuracy, test_accuracy;  // one per layer
    std::vector<LogisticFit> fits;                      // the probes (on standardised features if asked)
    std::vector<std::size_t> train, test;               // rows of [harmful; harmless] in each split
    std::size_t harmful = 0, harmless = 0;
};

/// Probes pooled features: harmful[l] (n_h, C_l) and harmless[l] (n_b, C_l) per layer l.
inline ProbeResult probe_pooled(const std::vector<Eigen::MatrixXd>& harmful, const std::vector<Eigen::MatrixXd>& harmless,
                                const ProbeOptions& opt = {}) {
    if (harmful.empty() || harmful.size() != harmless.size())
        throw shape_error("probe: " + std::to_string(harmful.size()) + " harmful layers and " + std::to_string(harmless.size()) +
                          " harmless layers (the same positive number needed)");
    ProbeResult r;
    r.harmful = static_cast<std::size_t>(harmful[0].rows());
    r.harmless = static_cast<std::size_t>(harmless[0].rows());
    std::vector<int> labels(r.harmful, 1);
    labels.resize(r.harmful + r.harmless, 0);
    if (!opt.groups.empty() && opt.groups.size() != labels.size())
        throw shape_error("probe: " + std::to_string(opt.groups.size()) + " groups for " + std::to_string(labels.size()) + " rows");
    const Split split = opt.groups.empty() ? stratified_split(labels, opt.test_fraction, opt.seed)
                                           : grouped_split(labels, opt.groups, opt.test_fraction, opt.seed);
    r.train = split.train;
    r.test = split.test;
    auto labels_of = [&](const std::vector<std::size_t>& idx) {
        std::vector<int> y;
        for (auto i : idx) y.push_back(labels[i]);
        return y;
    };
    const std::vector<int> ytr = labels_of(r.train), yte = labels_of(r.test);
    for (std::size_t l = 0; l < harmful.size(); ++l) {
        const auto& H = harmful[l];
        const auto& N = harmless[l];
        if (static_cast<std::size_t>(H.rows()) != r.harmful || static_cast<std::size_t>(N.rows()) != r.harmless ||
            H.cols() != N.cols())
            throw shape_error("probe: layer " + std::to_string(l) + " has " + std::to_string(H.rows()) + "x" +
                              std::to_string(H.cols()) + " harmful and " + std::to_string(N.rows()) + "x" +
                              std::to_string(N.cols()) + " harmless features; layer 0 has " + std::to_string(r.harmful) +
                              " and " + std::to_string(r.harmless) + " rows");
        Eigen::MatrixXd all(H.rows() + N.rows(), H.cols());
        all << H, N;
        auto rows = [&](const std::vector<std::size_t>& idx) {
            Eigen::MatrixXd m(static_cast<Eigen::Index>(idx.size()), all.cols());
            for (std::size_t k = 0; k < idx.size(); ++k) m.row(static_cast<Eigen::Index>(k)) = all.row(static_cast<Eigen::Index>(idx[k]));
            return m;
        };
        Eigen::MatrixXd Xtr = rows(r.train), Xte = rows(r.test);
        if (opt.standardize) {
            const Eigen::RowVectorXd mu = Xtr.colwise().mean();
            Eigen::RowVectorXd sd = ((Xtr.rowwise() - mu).array().square().colwise().sum() / double(Xtr.rows())).sqrt();
            for (Eigen::Index c = 0; c < sd.size(); ++c)
                if (!(sd(c) > 1e-12)) sd(c) = 1;  // a constant feature stays constant (zero)
            Xtr = (Xtr.rowwise() - mu).array().rowwise() / sd.array();
            Xte = (Xte.rowwise() - mu).array().rowwise() / sd.array();
        }
        LogisticFit fit = fit_logistic(Xtr, ytr, opt.logistic);
        auto accuracy = [&](const Eigen::MatrixXd& X, const std::vector<int>& y) {
            const Eigen::VectorXd z = (X * fit.w).array() + fit.b;
            std::size_t right = 0;
            for (Eigen::Index i = 0; i < z.size(); ++i) right += (z(i) > 0) == (y[static_cast<std::size_t>(i)] == 1);
            return y.empty() ? 0.0 : double(right) / double(y.size());
        };
        r.train_accuracy.push_back(accuracy(Xtr, ytr));
        r.test_accuracy.push_back(accuracy(Xte, yte));
        r.fits.push_back(std::move(fit));
    }
    return r;
}

/// Probes per-layer representations (B, T, C), e.g. ForwardResult::hidden; masks (B, T) mark the
/// real positions (undefined: all real).
inline ProbeResult probe_layers(const std::vector<Tensor<float>>& harmful_layers, const std::vector<Tensor<float>>& harmless_layers,
                                const ProbeOptions& opt = {}, const Tensor<float>& harmful_mask = {},
                                const Tensor<float>& harmless_mask = {}) {
    std::vector<Eigen::MatrixXd> h, n;
    for (std::size_t l = 0; l < harmful_layers.size(); ++l)
        h.push_back(pool_sequences(harmful_layers[l], harmful_mask, opt.pooling, "harmful layer " + std::to_string(l)));
    for (std::size_t l = 0; l < harmless_layers.size(); ++l)
        n.push_back(pool_sequences(harmless_layers[l], harmless_mask, opt.pooling, "harmless layer " + std::to_string(l)));
    return probe_pooled(h, n, opt);
}

/// Pooled per-layer features of token-id sequences under `model`: one (n, C) matrix per block, after
/// one for the embedding output when asked. Sequences run in right-padded batches with a padding
/// mask; causal attention means a real position never sees the padding, and pooling skips it.
template <FloatElement T, Device D>
std::vector<Eigen::MatrixXd> pooled_layers(const nn::CausalLM<T, D>& model, const std::vector<std::vector<std::int64_t>>& seqs,
                                           Pooling pooling = Pooling::mean, index_t batch_size = 8, std::int64_t pad_id = 0,
                                           bool include_embedding = false) {
    if (batch_size <= 0) throw value_error("pooled_layers: batch_size must be positive");
    ag::NoGrad ng;
    const std::size_t first = include_embedding ? 1 : 0;
    const auto L = static_cast<std::size_t>(model.config.layers) + first;
    const auto C = static_cast<Eigen::Index>(model.config.hidden);
    std::vector<Eigen::MatrixXd> out(L, Eigen::MatrixXd(static_cast<Eigen::Index>(seqs.size()), C));
    for (std::size_t start = 0; start < seqs.size(); start += static_cast<std::size_t>(batch_size)) {
        const std::size_t stop = std::min(seqs.size(), start + static_cast<std::size_t>(batch_size));
        index_t Tn = 0;
        for (std::size_t i = start; i < stop; ++i) {
            if (seqs[i].empty()) throw value_error("pooled_layers: sequence " + std::to_string(i) + " is empty");
            Tn = std::max<index_t>(Tn, static_cast<index_t>(seqs[i].size()));
        }
        const index_t B = static_cast<index_t>(stop - start);
        std::vector<std::int64_t> ids(static_cast<std::size_t>(B * Tn), pad_id);
        std::vector<T> mask(ids.size(), T(0));
        for (index_t b = 0; b < B; ++b) {
            const auto& s = seqs[start + static_cast<std::size_t>(b)];
            for (std::size_t t = 0; t < s.size(); ++t) {
                ids[static_cast<std::size_t>(b * Tn) + t] = s[t];
                mask[static_cast<std::size_t>(b * Tn) + t] = T(1);
            }
        }
        const Tensor<T> host_mask = Tensor<T>::from_vector(mask, {B, Tn});
        nn::ForwardContext<T, D> ctx;
        ctx.padding_mask = on_device<D>(host_mask);
        auto r = model.forward(on_device<D>(Tensor<std::int64_t>::from_vector(ids, {B, Tn})), {.collect_layers = true}, {}, ctx);
        const Tensor<float> fmask = Tensor<float>(cast<float>(host_mask));
        for (std::size_t l = 0; l < L; ++l) {
            const Tensor<float> h =
                on_device<cpu>(Tensor<float, D>(cast<float>((l < first ? r.embedded : r.hidden[l - first]).value())));
            out[l].middleRows(static_cast<Eigen::Index>(start), B) = pool_sequences(h, fmask, pooling, "layer " + std::to_string(l));
        }
    }
    return out;
}

/// Runs `model` on harmful and harmless token sequences and probes every block's output.
template <FloatElement T, Device D>
ProbeResult probe_layers(const nn::CausalLM<T, D>& model, const std::vector<std::vector<std::int64_t>>& harmful,
                         const std::vector<std::vector<std::int64_t>>& harmless, const ProbeOptions& opt = {},
                         index_t batch_size = 8) {
    return probe_pooled(pooled_layers(model, harmful, opt.pooling, batch_size, 0, opt.include_embedding),
                        pooled_layers(model, harmless, opt.pooling, batch_size, 0, opt.include_embedding), opt);
}

}  // namespace ward::eval
