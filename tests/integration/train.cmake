# Training CLI end to end (train-engine): real `agora train` / `agora generate` processes.
# agora_train_tests (tests/unit/train.cmake) sets OMP_WAIT_POLICY=passive; see there.
set(TRAIN_CLI_CASES
  train_cli_resume_is_bit_exact train_cli_generate_samples_from_checkpoint
  train_cli_intellect1_prints_size_only train_cli_corrupt_checkpoint_fails_clearly
  train_cli_sgemm_env_picks_and_warns)
agora_unit_test(train_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/integration/train_cli.c
  LIBS agora_train LABEL integration TIMEOUT 180 CASES ${TRAIN_CLI_CASES})
agora_train_tests(train_cli integration ${TRAIN_CLI_CASES})
