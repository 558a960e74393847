//===- ProfileCsv.cpp - the trained profile against the exact one ---------===//
#include "ProfileCsv.h"
#include "ExactProfile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace burgers {

bool writeProfile(Problem &pb, const Vec &z, const Options &o, double &errU,
                  double &errDU) {
  int n = pb.near.order;
  burgers::Points fine(n,
                       o.odd ? burgers::symmetricLinspace(2, 2001)
                             : burgers::linspace(-2, 2, 2001),
                       o.odd);
  const Vec &xs = fine.x;
  pb.near.kernel.forward(xs, Vec{1.0}, Vec(z.begin(), z.end() - 1), fine.out);
  errU = 0, errDU = 0;
  std::string profPath = o.out + "/profile.csv";
  FILE *prof = std::fopen(profPath.c_str(), "w");
  if (!prof)
    return false;
  std::fprintf(prof, "x");
  for (int i = 0; i <= n; ++i)
    std::fprintf(prof, ",u%d", i);
  for (int i = 0; i <= n; ++i)
    std::fprintf(prof, ",exact%d", i);
  std::fprintf(prof, "\n");
  for (size_t b = 0; b < xs.size(); ++b) {
    Vec ex = burgers::exactJet(xs[b], o.k, n);
    double u0 = fine.u(0, b), u1 = fine.u(1, b);
    errU = std::max(errU, std::fabs(u0 - ex[0]));
    errDU = std::max(errDU, std::fabs(u1 - ex[1]));
    std::fprintf(prof, "%.17g", xs[b]);
    for (int i = 0; i <= n; ++i)
      std::fprintf(prof, ",%.17g", fine.u(i, b));
    for (int i = 0; i <= n; ++i)
      std::fprintf(prof, ",%.17g", ex[i]);
    std::fprintf(prof, "\n");
  }
  std::fclose(prof);
  return true;
}

} // namespace burgers
