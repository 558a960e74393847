#===- cmake/Sanitizers.cmake - NTP_SANITIZE: build ntp under sanitizers ---===#
#
# -DNTP_SANITIZE=address,undefined   ASan + UBSan (what CI runs on the runtime)
# -DNTP_SANITIZE=thread              TSan (not with address)
# -DNTP_SANITIZE=undefined           UBSan alone, and so on
#
# Included by the top-level CMakeLists.txt before any target is defined, so
# the flags apply to every target of this project (the runtime, the fake
# kernels the runtime tests dlopen, the tests themselves, and the compiler
# when it is built) and to nothing prebuilt (LLVM/MLIR, GoogleTest).
#
# The sanitizer runtime is linked as a shared library (-shared-libsan):
# libntp_runtime.so is linked with --no-undefined, and with the default
# static runtime a shared library's references to __asan_* / __ubsan_* stay
# undefined until the executable provides them. One shared runtime also means
# one copy of the sanitizer's state for the test, the runtime and every
# dlopen'ed kernel. Its directory is put in the rpath so the binaries run as
# built. Needs clang's compiler-rt (Debian: libclang-rt-22-dev).
#
# Run-time options (ASAN_OPTIONS, UBSAN_OPTIONS) are set by whoever runs the
# tests: scripts/dev.sh sanitize.
#
#===----------------------------------------------------------------------===#

set(NTP_SANITIZE "" CACHE STRING
    "Sanitizers for ntp's targets, comma-separated: address, undefined, thread, leak (empty: none)")

set(NTP_SANITIZER_RUNTIME_DIR "")
if(NTP_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR
     NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NTP_SANITIZE needs clang for C and C++ "
      "(-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22)")
  endif()
  string(REPLACE "," ";" ntp_sanitizers "${NTP_SANITIZE}")
  foreach(s IN LISTS ntp_sanitizers)
    if(NOT s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "NTP_SANITIZE: unknown sanitizer '${s}' "
        "(expected address, undefined, thread or leak)")
    endif()
  endforeach()
  if("thread" IN_LIST ntp_sanitizers AND "address" IN_LIST ntp_sanitizers)
    message(FATAL_ERROR "NTP_SANITIZE: thread and address cannot be combined")
  endif()

  # The runtime directory of this clang's compiler-rt; fail here, with the
  # package to install, rather than at the first link.
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-runtime-dir
    OUTPUT_VARIABLE NTP_SANITIZER_RUNTIME_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
  file(GLOB ntp_sanitizer_libs "${NTP_SANITIZER_RUNTIME_DIR}/libclang_rt.*san*.so")
  if(NOT ntp_sanitizer_libs)
    message(FATAL_ERROR "NTP_SANITIZE: no sanitizer runtime in "
      "'${NTP_SANITIZER_RUNTIME_DIR}'; install compiler-rt "
      "(Debian: apt-get install libclang-rt-22-dev)")
  endif()

  set(ntp_sanitize_flags -fsanitize=${NTP_SANITIZE} -fno-omit-frame-pointer
      -fno-optimize-sibling-calls -g)
  if("undefined" IN_LIST ntp_sanitizers)
    # Every UB report is fatal, so a test cannot pass over one.
    list(APPEND ntp_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${ntp_sanitize_flags})
  add_link_options(-fsanitize=${NTP_SANITIZE} -shared-libsan
    "LINKER:-rpath,${NTP_SANITIZER_RUNTIME_DIR}")
  message(STATUS "ntp: sanitizers ${NTP_SANITIZE} "
    "(runtime from ${NTP_SANITIZER_RUNTIME_DIR})")
endif()

