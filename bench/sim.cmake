# Simulator throughput and memory (scripts/bench.d/20-sim.sh runs it with the NumPy reference).
add_executable(bench_sim_step ${CMAKE_SOURCE_DIR}/bench/bench_sim_step.c)
target_link_libraries(bench_sim_step PRIVATE agora_sim agora_core)
agora_warnings(bench_sim_step)
