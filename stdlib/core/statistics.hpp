// Statistics ops report: the regularised incomplete beta function and
// Student's two-sample t-test (TCAV's significance test).
#pragma once

#include <ATen/ATen.h>

namespace pipette::stdlib {

// I_x(a, b), by its continued fraction (Lentz's method).
double incomplete_beta(double a, double b, double x);

// The two-sided p-value of Student's two-sample t-test with equal variances,
// as scipy.stats.ttest_ind computes it by default; NaN when both samples are
// constant and equal.
double t_test_p_value(const at::Tensor& a, const at::Tensor& b);

}  // namespace pipette::stdlib
