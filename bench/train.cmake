# train-engine benchmarks (run by scripts/bench.d/30-train.sh, never by ctest).
if(TARGET agora_train AND AGORA_BLAS)
  add_executable(bench_train ${CMAKE_SOURCE_DIR}/bench/bench_train.c)
  target_link_libraries(bench_train PRIVATE agora_train)
  agora_warnings(bench_train)
  set_target_properties(bench_train PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
