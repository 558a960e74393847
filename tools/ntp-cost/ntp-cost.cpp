//===- ntp-cost.cpp - The cost model of the jet expansion, in numbers -----===//
//
// Prints, per neuron and per derivative order n, the arithmetic of the
// activation jet that ntp generates (the hash-consed Faà di Bruno DAG of
// expandActivationJet, all input orders live and the first layer's two live
// orders) and of its generated reverse mode (differentiateActivationJet),
// beside two references:
//   - the paper's n-TangentProp: the number of partition terms it evaluates
//     for orders 1..n, sum_{m<=n} p(m), and their naive operation count;
//   - for tanh, the O(n^2) univariate Taylor recurrence
//       t = tanh(a), u = t^2 (Cauchy product), k t_k = sum_j j a_j (1-u)_{k-j}
//     built in the same JetExpressionGraph (same folding, same counting), and
//     its reverse mode by the same DAG differentiation. It works on
//     normalized coefficients a_k = y_k / k!, which affine layers propagate
//     unchanged, so the k! scalings are paid once per network output, not per
//     neuron, and are not counted.
// The two expansions are checked against each other numerically.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/FaaDiBruno.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace cl = llvm::cl;
using namespace ntp;
using Kind = JetExpression::Kind;

static cl::opt<std::string>
    activation("activation", cl::init("tanh"),
               cl::desc("Activation, or 'all' for every activation"));
static cl::opt<int> maxOrder("max-order", cl::init(16),
                             cl::desc("Orders 1..max-order"));
static cl::opt<std::string> csvPath("csv", cl::init(""),
                                    cl::desc("Also write the CSV here"));
static cl::opt<bool> markdown("markdown", cl::init(true),
                              cl::desc("Print the markdown table"));

