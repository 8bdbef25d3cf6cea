#pragma once
// Evaluation of defences: judges of harmfulness, harmfulness of generations, depth probes, the
// defence x attack experiment and its report.

#include "ward/eval/classifier_judge.hpp"
#include "ward/eval/decodingtrust.hpp"
#include "ward/eval/experiment.hpp"
#include "ward/eval/harmfulness.hpp"
#include "ward/eval/judge.hpp"
#include "ward/eval/probe.hpp"
#include "ward/eval/report.hpp"
#include "ward/eval/split.hpp"
