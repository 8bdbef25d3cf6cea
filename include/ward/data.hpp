#pragma once
// Synthetic data: vocabularies, world models and preference worlds for small end-to-end runs.

#include "ward/data/preference_world.hpp"
#include "ward/data/synthetic.hpp"
#include "ward/data/vocabulary.hpp"
#include "ward/data/world_model.hpp"
