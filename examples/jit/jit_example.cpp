//===- jit_example.cpp - Compile and run an ntp kernel in process ---------===//
//
// Describes a 1-24-24-24-1 tanh network, compiles its order-9 jet kernel
// with the JIT (cached on disk, see ntp/jit.h), and evaluates it at a few
// points. Needs only ntp::jit (no MLIR headers).
//
//===----------------------------------------------------------------------===//
#include <ntp/JIT/Jit.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main() try {
  ntp::MlpSpec spec;
  spec.layers = {1, 24, 24, 24, 1};
  spec.activation = "tanh";
  spec.order = 9;
  ntp::Kernel kernel = ntp::compile(spec); // host CPU, default cache

  std::vector<float> params(static_cast<size_t>(kernel.info().num_params));
  for (size_t i = 0; i < params.size(); ++i)
    params[i] = 0.3f * std::sin(float(i)); // stand-in for trained weights
  std::vector<float> x = {-0.5f, 0.0f, 0.5f}, v = {1.0f}, out;
  kernel.forward(x, v, params, out); // out: [order + 1, batch, 1]

  size_t batch = x.size();
  for (size_t b = 0; b < batch; ++b)
    std::printf("x = %+.2f: f = %+.6f, f' = %+.6f, f^(9) = %+.6g\n", x[b],
                out[b], out[batch + b], out[9 * batch + b]);
  return 0;
} catch (const ntp::Error &e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
