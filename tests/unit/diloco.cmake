# DiLoCo outer-step arithmetic.
agora_unit_test(diloco SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_diloco.c LIBS agora_train
  CASES diloco_outer_nesterov_matches_pytorch_by_hand diloco_pseudo_grad_is_outer_minus_inner
  diloco_outer_step_is_bit_reproducible
  diloco_outer_estimate_matches_step_without_side_effects)
