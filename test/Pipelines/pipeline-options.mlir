// RUN: ntp-opt %s -ntp-jet-loops-pipeline="formulation=taylor" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=FORMULATION
// RUN: not ntp-opt %s -ntp-jet-loops-pipeline="formulation=bell" 2>&1 | FileCheck %s --check-prefix=BAD-FORMULATION
// RUN: ntp-opt %s -ntp-jet-loops-pipeline="interleave=2 hoist-primitives=1 affine-outputs=4 affine-orders=5 machine-facts=512,32,4,1,2 ray-rows=5 ray-neurons=3 grad-outputs=2 grad-inputs=3" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// RUN: ntp-opt %s -ntp-gpu-pipeline="mapping=lanes" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=MAPPING
// RUN: not ntp-opt %s -ntp-gpu-pipeline="mapping=warps" 2>&1 | FileCheck %s --check-prefix=BAD-MAPPING

// The jet formulation (ntp::JetFormulation) and the GPU mapping
// (ntp::GpuMapping, the artifact's enum) are enum options of the pipelines:
// parsed once, handed to the passes as enums, printed back with the same
// spelling, and an unknown value is refused when the options are parsed.

// FORMULATION: ntp-expand-activation-jets{formulation=taylor {{.*}}outline=true}
// BAD-FORMULATION: for the --formulation option: Cannot find option named 'bell'!
// The CPU schedule reaches both lowering passes.
// SCHEDULE: ntp-expand-activation-jets{formulation=auto hoist-primitives=true interleave=2 machine-facts={512,32,4,1,2} outline=true}
// SCHEDULE: convert-ntp-to-loops{affine-orders=5 affine-outputs=4 grad-inputs=3 grad-outputs=2 machine-facts={512,32,4,1,2} ray-neurons=3 ray-rows=5}
// MAPPING: ntp-gpu-kernel{block-size=128 mapping=lanes
// BAD-MAPPING: for the --mapping option: Cannot find option named 'warps'!

ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
