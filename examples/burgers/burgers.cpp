//===- burgers.cpp - Self-similar Burgers profiles with ntp kernels -------===//
//
// The driver of the Burgers example (README.md): the command line, the
// schedule (Adam, then L-BFGS until it stalls, optional polish rounds, then
// Levenberg-Marquardt until the time limit) and the output files
// (history.csv, profile.csv, summary.txt). The flags are in
// Options.{h,cpp}, the loss and its kernels in Problem.{h,cpp}, the exact
// profiles in ExactProfile.{h,cpp} (the profile file in ProfileCsv.{h,cpp}),
// the lambda search in LambdaSearch.{h,cpp}, the optimizers in
// examples/optim (a library later examples can link).
//
//===----------------------------------------------------------------------===//
#include "LambdaSearch.h"
#include "Options.h"
#include "Problem.h"
#include "ProfileCsv.h"

#include "optim/Adam.h"
#include "optim/Lbfgs.h"
#include "optim/LevenbergMarquardt.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <vector>

using burgers::Options;
using burgers::Problem;
using burgers::Vec;

int main(int argc, char **argv) {
  Options o;
  if (!burgers::parse(argc, argv, o)) {
    burgers::printUsage(stderr, argv[0]);
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  auto timeUp = [&] { return o.maxSeconds > 0 && seconds() > o.maxSeconds; };
  try {
    ntp::setNumThreads(o.threads);
    mkdir(o.out.c_str(), 0755);
    Problem pb(o.k, o.odd != 0, o.w, o.arch, o.nearRadius, o.nearPoints);
    pb.threads = o.threads;
    double exactLambda = pb.exactLambda();
    double compileSeconds = seconds();

    Vec z = pb.initialPoint(o.seed);
    if (o.fixLambda > 0) { // diagnostics: train the network at this lambda
      z.back() = pb.sOf(o.fixLambda);
      pb.fixLambda = true;
    }

    std::string csvPath = o.out + "/history.csv";
    FILE *csv = std::fopen(csvPath.c_str(), "w");
    if (!csv) {
      std::fprintf(stderr, "cannot write %s\n", csvPath.c_str());
      return 1;
    }
    std::fprintf(csv, "step,phase,loss,lambda,boundary,mse_r,mse_dr,"
                      "high_order,seconds\n");
    long total = o.adamSteps + o.lbfgsSteps, step = 0;
    double phaseStart = seconds();
    long phaseStep = 0;
    auto startPhase = [&] { phaseStart = seconds(), phaseStep = step; };
    auto log = [&](const char *phase, double loss) {
      double lam = pb.lambda(z.back()), now = seconds();
      std::fprintf(csv, "%ld,%s,%.17g,%.17g,%.6e,%.6e,%.6e,%.6e,%.3f\n", step,
                   phase, loss, lam, pb.terms[0], pb.terms[1], pb.terms[2],
                   pb.terms[3], now);
      if (step % o.printEvery == 0 || step == total) {
        double rate = (step - phaseStep) / std::max(now - phaseStart, 1e-9);
        std::printf("%-5s step %6ld/%ld  loss %.4e  lambda %.10f  "
                    "|err| %.2e  %.0f steps/s  ETA %.0f s\n",
                    phase, step, total, loss, lam, std::fabs(lam - exactLambda),
                    rate, (total - step) / std::max(rate, 1e-9));
        std::fflush(stdout);
      }
    };
    auto eval = [&](const Vec &zz, Vec &gg) { return pb.eval(zz, gg); };

    Vec g(z.size());
    double loss = pb.eval(z, g), firstLoss = loss;
    if (o.gradCheck)
      return pb.checkGradient(z, loss, g) < 1e-5 ? 0 : 1;
    log("init", loss);

    // Adam, fresh moments per call. The main phase's lr may decay, and its
    // high-order weight may ramp up: at initialisation the order-(2k+3) term
    // dwarfs the others (9e5 for k = 3), and Adam then flattens the network
    // towards U = 0 (R = 0, boundary loss 2) before it fits the boundary.
    auto runAdam = [&](long steps, double lr, const char *phase,
                       const std::string &decay, long ramp) {
      startPhase();
      optim::AdamOptions adam;
      adam.lr = lr, adam.lrEnd = o.adamLrEnd;
      optim::parseDecay(decay, adam.decay);
      optim::AdamHooks hooks;
      hooks.eval = eval;
      hooks.stop = timeUp;
      if (ramp > 0) {
        pb.w[3] = 0;
        loss = pb.eval(z, g);
        hooks.before = [&](long t) {
          double r = std::min(1.0, double(t) / ramp);
          pb.w[3] = o.w[3] *
                    (o.highRampFrom > 0 ? std::pow(o.highRampFrom, 1 - r) : r);
        };
      }
      hooks.after = [&](double f) {
        ++step;
        log(phase, f);
      };
      optim::adam(z, loss, g, steps, adam, hooks);
    };
    // Holding lambda while Adam fits the profile: an unfinished fit is
    // easier at larger lambda (flatter high-order terms), and Adam drags
    // lambda there before the high-order term can select it.
    pb.fixLambda = o.fixLambda > 0 || o.adamHoldLambda;
    loss = pb.eval(z, g);
    runAdam(o.adamSteps, o.adamLr, "adam", o.adamDecay, o.highRamp);
    pb.fixLambda = o.fixLambda > 0 || (o.adamHoldLambda && o.lbfgsHoldLambda);
    // The high-order weight of the L-BFGS phases (after a ramp it may not
    // have reached o.w[3]).
    double wHigh = o.lbfgsWHigh > 0 ? o.lbfgsWHigh : o.w[3];
    if (pb.w[3] != wHigh) {
      pb.w[3] = wHigh;
      loss = pb.eval(z, g);
    }

    // L-BFGS with a strong Wolfe line search (and the departures from torch
    // in optim/Lbfgs.h); one step is one iteration.
    long evals = 0, lbfgsDone = 0;
    bool stalled = false;
    auto runLbfgs = [&](long maxIt) {
      startPhase();
      optim::LbfgsOptions lbfgs;
      lbfgs.history = o.history;
      lbfgs.restartEvery = o.restartEvery;
      // s's weight in H0. dlambda/ds is at most (hi - lo)/2 (1/15 for k = 1,
      // 1/63 for k = 3), so s's curvature is far below the weights' and a
      // scalar H0 crawls along it. (2/(hi - lo))^2 is the H0 of L-BFGS in
      // lambda-like units. Far from the minimum this sends s to tanh's
      // saturation (lambda at a bound) before the network follows, so it is
      // switched on only once the loss is below sScaleBelow.
      lbfgs.weightedIndex = long(z.size()) - 1;
      lbfgs.weight = o.sScale > 0 ? o.sScale : std::pow(2 / (pb.hi - pb.lo), 2);
      lbfgs.weightBelow = o.sScaleBelow;
      lbfgs.weightedName = "s";
      lbfgs.probeOnFailure = std::getenv("BURGERS_DEBUG") != nullptr;
      lbfgs.stepBase = step;
      optim::LbfgsHooks hooks;
      hooks.eval = eval;
      hooks.stop = timeUp;
      // The loss terms of each trial point, for the log.
      hooks.save = [&] { return Vec(pb.terms, pb.terms + 4); };
      hooks.restore = [&](const Vec &t) {
        std::copy(t.begin(), t.end(), pb.terms);
      };
      hooks.after = [&](double f) {
        ++step;
        log("lbfgs", f);
      };
      optim::LbfgsResult r = optim::lbfgs(z, loss, g, maxIt, lbfgs, hooks);
      evals += r.evaluations, lbfgsDone += r.steps, stalled = r.stalled;
    };
    // Levenberg-Marquardt on loss = |r|^2 (below), `steps` iterations at
    // most; returns those done.
    long lmDone = 0;
    auto runLm = [&](long steps) {
      startPhase();
      optim::LmOptions lm;
      lm.scale = o.lmScale; // s's column is small (dlambda/ds <= (hi-lo)/2)
      lm.stepBase = step;
      lm.threads = o.threads;
      optim::LmHooks hooks;
      hooks.residuals = [&](const Vec &zz, Vec &r, Vec *J) {
        return pb.residuals(zz, r, J);
      };
      hooks.stop = timeUp;
      hooks.after = [&](const Vec &) {
        loss = pb.eval(z, g); // for the log's terms
        ++step;
        log("lm", loss);
      };
      return optim::levenbergMarquardt(z, steps, lm, hooks).steps;
    };

    // The lambda search (--lambda-search N). Only at the exact lambda is the
    // profile analytic; elsewhere the solution through the boundary values
    // has a |X|^p term at 0, p = 1 + 1/lambda. So lambda is held at trial
    // values, the network fitted at each (L-BFGS, then LM) and its
    // smoothness measured, not fitted: S(lambda) = MSE(R^(m)) on the window,
    // m = 2k + 3 (the paper's term) by default (LambdaSearch.h). Measured
    // (README, "k = 3 by search"): S separates lambda only in a narrow well
    // around the exact value and only once the fits are deep (loss ~1e-14),
    // so the search may follow the fits' progress instead of lambda; it found
    // 1/8 for one seed of three.
    if (o.lambdaSearch > 0) {
      pb.fixLambda = true;
      burgers::LambdaSearchHooks hooks;
      hooks.fit = [&](double lam, const Vec &from) {
        z = from;
        z.back() = pb.sOf(lam);
        loss = pb.eval(z, g);
        runLbfgs(o.searchSteps);
        if (o.searchLmSteps > 0)
          lmDone += runLm(o.searchLmSteps);
        return burgers::LambdaTrial{lam, pb.smoothness(z, o.searchOrder), loss,
                                    z};
      };
      hooks.after = [&](const burgers::LambdaTrial &t, size_t fits) {
        std::printf("search lambda %.10f  S %.4e  loss %.4e  |err| %.2e  "
                    "(%zu fits, %.0f s)\n",
                    t.lambda, t.smooth, t.loss,
                    std::fabs(t.lambda - exactLambda), fits, seconds());
        std::fflush(stdout);
      };
      hooks.stop = timeUp;
      // The first fit is Adam's, at the bracket's midpoint.
      z = burgers::searchLambda(pb.lo, pb.hi, pb.lambda(z.back()), z,
                                o.lambdaSearch, hooks)
              .z;
      loss = pb.eval(z, g);
    }

    // L-BFGS until it stalls (f's differences in the rounding noise), then
    // up to polishCycles times: Adam with a small lr (no line search, so
    // noise-tolerant) and L-BFGS again with a fresh history, until the
    // L-BFGS iteration budget is spent.
    if (o.lambdaSearch == 0)
      runLbfgs(o.lbfgsSteps);
    for (int c = 0; c < o.polishCycles && stalled && lbfgsDone < o.lbfgsSteps;
         ++c) {
      runAdam(o.polishSteps, o.polishLr, "adam2", "none", 0);
      runLbfgs(o.lbfgsSteps - lbfgsDone);
    }

    // Levenberg-Marquardt on loss = |r|^2: the loss is a near-zero-residual
    // least-squares problem, and L-BFGS stalls where f's differences reach
    // the rounding of R (~1e-16 per point, so f's noise is ~1e-22 at loss
    // 1e-13), while a Gauss-Newton step needs no line search on f.
    if (pb.fixLambda != (o.fixLambda > 0)) { // held through L-BFGS
      pb.fixLambda = o.fixLambda > 0;
      loss = pb.eval(z, g);
    }
    if (o.lmWHigh > 0 && pb.w[3] != o.lmWHigh) {
      pb.w[3] = o.lmWHigh;
      loss = pb.eval(z, g);
      std::printf("lm    high-order weight %g: loss %.4e, high-order term "
                  "%.4e\n",
                  pb.w[3], loss, pb.terms[3]);
    }
    auto moveWindow = [&](double radius) {
      pb.near.x = o.odd ? burgers::symmetricLinspace(radius, pb.near.n)
                        : burgers::linspace(-radius, radius, pb.near.n);
      loss = pb.eval(z, g);
    };
    // The window's radius in stage i of S: geometric from nearRadius to
    // lmNearRadius (S = 1: lmNearRadius at once).
    auto stageRadius = [&](int i) {
      return o.nearRadius * std::pow(o.lmNearRadius / o.nearRadius,
                                     double(i) / o.lmNearStages);
    };
    int stages = o.lmNearRadius > 0 ? o.lmNearStages : 1;
    for (int stage = 1; stage <= stages && o.lambdaSearch == 0 &&
                        o.lmSteps > lmDone && !timeUp();
         ++stage) {
      if (o.lmNearRadius > 0)
        moveWindow(stageRadius(stage));
      long steps = stage < stages ? std::min(o.lmStageSteps, o.lmSteps - lmDone)
                                  : o.lmSteps - lmDone;
      if (stages > 1)
        std::printf("lm    window +-%.4g for up to %ld iterations\n",
                    stageRadius(stage), steps);
      lmDone += runLm(steps);
    }
    std::fclose(csv);
    double wall = seconds();

    // Errors against the exact profile on a fine grid; the profile CSV holds
    // the network's and the exact jets for the plots.
    double errU = 0, errDU = 0;
    if (!burgers::writeProfile(pb, z, o, errU, errDU)) {
      std::fprintf(stderr, "cannot write %s/profile.csv\n", o.out.c_str());
      return 1;
    }

    double lam = pb.lambda(z.back()), lamErr = std::fabs(lam - exactLambda);
    double trainSeconds = wall - compileSeconds;
    char summary[2048];
    std::snprintf(
        summary, sizeof summary,
        "k %d\nseed %u\narchitecture %s\nparams %lld\nodd %d\nadam_lr "
        "%g\nadam_decay %s\n"
        "adam_lr_end %g\nweights %g %g %g %g\nlbfgs_w_high %g\nlm_w_high %g\n"
        "lambda_search %d (%ld L-BFGS, %ld LM iterations per fit; S of "
        "R^(%d))\n"
        "near %d on +-%g (lm +-%g, %d stages of %ld)\nhigh_ramp "
        "%ld\nhigh_ramp_from "
        "%g\nlm_steps_done %ld\nadam_hold_lambda "
        "%d\nlbfgs_hold_lambda %d\nthreads %d\n"
        "adam_steps %ld\nlbfgs_steps_done %ld\n"
        "lbfgs_evaluations %ld\nloss_initial %.6e\nloss_final %.6e\n"
        "lambda %.15f\nlambda_exact %.15f\nlambda_error %.3e\n"
        "max_err_U %.3e\nmax_err_dU %.3e\ncompile_seconds %.2f\n"
        "train_seconds %.2f\nsteps_per_second %.1f\nwall_seconds %.2f\n",
        o.k, o.seed, o.arch.describe().c_str(), (long long)pb.numParams,
        int(o.odd), o.adamLr, o.adamDecay.c_str(), o.adamLrEnd, o.w[0], o.w[1],
        o.w[2], o.w[3], o.lbfgsWHigh, o.lmWHigh, o.lambdaSearch, o.searchSteps,
        o.searchLmSteps, o.searchOrder, o.nearPoints, o.nearRadius,
        o.lmNearRadius, o.lmNearStages, o.lmStageSteps, o.highRamp,
        o.highRampFrom, lmDone, o.adamHoldLambda, o.lbfgsHoldLambda, o.threads,
        o.adamSteps, lbfgsDone, evals, firstLoss, loss, lam, exactLambda,
        lamErr, errU, errDU, compileSeconds, trainSeconds,
        step / std::max(trainSeconds, 1e-9), wall);
    std::printf("%s", summary);
    std::string sumPath = o.out + "/summary.txt";
    if (FILE *f = std::fopen(sumPath.c_str(), "w")) {
      std::fputs(summary, f);
      std::fclose(f);
    }
    if (!(loss < firstLoss)) {
      std::printf("FAIL: loss did not decrease\n");
      return 1;
    }
    if (o.checkLambda > 0 && !(lamErr <= o.checkLambda)) {
      std::printf("FAIL: |lambda - %g| = %.3e > %g\n", exactLambda, lamErr,
                  o.checkLambda);
      return 1;
    }
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
