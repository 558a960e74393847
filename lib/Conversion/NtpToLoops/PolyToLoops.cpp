//===- PolyToLoops.cpp - Lower the multivariate Taylor ops to loops -------===//
//
// ntp.gate_poly (at the end) and the activation of the multivariate Taylor
// lowering (ntp/Support/Multivariate.h), each as one loop over the neurons
// (ntp.neuron_loop, so the GPU lanes mapping spreads it like the ray ops')
// whose body is straight-line vector code over the tile:
//
//  - sigma^(0..n)(y0) from the activation's jet expansion of order n along
//    y0 + t (input jet (y0, 1, 0, ...), the rays' machinery), scaled by
//    1/k! (k >= 2);
//  - the powers p_k = p_{k-1} u from PolySchedule's table, kept in
//    registers (the products the plan counts, nothing else);
//  - out_beta = sum_{k <= |beta|} c_k p_k[beta], out_0 = sigma(y0).
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
    ArrayRef<int64_t> flat = op.getMonomials();
    int64_t variables = op.getVariables();
    std::vector<partials::Monomial> monomials =
        partials::splitMonomials(flat.data(), flat.size(), variables);
    partials::PolySchedule schedule = partials::polySchedule(monomials);
    int64_t n = schedule.degree, rows = static_cast<int64_t>(monomials.size());
    ActivationJetExpansion expansion =
        expandActivationJet(*rule, static_cast<unsigned>(n), n > 0 ? 2u : 1u);
    VectorType vectorType = in.laneVectorType();
    Value input = adaptor.getInput(), output = adaptor.getOutput();

    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    OpBuilder::InsertionGuard guard(rewriter);
    Value i = beginNeuronLoop(rewriter, loc, c0, in.neurons());
    OpBuilder &b = rewriter;
    VectorMath m{b, loc, vectorType};
    SmallVector<Value> u = loadRows(b, loc, vectorType, input, rows, i, c0);
    Value y0 = u[0];
    // sigma^(k)(y0), k = 0..n: the jet of sigma along y0 + t.
    const auto &nodes = expansion.graph.getNodes();
    std::vector<bool> needed(nodes.size(), false);
    for (int o : expansion.outputs)
      needed[o] = true;
    for (size_t k = nodes.size(); k-- > 0;)
      if (needed[k])
        for (int operand : {nodes[k].lhs, nodes[k].rhs, nodes[k].acc})
          if (operand >= 0)
            needed[operand] = true;
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
        values[k] = evaluatePrimitive(rule->getPrimitives()[node.index], y0, m);
        break;
      default:
        values[k] = m.arithmeticNode(node, values);
        break;
      }
    }
    // c_k = sigma^(k)(y0) / k!.
    SmallVector<Value> c;
    double factorial = 1;
    for (int64_t k = 0; k <= n; ++k) {
      factorial *= k > 1 ? static_cast<double>(k) : 1.0;
      Value d = values[expansion.outputs[k]];
      c.push_back(k < 2 ? d : m.mul(d, m.constant(1.0 / factorial)));
    }
    auto chain = [&](ArrayRef<std::pair<Value, Value>> products) {
      Value acc;
      for (auto [x, y] : products)
        acc = acc ? Value(math::FmaOp::create(b, loc, x, y, acc)) : m.mul(x, y);
      return acc;
    };
    // The powers, p_1 = u (row 0 is never read as a factor).
    SmallVector<SmallVector<Value>> p(n + 1, SmallVector<Value>(rows));
    if (n >= 1)
      p[1] = u;
    for (int64_t k = 2; k <= n; ++k)
      for (const partials::PolySchedule::Entry &e : schedule.powers[k]) {
        if (k > 2) {
          SmallVector<std::pair<Value, Value>> products;
          for (const auto &t : e.terms)
            products.push_back({u[t.a], p[k - 1][t.b]});
          p[k][e.row] = chain(products);
          continue;
        }
        // u^2: the pairs a != b once, doubled; the squares apart.
        SmallVector<std::pair<Value, Value>> off, diag;
        for (const auto &t : e.terms)
          (t.a == t.b ? diag : off).push_back({u[t.a], u[t.b]});
        Value o = chain(off), s = chain(diag);
        if (o && s)
          p[2][e.row] = math::FmaOp::create(b, loc, o, m.constant(2.0), s);
        else if (o)
          p[2][e.row] = m.add(o, o);
        else
          p[2][e.row] = s;
      }
    for (int64_t r = 0; r < rows; ++r) {
      Value out = c[0];
      if (r > 0) {
        SmallVector<std::pair<Value, Value>> products;
        for (int64_t k = 1; k <= std::min(schedule.degrees[r], n); ++k)
          products.push_back({c[k], p[k][r]});
        out = chain(products);
      }
      storeRow(b, loc, out, output, r, i, c0);
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
    ArrayRef<int64_t> flat = op.getMonomials();
    int64_t variables = op.getVariables();
    std::vector<partials::Monomial> monomials =
        partials::splitMonomials(flat.data(), flat.size(), variables);
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

} // namespace

void ntp::populatePolyToLoopsConversionPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerActivatePoly, LowerGatePoly>(patterns.getContext());
}
