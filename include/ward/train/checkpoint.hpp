#pragma once
// Training checkpoints: one safetensors file holding the model's parameters (under their own
// names, so the file is also a plain weights file), the optimiser's state (under "optim."), the
// generator's position, the step count and whatever state a training procedure keeps besides
// (a CheckpointState, e.g. Lisa's anchor weights), written atomically. A run that loads its last
// checkpoint continues bit-identically on the CPU.
//
//   train::save_checkpoint("ckpt.safetensors", params, opt, {.step = step, .generator = &gen});
//   auto info = train::load_checkpoint("ckpt.safetensors", params, opt, &gen);   // info.step

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include "ward/core/error.hpp"
#include "ward/core/rng.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/optim/optimizer.hpp"
#include "ward/optim/parameter.hpp"

namespace ward::train {

inline constexpr const char* optimizer_prefix = "optim.";

struct CheckpointExtras {
    std::int64_t step = 0;
    const Generator* generator = nullptr;      // its offset is saved, so dropout masks continue
    std::map<std::string, std::string> metadata = {};  // anything else the caller wants back
};

/// State a training procedure keeps besides weights and optimiser (tensors and metadata under a
/// prefix of its own): written with every checkpoint; on loading, `check` throws if the file does
/// not hold it (and changes nothing), then `read` restores it.
template <class S>
concept CheckpointState = requires(const S& cs, S& s, io::SafetensorsWriter& w, const io::SafetensorsFile& f) {
    cs.write(w);
    cs.check(f);
    s.read(f);
};

/// No state beyond weights and optimiser.
struct NoState {
    void write(io::SafetensorsWriter&) const {}
    void check(const io::SafetensorsFile&) const {}
    void read(const io::SafetensorsFile&) {}
};

struct CheckpointInfo {
    std::int64_t step = 0;
    std::map<std::string, std::string> metadata;  // the caller's metadata, as saved
};

namespace detail {
inline std::uint64_t parse_u64(const std::map<std::string, std::string>& md, const std::string& key,
                               const std::filesystem::path& file) {
    auto it = md.find(key);
    if (it == md.end()) throw parse_error(file.string() + ": checkpoint metadata lacks '" + key + "'");
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc() || p != it->second.data() + it->second.size())
        throw parse_error(file.string() + ": checkpoint metadata '" + key + "' is not a number: '" + it->second + "'");
    return v;
}
}  // namespace detail

/// Writes parameters, optimiser state, step, generator position and `state` to `path` atomically.
template <optim::Optimizer O, FloatElement T, Device D, CheckpointState S = NoState>
void save_checkpoint(const std::filesystem::path& path, const optim::ParameterList<T, D>& params, const O& opt,
                     const CheckpointExtras& extras = {}, const S& state = {}) {
    io::SafetensorsWriter w;
    for (const auto& p : params) w.add(p.name, p.value);
    opt.write_state(w, optimizer_prefix);
    state.write(w);
    w.add_metadata("ward.checkpoint.step", std::to_string(extras.step));
    if (extras.generator) w.add_metadata("ward.checkpoint.generator_offset", std::to_string(extras.generator->offset()));
    for (const auto& [k, v] : extras.metadata) w.add_metadata("user." + k, v);
    io::remove_stale_temporaries(path);  // a killed earlier save's, so repeated kills leave at most one
    w.save(path);
}

/// Restores what save_checkpoint wrote into existing parameters (in place, shapes and dtypes must
/// match), the optimiser, the generator and `state`. Everything is checked before anything is changed.
template <optim::Optimizer O, FloatElement T, Device D, CheckpointState S = NoState>
CheckpointInfo load_checkpoint(const std::filesystem::path& path, const optim::ParameterList<T, D>& params, O& opt,
                               Generator* generator = nullptr, S* state = nullptr) {
    io::SafetensorsFile f(path);
    const auto& md = f.metadata();
    for (const auto& p : params) {
        if (!f.contains(p.name)) throw parse_error(path.string() + ": checkpoint has no tensor '" + p.name + "'");
        const auto& info = f.info(p.name);
        if (!(info.shape == p.value.shape()))
            throw shape_error(path.string() + ": tensor '" + p.name + "' is " + info.shape.str() + " in the checkpoint but " +
                              p.value.shape().str() + " in the model");
        if (info.dtype != io::stored_dtype_of<T>())  // read_into would refuse it only after the others are read
            throw dtype_error(path.string() + ": tensor '" + p.name + "' is stored as " +
                              std::string(io::stored_dtype_name(info.dtype)) + ", the model's parameter is " +
                              std::string(io::stored_dtype_name(io::stored_dtype_of<T>())));
    }
    CheckpointInfo out;
    const std::uint64_t step = detail::parse_u64(md, "ward.checkpoint.step", path);
    if (step > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw parse_error(path.string() + ": checkpoint metadata 'ward.checkpoint.step' = " + std::to_string(step) +
                          " is out of range");
    out.step = static_cast<std::int64_t>(step);
    std::uint64_t offset = generator ? detail::parse_u64(md, "ward.checkpoint.generator_offset", path) : 0;
    if (state) state->check(f);
    opt.read_state(f, optimizer_prefix);  // checks itself fully before changing anything
    for (const auto& p : params) f.read_into(p.name, p.value);
    if (generator) generator->set_offset(offset);
    if (state) state->read(f);
    for (const auto& [k, v] : md)
        if (k.rfind("user.", 0) == 0) out.metadata[k.substr(5)] = v;
    return out;
}

}  // namespace ward::train
