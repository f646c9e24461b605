# DiLoCo end to end: real coordinator and node processes on loopback.
agora_unit_test(diloco_launch SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_diloco_launch.c
  LIBS agora_dep_cjson LABEL integration TIMEOUT 180 CASES
  diloco_two_nodes_end_bit_identical diloco_survives_sigkill_and_admits_joiner
  diloco_lone_survivor_wins_tie_against_joiner diloco_launch_rejects_bad_config)
