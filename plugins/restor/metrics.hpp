// The scores restor reports, as pure functions over numbers so that each is
// tested on hand-computed cases: RESTOR's forgetting and recovery, and
// open-unlearning's truth ratio, forget quality (a two-sample KS test),
// exact memorisation, extraction strength, membership-inference scores and
// AUCs, and privleak. Engine-free.
#pragma once

#include <string>
#include <vector>

namespace restor {

// (acc_unlearned - acc_corrupt) / (acc_clean - acc_corrupt): 1 = the clean
// model's accuracy is back, 0 = no better than corrupt. NaN when corruption
// changed nothing (clean == corrupt): there is nothing to recover.
double recovery(double acc_unlearned, double acc_corrupt, double acc_clean);
// The drop in the rate of corrupted answers: (rate_before - rate_after) /
// rate_before (1 = none left). NaN when there were none before.
double forgetting(double rate_before, double rate_after);

// Truth ratio of one question: P̃(wrong) / P̃(right), each the per-token
// normalised probability exp(mean log p) (open-unlearning's form; with
// several wrong answers their mean log-probabilities are averaged first).
double truth_ratio(double mean_logprob_right, const std::vector<double>& mean_logprobs_wrong);
// Aggregates: mean of min(R, 1/R) (forget: 1 = cannot tell) and mean of
// max(0, 1 - R) (retain: 1 = always prefers the truth).
double truth_ratio_forget(const std::vector<double>& ratios);
double truth_ratio_retain(const std::vector<double>& ratios);

// The two-sample Kolmogorov-Smirnov statistic and its exact two-sided
// p-value (the probability, under equal distributions, that a random
// interleaving of the two samples reaches a distance >= D: scipy's ks_2samp
// with method="exact"), by a walk over the n x m lattice.
double ks_statistic(std::vector<double> a, std::vector<double> b);
double ks_pvalue(const std::vector<double>& a, const std::vector<double>& b);

// The share of answer positions whose argmax is the answer's token.
double exact_memorisation(const std::vector<bool>& hits);
// 1 - k/n for the smallest k whose suffix of teacher-forced argmax
// predictions all match (open-unlearning's; 1/n when none does, 1 when all).
double extraction_strength(const std::vector<bool>& hits);

// Membership-inference scores, oriented as losses (higher = less likely a
// member): LOSS = mean NLL; zlib = mean NLL / zlib-compressed length of the
// text; Min-K% = -mean of the lowest ceil-free max(1, floor(k n)) token log-probs.
double mia_loss(const std::vector<double>& token_logprobs);
double mia_zlib(const std::vector<double>& token_logprobs, const std::string& text);
double mia_min_k(std::vector<double> token_logprobs, double k);
// P(score(holdout) > score(forget)) + 0.5 P(tie): the AUC of telling forget
// (members) from holdout (non-members) by the score; 0.5 = cannot tell.
double mia_auc(const std::vector<double>& forget, const std::vector<double>& holdout);
// MUSE's privleak: ((1 - AUC) - (1 - AUC_ref)) / (1 - AUC_ref) * 100;
// 0 = like the reference (the model that never saw the forget set).
double privleak(double auc, double auc_reference);

double mean(const std::vector<double>& v);

}  // namespace restor
