#!/usr/bin/env python3
#===- burgers_pinn_jax.py - The Burgers PINN in JAX, jets from ntp.jax -------===#
#
# The paper's self-similar Burgers profile (the problem of burgers_problem.py
# and examples/burgers/README.md) written the way jaxpi writes PINNs: a model
# object with pure functions of a parameter pytree (u_jet, r_jet, losses), a
# dict of weighted loss terms, one jax.jit-compiled training step
# (value_and_grad + optax), and a log line every --log steps. Every
# derivative of U comes from ntp.jax.jet (one fused kernel per order
# through the XLA FFI; its gradient is ntp's generated reverse mode).
#
#   R = -lambda U + ((1 + lambda) X + U) U' = 0,  X in [-2, 2],
#   loss = (U(-2) - 1)^2 + (U(2) + 1)^2 + 0.3 MSE(R) + 0.3 MSE(R')
#          + 0.2 MSE(R^(2k+3) on 31 points in [-0.075, 0.075]),
#   U = 1.15 N(X), N a 1-24-24-24-1 tanh MLP in f64,
#   lambda = lo + (hi - lo)(tanh(s) + 1)/2 in [1/(2k+3), 1/(2k+1)]
#   (k = 0: the smooth profile has lambda = 1/2).
#
#   PYTHONPATH=build/python ~/.cache/ntp/jax-venv/bin/python \
#       examples/python/burgers_pinn_jax.py [--steps N] [--k K] [--log M]
#
#===----------------------------------------------------------------------===#
import argparse
import math
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import ntp.jax  # noqa: E402

SCALE = 1.15
LAYERS = [1, 24, 24, 24, 1]


def init_params(key):
    """torch.nn.Linear's initialisation, as (W [out, in], b) pairs, and s."""
    net = []
    for i in range(len(LAYERS) - 1):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1 / math.sqrt(LAYERS[i])
        net.append((jax.random.uniform(kw, (LAYERS[i + 1], LAYERS[i]),
                                       jnp.float64, -bound, bound),
                    jax.random.uniform(kb, (LAYERS[i + 1],), jnp.float64,
                                       -bound, bound)))
    return {"net": net, "s": jnp.zeros((), jnp.float64)}


class BurgersProfile:
    """The k-th smooth self-similar profile as a PINN (jaxpi's layout: the
    model holds the problem; every method is a pure function of params)."""

    def __init__(self, k=0):
        self.k = k
        self.lo, self.hi = 1.0 / (2 * k + 3), 1.0 / (2 * k + 1)
        self.x_grid = jnp.linspace(-2.0, 2.0, 301)[:, None]
        self.x_near = jnp.linspace(-0.075, 0.075, 31)[:, None]
        self.x_bc = jnp.asarray([[-2.0], [2.0]])
        self.weights = {"bc": 1.0, "r": 0.3, "dr": 0.3, "high": 0.2}

    def lam(self, params):
        return self.lo + (self.hi - self.lo) * (jnp.tanh(params["s"]) + 1) / 2

    def u_jet(self, params, x, order):
        """[U, U', ..., U^(order)] at x: [(order+1), batch]."""
        return SCALE * ntp.jax.jet(params["net"], x, order,
                                   activation="tanh")[:, :, 0]

    def r_jet(self, params, x, m):
        """[R, R', ..., R^(m)] by the Leibniz rule:
        R^(i) = -lambda U^(i) + (1 + lambda)(X U^(i+1) + i U^(i))
                + sum_j C(i, j) U^(j) U^(i+1-j)."""
        u = self.u_jet(params, x, m + 1)
        lam, X = self.lam(params), x[:, 0]
        rows = []
        for i in range(m + 1):
            quad = sum(math.comb(i, j) * u[j] * u[i + 1 - j]
                       for j in range(i + 1))
            rows.append(-lam * u[i] + (1 + lam) * (X * u[i + 1] + i * u[i])
                        + quad)
        return jnp.stack(rows)

    def losses(self, params):
        order = 2 * self.k + 3
        r = self.r_jet(params, self.x_grid, 1)
        high = self.r_jet(params, self.x_near, order)[order]
        ub = self.u_jet(params, self.x_bc, 0)[0]
        return {"bc": (ub[0] - 1) ** 2 + (ub[1] + 1) ** 2,
                "r": jnp.mean(r[0] ** 2), "dr": jnp.mean(r[1] ** 2),
                "high": jnp.mean(high ** 2)}

    def loss(self, params):
        terms = self.losses(params)
        return sum(self.weights[k] * v for k, v in terms.items()), terms


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--k", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--log", type=int, default=500)
    args = ap.parse_args()

    model = BurgersProfile(args.k)
    params = init_params(jax.random.PRNGKey(0))
    schedule = optax.exponential_decay(args.lr, transition_steps=1000,
                                       decay_rate=0.8)
    opt = optax.adam(schedule)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        (loss, terms), grads = jax.value_and_grad(model.loss, has_aux=True)(
            params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss, terms

    t0 = time.perf_counter()
    params, state, loss, terms = step(params, state)  # compiles
    jax.block_until_ready(loss)
    print("compiled the training step in %.2f s (kernels: orders 0, 2, %d)"
          % (time.perf_counter() - t0, 2 * args.k + 4))
    t0 = time.perf_counter()
    for it in range(1, args.steps + 1):
        params, state, loss, terms = step(params, state)
        if it % args.log == 0 or it == args.steps:
            loss = float(loss)
            print("step %5d  loss %.3e  (bc %.1e, R %.1e, R' %.1e, "
                  "R^(%d) %.1e)  lambda %.5f  %.2f ms/step" % (
                      it, loss, terms["bc"], terms["r"], terms["dr"],
                      2 * args.k + 3, terms["high"],
                      float(model.lam(params)),
                      1e3 * (time.perf_counter() - t0) / it), flush=True)
    target = 1.0 / (2 * args.k + 2)
    print("lambda = %.6f (the smooth profile's: %.6f, |error| %.1e)" % (
        float(model.lam(params)), target,
        abs(float(model.lam(params)) - target)))
    if not np.isfinite(float(loss)):
        raise SystemExit("training diverged")


if __name__ == "__main__":
    main()
