# Simulator file parsers (spec §3.2): edge lists and agent-attribute CSVs.
agora_fuzz_target(sim_edges SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_sim_edges.c LIBS agora_sim)
agora_fuzz_target(sim_agents SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_sim_agents.c LIBS agora_sim)
agora_fuzz_target(sim_ckpt SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_sim_ckpt.c LIBS agora_sim)
