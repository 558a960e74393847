//===- ntp-cost.cpp - The cost model of the jet expansion, in numbers -----===//
//
// Prints, per neuron and per derivative order n, the arithmetic of the
// activation jet that ntp generates (the hash-consed Faà di Bruno DAG of
// expandActivationJet, all input orders live and the first layer's two live
// orders) and of its generated reverse mode (differentiateActivationJet),
// beside two references:
//   - the paper's n-TangentProp: the number of partition terms it evaluates
//     for orders 1..n, sum_{m<=n} p(m), and their naive operation count;
//   - the O(n^2) univariate Taylor recurrence of the primitives
//     (expandActivationJet with JetFormulation::Taylor, e.g. for tanh
//       t = tanh(y0), u = t^2 (Cauchy product), k t_k = sum_j j a_j (1-u)_{k-j}
//     on a_k = y_k / k!), built in the same JetExpressionGraph (same folding,
//     same counting), with the scalings between derivatives and normalized
//     coefficients counted (the compiler's interface is derivatives), and its
//     reverse mode by the same DAG differentiation.
// The compiler's default (JetFormulation::Auto) takes the cheaper of the two
// per op. The two expansions are checked against each other numerically.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/ActivationJet.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace cl = llvm::cl;
using namespace ntp;
using Kind = JetExpression::Kind;

// LLVM's own flags come in with the JIT; --help shows only this tool's.
static cl::OptionCategory costOptions("ntp-cost options");
static cl::opt<std::string>
    activation("activation", cl::init("tanh"), cl::cat(costOptions),
               cl::desc("Activation, or 'all' for every activation"));
static cl::opt<int> maxOrder("max-order", cl::init(16), cl::cat(costOptions),
                             cl::desc("Orders 1..max-order"));
static cl::opt<std::string> csvPath("csv", cl::init(""), cl::cat(costOptions),
                                    cl::desc("Also write the CSV here"));
static cl::opt<bool> markdown("markdown", cl::init(true), cl::cat(costOptions),
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
      v[i] = evaluatePrimitive(rule.getPrimitives()[n.index], inputs[0]);
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

/// Largest relative difference between the Faà di Bruno jet and the Taylor
/// recurrence at one point.
double crossCheck(const ActivationRule &rule, unsigned n) {
  std::vector<long double> y(n + 1);
  for (unsigned k = 0; k <= n; ++k)
    y[k] = 0.3L + 0.1L * std::sin(1.0L + k); // arbitrary, fixed
  auto fdb = expandActivationJet(rule, n, n + 1, JetFormulation::FaaDiBruno);
  auto taylor = expandActivationJet(rule, n, n + 1, JetFormulation::Taylor);
  auto vf = evaluate(fdb.graph, rule, y), vt = evaluate(taylor.graph, rule, y);
  double worst = 0;
  for (unsigned k = 0; k <= n; ++k) {
    long double z = vf[fdb.outputs[k]], zt = vt[taylor.outputs[k]];
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
  cl::HideUnrelatedOptions(costOptions);
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
      "taylor_vjp_flops,taylor_check,fdb_depth,taylor_depth,taylor_vjp_depth\n";
  std::string md =
      "| activation | n | FdB adds/muls/fmas | FdB flops | first layer flops "
      "| VJP flops | paper terms sum p(m) | paper naive flops | Taylor "
      "adds/muls/fmas | Taylor flops | Taylor first | Taylor VJP flops | "
      "FdB/Taylor | FdB depth | Taylor depth |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  char line[1024];
  for (const std::string &name : names) {
    const ActivationRule &rule = *lookupActivation(name);
    PartitionCount paper;
    std::vector<int> crossover;
    // Faà di Bruno only where its coefficients are exact (the table
    // compares the two formulations).
    const int lastOrder =
        std::min<int>(maxOrder, static_cast<int>(rule.maxFaaDiBrunoOrder()));
    for (int n = 1; n <= lastOrder; ++n) {
      partitions(n, n, 0, paper); // accumulates orders 1..n
      const JetFormulation fdbF = JetFormulation::FaaDiBruno,
                           taylorF = JetFormulation::Taylor;
      auto full = expandActivationJet(rule, n, n + 1, fdbF);
      auto first = expandActivationJet(rule, n, 2, fdbF);
      JetExpansionCost f = full.graph.cost(full.outputs),
                       f1 = first.graph.cost(first.outputs),
                       v = vjpCost(
                           differentiateActivationJet(rule, n, n + 1, fdbF)),
                       v1 = vjpCost(
                           differentiateActivationJet(rule, n, 2, fdbF));
      auto taylor = expandActivationJet(rule, n, n + 1, taylorF),
           taylor1 = expandActivationJet(rule, n, 2, taylorF);
      JetExpansionCost t = taylor.graph.cost(taylor.outputs),
                       t1 = taylor1.graph.cost(taylor1.outputs),
                       tv = vjpCost(
                           differentiateActivationJet(rule, n, n + 1, taylorF));
      double check = crossCheck(rule, n);
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
      {
        std::snprintf(line, sizeof line,
                      ",%lld,%lld,%lld,%lld,%lld,%lld,%.1e,%lld,%lld,%lld\n",
                      (long long)t.adds, (long long)t.muls, (long long)t.fmas,
                      (long long)t.flops(), (long long)t1.flops(),
                      (long long)tv.flops(), check, (long long)f.criticalPath,
                      (long long)t.criticalPath, (long long)tv.criticalPath);
        if (t.flops() < f.flops())
          crossover.push_back(n);
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
      std::snprintf(line, sizeof line,
                    " %lld/%lld/%lld | %lld | %lld | %lld | %.2f | %lld | %lld "
                    "|\n",
                    (long long)t.adds, (long long)t.muls, (long long)t.fmas,
                    (long long)t.flops(), (long long)t1.flops(),
                    (long long)tv.flops(), double(f.flops()) / t.flops(),
                    (long long)f.criticalPath, (long long)t.criticalPath);
      md += line;
      if (check > 1e-9) {
        std::fprintf(stderr,
                     "ntp-cost: error: Taylor recurrence and Faà di Bruno "
                     "disagree at order %d (%.3g)\n",
                     n, check);
        return 1;
      }
    }
    {
      std::string orders;
      for (int n : crossover)
        orders += (orders.empty() ? "" : ",") + std::to_string(n);
      md += "\n" + name +
            ": the Taylor recurrence has fewer flops per neuron than the Faà "
            "di Bruno DAG (all orders live; auto picks it) at orders: " +
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
