// RUN: ntp-compile %s --emit=llvm | FileCheck %s

// The artifact exports a C-ABI entry point over plain pointers and the
// manifest the runtime checks; the memref-ABI body is internal and inlined.

// CHECK: @ntp_kernel_manifest = {{.*}}constant {{.*}} c"ntp-kernel-manifest\0Aabi_version=2\0Aname=pinn\0Aactivation=tanh\0Aorder=9\0Adtype=f64\0Adevice=cpu\0Alayers=1,24,24,24,1\0Anum_params=1273\0Atile=8\0Abackward=1\0Aworkspace_per_tile=11680\0Atarget_cpu=x86-64-v3\0Acpu_features=sse4.2,avx,avx2,fma,bmi,bmi2\0A\00"
// CHECK-LABEL: define void @ntp_kernel_forward_tiles(ptr {{.*}}, ptr {{.*}}, ptr {{.*}}, ptr {{.*}}, i64 {{.*}}, i64 {{.*}}, i64 {{.*}})
// CHECK: call {{.*}}<8 x double> @llvm.fma.v8f64
// CHECK-NOT: define {{.*}}@pinn_forward_tiles
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f64