namespace {

/// Partition terms of order m and their naive cost in the paper's Algorithm
/// 1: per term, prod y_j^{e_j} is |p|-1 multiplies, then c * t * a_s two
/// more and one add into z (sigma^(k) evaluation not counted).
struct PartitionCount {
  int64_t terms = 0, flops = 0;
};

void partitions(int remaining, int maxPart, int parts, PartitionCount &c) {
  if (remaining == 0) {
    ++c.terms;
    c.flops += (parts + 1) + 1;
    return;
  }
  for (int part = std::min(remaining, maxPart); part >= 1; --part)
    partitions(remaining - part, part, parts + 1, c);
}

/// The Taylor recurrence of tanh for orders 0..n; inputs 0..live-1 are the
/// normalized coefficients a_k, higher ones are structural zeros.
ActivationJetExpansion taylorTanh(unsigned n, unsigned live) {
  ActivationJetExpansion e;
  JetExpressionGraph &g = e.graph;
  auto a = [&](unsigned k) { return k < live ? g.input(k) : g.constant(0); };
  int t0 = g.primitive(0);
  std::vector<int> t{t0};
  // c_j = -j a_j and q = t^2 - 1 = -(1 - u): the sign is folded into c so
  // that q_0 = fma(t0, t0, -1) and q_m = u_m need no negations.
  std::vector<int> c(n + 1, -1), q;
  for (unsigned j = 1; j <= n; ++j)
    c[j] = g.mul(g.constant(-double(j)), a(j));
  q.push_back(g.fma(t0, t0, g.constant(-1)));
  for (unsigned k = 1; k <= n; ++k) {
    if (k >= 2) {
      // u_{k-1} = sum_j t_j t_{k-1-j}, by symmetry: pairs with 2 t_j, plus
      // the square of the middle term when k-1 is even.
      unsigned m = k - 1;
      int acc = g.constant(0);
      for (unsigned j = 0; 2 * j < m; ++j)
        acc = g.fma(g.mul(g.constant(2), t[j]), t[m - j], acc);
      if (m % 2 == 0)
        acc = g.fma(t[m / 2], t[m / 2], acc);
      q.push_back(acc);
    }
    int w = g.constant(0);
    for (unsigned j = 1; j <= k; ++j)
      w = g.fma(c[j], q[k - j], w);
    t.push_back(g.mul(g.constant(1.0 / k), w));
  }
  e.outputs = t;
  return e;
}

/// Reverse mode of a tanh-primitive DAG (the differentiation
/// differentiateActivationJet does, applied to the Taylor recurrence):
/// Input(order + 1 + m) is the cotangent of output m; returns the cotangent
/// nodes of inputs 0..live-1.
std::vector<int> reverseTanh(ActivationJetExpansion &e, unsigned order,
                             unsigned live) {
  JetExpressionGraph &g = e.graph;
  size_t size = g.getNodes().size();
  std::vector<int> bar(size, -1);
  auto accumulate = [&](int node, int lhs, int rhs) {
    // bar[node] += lhs * rhs
    if (g.getNodes()[node].kind == Kind::Constant)
      return;
    bar[node] = bar[node] < 0 ? g.mul(lhs, rhs) : g.fma(lhs, rhs, bar[node]);
  };
  int one = g.constant(1);
  for (unsigned m = 0; m <= order; ++m)
    accumulate(e.outputs[m], g.input(order + 1 + m), one);
  // y0 enters only through the primitive, so its cotangent is collected
  // here rather than on an Input node.
  std::vector<int> inputBar(live, -1);
  auto accumulateInput = [&](unsigned k, int lhs, int rhs) {
    inputBar[k] =
        inputBar[k] < 0 ? g.mul(lhs, rhs) : g.fma(lhs, rhs, inputBar[k]);
  };
  for (size_t i = size; i-- > 0;) {
    if (bar[i] < 0)
      continue;
    JetExpression n = g.getNodes()[i]; // copy: the graph grows
    switch (n.kind) {
    case Kind::Add:
      accumulate(n.lhs, bar[i], one);
      accumulate(n.rhs, bar[i], one);
      break;
    case Kind::Mul:
      accumulate(n.lhs, bar[i], n.rhs);
      accumulate(n.rhs, bar[i], n.lhs);
      break;
    case Kind::Fma:
      accumulate(n.lhs, bar[i], n.rhs);
      accumulate(n.rhs, bar[i], n.lhs);
      accumulate(n.acc, bar[i], one);
      break;
    case Kind::Primitive: {
      // d tanh(y0) / dy0 = 1 - t^2
      int t = g.primitive(0);
      int d = g.fma(g.mul(g.constant(-1), t), t, one);
      accumulateInput(0, bar[i], d);
      break;
    }
    case Kind::Input:
      if (n.index < int(live))
        accumulateInput(n.index, bar[i], one);
      break;
    case Kind::Constant:
      break;
    }
  }
  for (int &b : inputBar)
    if (b < 0)
      b = g.constant(0);
  return inputBar;
}

double primitiveValue(Primitive p, double y) {
  switch (p) {
  case Primitive::Identity:
    return y;
  case Primitive::Tanh:
    return std::tanh(y);
  case Primitive::TanhHalf:
    return std::tanh(y / 2);
  case Primitive::Sin:
    return std::sin(y);
  case Primitive::Cos:
    return std::cos(y);
  case Primitive::Exp:
    return std::exp(y);
  case Primitive::Softplus:
    return std::log1p(std::exp(y));
  }
  return 0;
}

/// Evaluates every node of a DAG at the given inputs (long double).
std::vector<long double> evaluate(const JetExpressionGraph &g,
                                  const ActivationRule &rule,
                                  const std::vector<long double> &inputs) {
  const auto &nodes = g.getNodes();
  std::vector<long double> v(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const JetExpression &n = nodes[i];
    switch (n.kind) {
    case Kind::Input:
      v[i] = inputs[n.index];
      break;
    case Kind::Primitive:
      v[i] = primitiveValue(rule.getPrimitives()[n.index], double(inputs[0]));
      break;
    case Kind::Constant:
      v[i] = n.value;
      break;
    case Kind::Add:
      v[i] = v[n.lhs] + v[n.rhs];
      break;
    case Kind::Mul:
      v[i] = v[n.lhs] * v[n.rhs];
      break;
    case Kind::Fma:
      v[i] = v[n.lhs] * v[n.rhs] + v[n.acc];
      break;
    }
  }
  return v;
}

/// Largest relative difference between the Faà di Bruno jet and k! times
/// the Taylor recurrence at one point.
double crossCheck(const ActivationRule &rule, unsigned n) {
  std::vector<long double> y(n + 1), a(n + 1);
  long double factorial = 1;
  for (unsigned k = 0; k <= n; ++k) {
    if (k)
      factorial *= k;
    y[k] = 0.3L + 0.1L * std::sin(1.0L + k); // arbitrary, fixed
    a[k] = y[k] / factorial;
  }
  auto fdb = expandActivationJet(rule, n, n + 1);
  auto taylor = taylorTanh(n, n + 1);
  auto vf = evaluate(fdb.graph, rule, y), vt = evaluate(taylor.graph, rule, a);
  double worst = 0;
  factorial = 1;
  for (unsigned k = 0; k <= n; ++k) {
    if (k)
      factorial *= k;
    long double z = vf[fdb.outputs[k]], zt = vt[taylor.outputs[k]] * factorial;
    worst = std::max(worst,
                     double(std::fabs(z - zt) / std::max(1.0L, std::fabs(z))));
  }
  return worst;
}

JetExpansionCost vjpCost(const ActivationJetVjp &vjp) {
  return vjp.graph.cost(vjp.inputCotangents);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "ntp-cost: operations per neuron of ntp's activation jet, beside the "
      "paper's partition count and the Taylor recurrence\n");
  if (maxOrder < 1 || maxOrder > kMaxOrder) {
    std::fprintf(stderr, "ntp-cost: error: --max-order must be in [1, %lld]\n",
                 (long long)kMaxOrder);
    return 1;
  }
  std::vector<std::string> names;
  if (activation == "all")
    names = activationNames();
  else if (lookupActivation(activation))
    names = {activation};
  else {
    std::fprintf(stderr, "ntp-cost: error: unknown activation '%s' (%s)\n",
                 activation.c_str(), activationNameList().c_str());
    return 1;
  }

