//===- PolyToLoops.cpp - Lower the multivariate Taylor ops to loops -------===//
//
// The activation of the multivariate Taylor lowering
// (ntp/Support/Multivariate.h), ntp.gate_poly and their reverse modes, each
// as one loop over the neurons (ntp.neuron_loop, so the GPU lanes mapping
// spreads it like the ray ops') whose body is straight-line vector code over
// the tile. The activation:
//
//  - sigma^(0..n)(y0) from the activation's jet expansion of order n along
//    y0 + t (input jet (y0, 1, 0, ...), the rays' machinery), scaled by
//    1/k! (k >= 2);
//  - the powers p_k = p_{k-1} u from PolySchedule's table, kept in
//    registers (the products the plan counts, nothing else);
//  - out_beta = sum_{k <= |beta|} c_k p_k[beta], out_0 = sigma(y0).
//
// Its reverse, ntp.activate_poly_vjp: the same powers, q = sigma'(u)
// composed the same way, and the product with the cotangent transposed;
// ntp.gate_poly_vjp: the gate's product transposed.
//
//===----------------------------------------------------------------------===//

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/Multivariate.h"
#include "ntp/Support/Primitives.h"
#include "ntp/Support/VectorMath.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace ntp;

namespace {

/// Opens the loop over `neurons` (marked ntp.neuron_loop: its iterations
/// are independent) and moves `b` into its body; returns the neuron index.
Value beginNeuronLoop(OpBuilder &b, Location loc, Value zero, int64_t neurons) {
  auto loop = scf::ForOp::create(
      b, loc, zero, arith::ConstantIndexOp::create(b, loc, neurons),
      arith::ConstantIndexOp::create(b, loc, 1));
  loop->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
  b.setInsertionPointToStart(loop.getBody());
  return loop.getInductionVar();
}

/// Rows 0..rows-1 of neuron `neuron` of a jet buffer, one lane vector each.
SmallVector<Value> loadRows(OpBuilder &b, Location loc, VectorType type,
                            Value buffer, int64_t rows, Value neuron,
                            Value zero) {
  SmallVector<Value> values;
  for (int64_t r = 0; r < rows; ++r)
    values.push_back(vector::LoadOp::create(
        b, loc, type, buffer,
        JetBufferShape::indices(arith::ConstantIndexOp::create(b, loc, r),
                                neuron, zero)));
  return values;
}

/// `value` into row `row` of neuron `neuron` of a jet buffer.
void storeRow(OpBuilder &b, Location loc, Value value, Value buffer,
              int64_t row, Value neuron, Value zero) {
  vector::StoreOp::create(
      b, loc, value, buffer,
      JetBufferShape::indices(arith::ConstantIndexOp::create(b, loc, row),
                              neuron, zero));
}

/// The monomials of a multivariate op's rows (its `monomials` attribute,
/// `variables` exponents each).
template <typename OpTy> std::vector<partials::Monomial> monomialsOf(OpTy op) {
  ArrayRef<int64_t> flat = op.getMonomials();
  return partials::splitMonomials(flat.data(), flat.size(), op.getVariables());
}

/// sigma^(k)(y0), k = 0..order: the activation's jet of order `order` along
/// y0 + t (input jet (y0, 1, 0, ...)), the nodes its outputs need.
SmallVector<Value> activationDerivatives(VectorMath &m,
                                         const ActivationRule &rule,
                                         unsigned order, Value y0) {
  ActivationJetExpansion expansion =
      expandActivationJet(rule, order, order > 0 ? 2u : 1u);
  const auto &nodes = expansion.graph.getNodes();
  std::vector<bool> needed = expansion.graph.neededBy(expansion.outputs);
  SmallVector<Value> values(nodes.size());
  Value one = m.constant(1.0);
  for (size_t k = 0; k < nodes.size(); ++k) {
    if (!needed[k])
      continue;
    const JetExpression &node = nodes[k];
    switch (node.kind) {
    case JetExpression::Kind::Input:
      values[k] = node.index == 0 ? y0 : node.index == 1 ? one : Value();
      assert(values[k] && "the expansion reads only y0 and y1");
      break;
    case JetExpression::Kind::Primitive:
      values[k] = evaluatePrimitive(rule.getPrimitives()[node.index], y0, m);
      break;
    default:
      values[k] = m.arithmeticNode(node, values);
      break;
    }
  }
  SmallVector<Value> derivatives;
  for (int o : expansion.outputs)
    derivatives.push_back(values[o]);
  return derivatives;
}

/// `d` scaled by 1/k! (k >= 2; k = 0, 1 as they are).
SmallVector<Value> dividedByFactorials(VectorMath &m, ArrayRef<Value> d) {
  SmallVector<Value> c;
  double factorial = 1;
  for (size_t k = 0; k < d.size(); ++k) {
    factorial *= k > 1 ? static_cast<double>(k) : 1.0;
    c.push_back(k < 2 ? d[k] : m.mul(d[k], m.constant(1.0 / factorial)));
  }
  return c;
}

/// The sum of `products`, one chain: a product, then FMAs.
Value sumOfProducts(VectorMath &m, ArrayRef<std::pair<Value, Value>> products) {
  Value acc;
  for (auto [x, y] : products)
    acc = acc ? Value(math::FmaOp::create(m.b, m.loc, x, y, acc)) : m.mul(x, y);
  return acc;
}

/// The powers p_k[row] = (u^k)[row], k = 2..degree, of the non-constant
/// rows of `u` (p[1] = u; row 0 is never read as a factor), from the
/// schedule's product table, in registers.
SmallVector<SmallVector<Value>>
polyPowers(VectorMath &m, const partials::PolySchedule &schedule,
           ArrayRef<Value> u) {
  int64_t n = schedule.degree;
  SmallVector<SmallVector<Value>> p(n + 1, SmallVector<Value>(u.size()));
  if (n >= 1)
    p[1].assign(u.begin(), u.end());
  for (int64_t k = 2; k <= n; ++k)
    for (const partials::PolySchedule::Entry &e : schedule.powers[k]) {
      if (k > 2) {
        SmallVector<std::pair<Value, Value>> products;
        for (const auto &t : e.terms)
          products.push_back({u[t.a], p[k - 1][t.b]});
        p[k][e.row] = sumOfProducts(m, products);
        continue;
      }
      // u^2: the pairs a != b once, doubled; the squares apart.
      SmallVector<std::pair<Value, Value>> off, diag;
      for (const auto &t : e.terms)
        (t.a == t.b ? diag : off).push_back({u[t.a], u[t.b]});
      Value o = sumOfProducts(m, off), s = sumOfProducts(m, diag);
      if (o && s)
        p[2][e.row] = math::FmaOp::create(m.b, m.loc, o, m.constant(2.0), s);
      else if (o)
        p[2][e.row] = m.add(o, o);
      else
        p[2][e.row] = s;
    }
  return p;
}

/// sum_k c_k p_k[row], k = 0..|row| (p_0 = 1 on row 0 only): the composition
/// with the series whose coefficients are `c`.
Value composedRow(VectorMath &m, const partials::PolySchedule &schedule,
                  ArrayRef<Value> c, ArrayRef<SmallVector<Value>> p,
                  int64_t row) {
  if (row == 0)
    return c[0];
  SmallVector<std::pair<Value, Value>> products;
  for (int64_t k = 1; k <= std::min(schedule.degrees[row], schedule.degree);
       ++k)
    products.push_back({c[k], p[k][row]});
  return sumOfProducts(m, products);
}

/// The Cauchy product table transposed: for each row gamma, the pairs (beta,
/// beta - gamma) over the rows beta above it (a VJP's terms).
std::vector<SmallVector<std::pair<int64_t, int64_t>>>
transposedProductTable(const std::vector<partials::Monomial> &monomials) {
  std::vector<std::vector<partials::PolySchedule::Term>> table =
      partials::polyProductTable(monomials);
  std::vector<SmallVector<std::pair<int64_t, int64_t>>> above(monomials.size());
  for (size_t beta = 0; beta < table.size(); ++beta)
    for (const partials::PolySchedule::Term &t : table[beta])
      above[t.a].push_back({static_cast<int64_t>(beta), t.b});
  return above;
}

struct LowerActivatePoly : public OpConversionPattern<ActivatePolyOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ActivatePolyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    const ActivationRule *rule = lookupActivation(op.getActivation().str());
    if (!rule)
      return rewriter.notifyMatchFailure(op, "unknown activation");
    Location loc = op.getLoc();
    JetBufferShape in = JetBufferShape::of(op.getInput().getType());
    std::vector<partials::Monomial> monomials = monomialsOf(op);
    partials::PolySchedule schedule = partials::polySchedule(monomials);
    int64_t n = schedule.degree, rows = static_cast<int64_t>(monomials.size());
    VectorType vectorType = in.laneVectorType();

    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    OpBuilder::InsertionGuard guard(rewriter);
    Value i = beginNeuronLoop(rewriter, loc, c0, in.neurons());
    OpBuilder &b = rewriter;
    VectorMath m{b, loc, vectorType};
    SmallVector<Value> u =
        loadRows(b, loc, vectorType, adaptor.getInput(), rows, i, c0);
    // c_k = sigma^(k)(y0) / k!, k = 0..n.
    SmallVector<Value> c = dividedByFactorials(
        m, activationDerivatives(m, *rule, static_cast<unsigned>(n), u[0]));
    SmallVector<SmallVector<Value>> p = polyPowers(m, schedule, u);
    for (int64_t r = 0; r < rows; ++r)
      storeRow(b, loc, composedRow(m, schedule, c, p, r), adaptor.getOutput(),
               r, i, c0);
    rewriter.eraseOp(op);
    return success();
  }
};

