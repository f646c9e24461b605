# comm unit tests (codecs, wire, ring order) and in-process loopback tests.
agora_unit_test(comm_q8 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_comm_q8.c LIBS agora_comm CASES
  q8_lut8_fast_matches_reference q8_lut8_golden_ties_outliers_sigma_zero
  q8_lut8_error_bound_gaussian q8_lut8_error_bound_heavy_tailed q8_lut8_preserves_sum
  q8_minmax8_rounds_to_nearest_and_handles_negative q8_minmax8_constant_input
  q8_streaming_decode_matches_whole)
agora_unit_test(comm_wire SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_comm_wire.c LIBS agora_comm agora_dep_xxhash CASES
  wire_header_round_trips_little_endian wire_rejects_bad_magic_version_flags
  wire_length_bounded_per_type wire_checksum_detects_flips wire_reader_never_overruns
  wire_checksum_matches_libxxhash)
agora_unit_test(comm_topo SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_comm_topo.c LIBS agora_comm CASES
  topo_exact_matches_brute_force topo_prefers_fast_links topo_heuristic_large_is_valid
  topo_tie_break_by_sum)
