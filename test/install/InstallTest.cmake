# Run with cmake -P (see CMakeLists.txt): install, build examples/, run them.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
step(${CMAKE_COMMAND} -S ${EXAMPLES_DIR} -B ${WORK_DIR}/examples
     -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
     -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/examples)
step(${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}/examples
     --output-on-failure)
# Both examples must have been built and run, not skipped.
foreach(program aot_example jit_example)
  if(NOT EXISTS ${WORK_DIR}/examples/${program})
    message(FATAL_ERROR "${program} was not built")
  endif()
endforeach()
