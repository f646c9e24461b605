# comm benchmarks (run by scripts/bench.d/10-comm.sh, never by ctest):
#   bench_q8             LUT8/MINMAX8 quantize + dequantize throughput beside memcpy
#   bench_allreduce_tcp  the loopback TCP ceiling: W processes in a ring, P streams each
if(TARGET agora_comm)
  add_executable(bench_q8 ${CMAKE_SOURCE_DIR}/bench/bench_q8.c)
  target_link_libraries(bench_q8 PRIVATE agora_comm agora_core)
  target_include_directories(bench_q8 PRIVATE ${CMAKE_SOURCE_DIR}/src)
  agora_warnings(bench_q8)
  add_executable(bench_allreduce_tcp ${CMAKE_SOURCE_DIR}/bench/bench_allreduce_tcp.c)
  target_link_libraries(bench_allreduce_tcp PRIVATE agora_comm agora_core)
  target_include_directories(bench_allreduce_tcp PRIVATE ${CMAKE_SOURCE_DIR}/src)
  agora_warnings(bench_allreduce_tcp)
endif()