/// ntp.activate_poly_vjp: per neuron, the forward's powers again, q =
/// sigma'(u) over every row (coefficients sigma^(k+1)(y0) / k!, so the jet
/// is one order longer than the forward's), and each input row's cotangent
/// as one chain over the product table transposed: inbar_gamma = sum over
/// the pairs (gamma, beta - gamma) of outbar_beta q_(beta - gamma).
struct LowerActivatePolyVjp : public OpConversionPattern<ActivatePolyVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ActivatePolyVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    const ActivationRule *rule = lookupActivation(op.getActivation().str());
    if (!rule)
      return rewriter.notifyMatchFailure(op, "unknown activation");
    Location loc = op.getLoc();
    JetBufferShape in = JetBufferShape::of(op.getInput().getType());
    std::vector<partials::Monomial> monomials = monomialsOf(op);
    partials::PolySchedule schedule = partials::polySchedule(monomials);
    int64_t n = schedule.degree, rows = static_cast<int64_t>(monomials.size());
    std::vector<SmallVector<std::pair<int64_t, int64_t>>> above =
        transposedProductTable(monomials);
    VectorType vectorType = in.laneVectorType();

    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    OpBuilder::InsertionGuard guard(rewriter);
    Value i = beginNeuronLoop(rewriter, loc, c0, in.neurons());
    OpBuilder &b = rewriter;
    VectorMath m{b, loc, vectorType};
    SmallVector<Value> u =
        loadRows(b, loc, vectorType, adaptor.getInput(), rows, i, c0);
    // e_k = sigma^(k+1)(y0) / k!, k = 0..n: q's series.
    SmallVector<Value> d =
        activationDerivatives(m, *rule, static_cast<unsigned>(n + 1), u[0]);
    SmallVector<Value> e =
        dividedByFactorials(m, ArrayRef<Value>(d).drop_front());
    SmallVector<SmallVector<Value>> p = polyPowers(m, schedule, u);
    SmallVector<Value> q;
    for (int64_t r = 0; r < rows; ++r)
      q.push_back(composedRow(m, schedule, e, p, r));
    SmallVector<Value> bar =
        loadRows(b, loc, vectorType, adaptor.getOutCotangent(), rows, i, c0);
    for (int64_t gamma = 0; gamma < rows; ++gamma) {
      SmallVector<std::pair<Value, Value>> products;
      for (auto [beta, rest] : above[gamma])
        products.push_back({bar[beta], q[rest]});
      storeRow(b, loc, sumOfProducts(m, products), adaptor.getInCotangent(),
               gamma, i, c0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// ntp.gate_poly: per neuron, out_beta = U_beta + sum Z_gamma D_{beta -
/// gamma} with D = V - U, an FMA chain per row from U's row over the
/// product table, in registers.
struct LowerGatePoly : public OpConversionPattern<GatePolyOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GatePolyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getU().getType());
    std::vector<partials::Monomial> monomials = monomialsOf(op);
    std::vector<std::vector<partials::PolySchedule::Term>> table =
        partials::polyProductTable(monomials);
    int64_t rows = static_cast<int64_t>(monomials.size());
    VectorType vectorType = shape.laneVectorType();

    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    OpBuilder::InsertionGuard guard(rewriter);
    Value i = beginNeuronLoop(rewriter, loc, c0, shape.neurons());
    OpBuilder &b = rewriter;
    VectorMath m{b, loc, vectorType};
    auto load = [&](Value buffer) {
      return loadRows(b, loc, vectorType, buffer, rows, i, c0);
    };
    SmallVector<Value> u = load(adaptor.getU()), v = load(adaptor.getV()),
                       z = load(adaptor.getZ()), d;
    for (int64_t r = 0; r < rows; ++r)
      d.push_back(m.sub(v[r], u[r]));
    for (int64_t r = 0; r < rows; ++r) {
      Value out = u[r];
      for (const partials::PolySchedule::Term &t : table[r])
        out = math::FmaOp::create(b, loc, z[t.a], d[t.b], out);
      storeRow(b, loc, out, adaptor.getOutput(), r, i, c0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// ntp.gate_poly_vjp: per neuron, the rows of U, V, Z and the cotangent
/// loaded once, D = V - U, and over the product table transposed (as
/// ntp.activate_poly_vjp's) Zbar_gamma = sum Obar_beta D_(beta - gamma) and
/// Dbar_gamma = sum Obar_beta Z_(beta - gamma); Ubar = Obar - Dbar and Vbar =
/// Dbar written, or added with `accumulate`.
struct LowerGatePolyVjp : public OpConversionPattern<GatePolyVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GatePolyVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getU().getType());
    std::vector<partials::Monomial> monomials = monomialsOf(op);
    int64_t rows = static_cast<int64_t>(monomials.size());
    std::vector<SmallVector<std::pair<int64_t, int64_t>>> above =
        transposedProductTable(monomials);
    VectorType vectorType = shape.laneVectorType();

    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    OpBuilder::InsertionGuard guard(rewriter);
    Value i = beginNeuronLoop(rewriter, loc, c0, shape.neurons());
    OpBuilder &b = rewriter;
    VectorMath m{b, loc, vectorType};
    auto load = [&](Value buffer) {
      return loadRows(b, loc, vectorType, buffer, rows, i, c0);
    };
    SmallVector<Value> u = load(adaptor.getU()), v = load(adaptor.getV()),
                       z = load(adaptor.getZ()),
                       bar = load(adaptor.getOutCotangent()), d;
    for (int64_t r = 0; r < rows; ++r)
      d.push_back(m.sub(v[r], u[r]));
    bool accumulate = op.getAccumulate();
    SmallVector<Value> uBarOld, vBarOld;
    if (accumulate) {
      uBarOld = load(adaptor.getUCotangent());
      vBarOld = load(adaptor.getVCotangent());
    }
    for (int64_t gamma = 0; gamma < rows; ++gamma) {
      SmallVector<std::pair<Value, Value>> zTerms, dTerms;
      for (auto [beta, rest] : above[gamma]) {
        zTerms.push_back({bar[beta], d[rest]});
        dTerms.push_back({bar[beta], z[rest]});
      }
      Value dBar = sumOfProducts(m, dTerms);
      storeRow(b, loc, sumOfProducts(m, zTerms), adaptor.getZCotangent(), gamma,
               i, c0);
      Value uBar = m.sub(bar[gamma], dBar), vBar = dBar;
      if (accumulate) {
        uBar = m.add(uBarOld[gamma], uBar);
        vBar = m.add(vBarOld[gamma], vBar);
      }
      storeRow(b, loc, uBar, adaptor.getUCotangent(), gamma, i, c0);
      storeRow(b, loc, vBar, adaptor.getVCotangent(), gamma, i, c0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populatePolyToLoopsConversionPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerActivatePoly, LowerActivatePolyVjp, LowerGatePoly,
               LowerGatePolyVjp>(patterns.getContext());
}
