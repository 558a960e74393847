//===- PartialsReference.h - Independent mixed partials for tests -*- C++ -*-//
//
// Reference values for ntp's partials kernels: every partial derivative
// D^alpha f(x) of the MLP, and the Laplacian / biharmonic, by multivariate
// Taylor arithmetic in long double (truncated polynomials in d variables up
// to total order N; an activation sigma(y0 + h) = sum_k sigma^(k)(y0) h^k /
// k! with the derivatives from the univariate recurrences of
// TaylorReference). No code shared with the compiler and no interpolation:
// the coefficients of the polynomial are the partials.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_REFERENCE_PARTIALSREFERENCE_H
#define NTP_TEST_REFERENCE_PARTIALSREFERENCE_H

#include "TaylorReference.h"

#include <cstdint>
#include <vector>

namespace ntp_ref {

/// out[(p * batch + b) * q + j] = the request p of f_j at x_b, where a
/// request is a multi-index (entries >= 0, one per input), or an operator:
/// -2 (Laplacian) or -4 (biharmonic) in the coordinates it sums over, 0
/// elsewhere (the encoding of ntp_kernel_partials_get). Throws
/// std::invalid_argument on inconsistent sizes or malformed requests.
std::vector<long double>
partials(const std::vector<int> &widths, Activation act,
         const std::vector<long double> &params,
         const std::vector<long double> &x, int64_t batch,
         const std::vector<std::vector<int>> &requests);

/// The same for a network with typed layers (TaylorReference.h's Layers:
/// adaptive slopes, residual layers, the Fourier-feature embedding, the
/// modified MLP's gates) and one activation per hidden layer (acts.size()
/// == widths.size() - 2); params laid out as for jet(). sin and cos of the
/// embedding and the gates' products are multivariate Taylor arithmetic
/// too. Throws std::invalid_argument as above.
std::vector<long double>
partials(const std::vector<int> &widths, const std::vector<Activation> &acts,
         const Layers &layers, const std::vector<long double> &params,
         const std::vector<long double> &x, int64_t batch,
         const std::vector<std::vector<int>> &requests);

} // namespace ntp_ref

#endif // NTP_TEST_REFERENCE_PARTIALSREFERENCE_H
