#pragma once

#include "ward/eval/classifier_judge.hpp"
#include "ward/eval/decodingtrust.hpp"
#include "ward/eval/judge.hpp"
#include "ward/eval/probe.hpp"
#include "ward/eval/report.hpp"
#include "ward/eval/split.hpp"
