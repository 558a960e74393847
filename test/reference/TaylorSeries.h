//===- TaylorSeries.h - Series of the reference's activations -*- C++ -*-===//
//
// Internal to the reference evaluator (TaylorReference.cpp): an activation
// applied to the normalized Taylor coefficients of one neuron, its adjoint,
// and the adjoint of a Cauchy product. Shares no code with the compiler.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_REFERENCE_TAYLORSERIES_H
#define NTP_TEST_REFERENCE_TAYLORSERIES_H

#include "TaylorReference.h"

namespace ntp_ref::detail {

using Ld = long double;

/// Adjoint of u = a * b (Cauchy product, coefficients 0..n) with output
/// adjoint ubar scaled by `scale`.
void productAdjoint(const Ld *a, const Ld *b, const Ld *ubar, Ld scale,
                    Ld *abar, Ld *bbar, int n);

/// Applies the activation to the series a (length n + 1) of one neuron; the
/// auxiliary series its adjoint reads are written to aux1..aux3 (see
/// LayerTape in TaylorReference.cpp).
void activationSeries(Activation act, const Ld *a, Ld *u, Ld *aux1, Ld *aux2,
                      Ld *aux3, int n);

/// Adjoint of activationSeries: adds to abar the pullback of ubar. ubar is
/// used as scratch and left modified.
void activationSeriesAdjoint(Activation act, const Ld *a, const Ld *u,
                             const Ld *aux1, const Ld *aux2, const Ld *aux3,
                             Ld *ubar, Ld *abar, int n);

} // namespace ntp_ref::detail

#endif // NTP_TEST_REFERENCE_TAYLORSERIES_H