  std::string csv =
      "activation,n,fdb_adds,fdb_muls,fdb_fmas,fdb_flops,fdb_primitives,"
      "first_adds,first_muls,first_fmas,first_flops,vjp_adds,vjp_muls,"
      "vjp_fmas,vjp_flops,first_vjp_flops,paper_terms,paper_naive_flops,"
      "taylor_adds,taylor_muls,taylor_fmas,taylor_flops,first_taylor_flops,"
      "taylor_vjp_flops,taylor_check\n";
  std::string md =
      "| activation | n | FdB adds/muls/fmas | FdB flops | first layer flops "
      "| VJP flops | paper terms sum p(m) | paper naive flops | Taylor "
      "adds/muls/fmas | Taylor flops | Taylor first | Taylor VJP flops | "
      "FdB/Taylor |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  char line[1024];
  for (const std::string &name : names) {
    const ActivationRule &rule = *lookupActivation(name);
    bool tanh = name == "tanh";
    PartitionCount paper;
    std::vector<int> crossover;
    for (int n = 1; n <= maxOrder; ++n) {
      partitions(n, n, 0, paper); // accumulates orders 1..n
      auto full = expandActivationJet(rule, n, n + 1);
      auto first = expandActivationJet(rule, n, 2);
      JetExpansionCost f = full.graph.cost(full.outputs),
                       f1 = first.graph.cost(first.outputs),
                       v = vjpCost(differentiateActivationJet(rule, n, n + 1)),
                       v1 = vjpCost(differentiateActivationJet(rule, n, 2));
      JetExpansionCost t, t1, tv;
      double check = 0;
      if (tanh) {
        auto taylor = taylorTanh(n, n + 1), taylor1 = taylorTanh(n, 2);
        t = taylor.graph.cost(taylor.outputs);
        t1 = taylor1.graph.cost(taylor1.outputs);
        std::vector<int> bars = reverseTanh(taylor, n, n + 1);
        tv = taylor.graph.cost(bars);
        check = crossCheck(rule, n);
      }
      std::snprintf(
          line, sizeof line,
          "%s,%d,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,"
          "%lld,%lld,%lld,%lld,%lld,%lld",
          name.c_str(), n, (long long)f.adds, (long long)f.muls,
          (long long)f.fmas, (long long)f.flops(), (long long)f.primitives,
          (long long)f1.adds, (long long)f1.muls, (long long)f1.fmas,
          (long long)f1.flops(), (long long)v.adds, (long long)v.muls,
          (long long)v.fmas, (long long)v.flops(), (long long)v1.flops(),
          (long long)paper.terms, (long long)paper.flops);
      csv += line;
      if (tanh) {
        std::snprintf(line, sizeof line,
                      ",%lld,%lld,%lld,%lld,%lld,%lld,%.1e\n",
                      (long long)t.adds, (long long)t.muls, (long long)t.fmas,
                      (long long)t.flops(), (long long)t1.flops(),
                      (long long)tv.flops(), check);
        if (t.flops() < f.flops())
          crossover.push_back(n);
      } else {
        std::snprintf(line, sizeof line, ",,,,,,,\n");
      }
      csv += line;
      std::snprintf(line, sizeof line,
                    "| %s | %d | %lld/%lld/%lld | %lld | %lld | %lld | %lld | "
                    "%lld |",
                    name.c_str(), n, (long long)f.adds, (long long)f.muls,
                    (long long)f.fmas, (long long)f.flops(),
                    (long long)f1.flops(), (long long)v.flops(),
                    (long long)paper.terms, (long long)paper.flops);
      md += line;
      if (tanh)
        std::snprintf(line, sizeof line,
                      " %lld/%lld/%lld | %lld | %lld | %lld | %.2f |\n",
                      (long long)t.adds, (long long)t.muls, (long long)t.fmas,
                      (long long)t.flops(), (long long)t1.flops(),
                      (long long)tv.flops(), double(f.flops()) / t.flops());
      else
        std::snprintf(line, sizeof line, " - | - | - | - | - |\n");
      md += line;
      if (tanh && check > 1e-9) {
        std::fprintf(stderr,
                     "ntp-cost: error: Taylor recurrence and Faà di Bruno "
                     "disagree at order %d (%.3g)\n",
                     n, check);
        return 1;
      }
    }
    if (tanh) {
      std::string orders;
      for (int n : crossover)
        orders += (orders.empty() ? "" : ",") + std::to_string(n);
      md += "\ntanh: the Taylor recurrence has fewer flops per neuron than "
            "the Faà di Bruno DAG at orders: " +
            (orders.empty() ? std::string("none") : orders) + "\n\n";
    }
  }
  std::fputs(csv.c_str(), stdout);
  if (markdown)
    std::printf("\n%s", md.c_str());
  if (!csvPath.empty()) {
    std::ofstream out(csvPath);
    out << csv;
    if (!out) {
      std::fprintf(stderr, "ntp-cost: error: cannot write %s\n",
                   csvPath.c_str());
      return 1;
    }
  }
  return 0;
}
