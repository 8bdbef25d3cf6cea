#pragma once
// RLHF under unsafe feedback (Rosati et al. 2024): preference data and the label-flipping attack,
// reward and cost models, PPO, DPO (and cDPO, rDPO, IPO), RLOO and best-of-n, and the defences that act
// on the RL objective (KL penalty, reward shaping, Lagrangian multipliers, refusal loss, online RepNoise
// and Lisa) as pieces that compose with + and *; the attack x defence experiment and its report.
#include "ward/rl/best_of_n.hpp"
#include "ward/rl/constraint.hpp"
#include "ward/rl/dpo.hpp"
#include "ward/rl/experiment.hpp"
#include "ward/rl/gae.hpp"
#include "ward/rl/kl.hpp"
#include "ward/rl/online_defence.hpp"
#include "ward/rl/ppo.hpp"
#include "ward/rl/ppo_loss.hpp"
#include "ward/rl/preference.hpp"
#include "ward/rl/reinforce.hpp"
#include "ward/rl/report.hpp"
#include "ward/rl/reward_model.hpp"
#include "ward/rl/rloo.hpp"
#include "ward/rl/rollout.hpp"
#include "ward/rl/scorer.hpp"
#include "ward/rl/sequence.hpp"
#include "ward/rl/state.hpp"
