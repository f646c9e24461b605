# comm integration tests: real `agora master` and forked peer processes on loopback.
agora_unit_test(comm_cluster SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_comm_cluster.c
  LIBS agora_comm LABEL integration TIMEOUT 180 CASES
  allreduce_matches_reference_2_peers allreduce_matches_reference_3_peers
  allreduce_matches_reference_5_peers allreduce_matches_reference_8_peers
  error_feedback_residuals_close_the_gap_3_peers
  sigkill_mid_collective_survivors_retry_exact sigstop_peer_is_evicted_and_others_go_on
  join_mid_run_receives_shared_state wrong_key_rejected_and_bad_frames_dropped
  master_link_drops_injected_frames
  ring_data_macs_catch_tampering_on_the_path
  shared_state_macs_catch_tampering_on_the_path
  allreduce_async_runs_in_the_background
  shared_state_strategies_receive_only_and_send_only
  passive_link_timing_reports_a_saturated_link
  initiate_timeout_withdraws_and_cluster_recovers measure_links_then_reduce_exact
  abort_unblocks_a_waiting_allreduce master_death_never_hangs_peers
  proxy_reset_fails_one_collective_then_recovers deathrattle_removes_a_leaver_at_once
  rate_limit_bounds_allreduce_time_from_below)
# The churn soak (issue 4: about 2 minutes in CI): 120 s in every `make test`;
# AGORA_SOAK_S=<seconds> runs it longer (nightly, e.g. AGORA_SOAK_S=3600).
agora_unit_test(comm_soak SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/test_comm_cluster.c
  LIBS agora_comm LABEL integration TIMEOUT 3600 CASES churn_soak)
