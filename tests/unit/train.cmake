# Training engine unit tests (train-engine). Each case is its own ctest entry.
#
# Every train test runs with OMP_WAIT_POLICY=passive: on a shared 2-core CI machine,
# libgomp's spinning workers otherwise steal the core the other thread needs and small
# kernels run up to 20x slower. It changes timing only, never results.
function(agora_train_tests module label)
  foreach(c ${ARGN})
    set_property(TEST ${label}.${module}.${c} APPEND PROPERTY ENVIRONMENT
      OMP_WAIT_POLICY=passive)
  endforeach()
endfunction()

set(TRAIN_OPS_CASES
  train_ops_matmul_grad_matches_finite_difference train_ops_matmul_fast_matches_ref
  train_ops_matmul_multi_fast_matches_ref train_ops_sgemm_select_names_and_rejects
  train_ops_sgemm_amx_matches_double
  train_ops_rmsnorm_grad_matches_finite_difference train_ops_rmsnorm_fast_matches_ref
  train_ops_rope_grad_matches_finite_difference
  train_ops_attention_grad_matches_finite_difference train_ops_attention_fast_matches_ref
  train_ops_swiglu_grad_matches_finite_difference train_ops_swiglu_fast_matches_ref
  train_ops_cross_entropy_zloss_grad_matches_finite_difference
  train_ops_cross_entropy_fast_matches_ref
  train_ops_embedding_fast_matches_ref)
agora_unit_test(train_ops SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_ops.c
  LIBS agora_train CASES ${TRAIN_OPS_CASES})
agora_train_tests(train_ops unit ${TRAIN_OPS_CASES})

set(TRAIN_MODEL_CASES
  train_model_whole_grad_matches_finite_difference train_model_fast_matches_ref
  train_model_grad_accumulation_equals_big_batch train_model_rejects_bad_tokens_and_shapes
  train_model_adamw_matches_torch_formula train_model_adamw_scaled_equals_clip_then_step
  train_model_grad_clip_scales_to_max_norm
  train_model_schedules_follow_their_formulas train_model_presets_have_expected_sizes
  train_model_config_json_round_trips train_model_tiny_overfits_text)
agora_unit_test(train_model SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_model.c
  LIBS agora_train TIMEOUT 180 CASES ${TRAIN_MODEL_CASES})
agora_train_tests(train_model unit ${TRAIN_MODEL_CASES})

set(SAFETENSORS_CASES
  safetensors_round_trips safetensors_rejects_truncated_and_corrupt_input
  ckpt_dir_done_marker_and_retention ckpt_round_trips_weights_and_optimizer
  ckpt_snapshot_writes_what_save_wrote_at_take_time)
agora_unit_test(safetensors SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_safetensors.c
  LIBS agora_train CASES ${SAFETENSORS_CASES})
agora_train_tests(safetensors unit ${SAFETENSORS_CASES})

# PyTorch cross-check: runs /usr/bin/python3 (Debian python3-torch). Labelled torch as well
# so sanitizer runs (which exclude it) skip the python child.
set(TRAIN_TORCH_CASES train_torch_untied_model_matches_pytorch
  train_torch_tied_model_matches_pytorch)
agora_unit_test(train_torch SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_torch.c
  LIBS agora_train TIMEOUT 120 CASES ${TRAIN_TORCH_CASES})
agora_train_tests(train_torch unit ${TRAIN_TORCH_CASES})
foreach(c ${TRAIN_TORCH_CASES})
  set_property(TEST unit.train_torch.${c} PROPERTY LABELS unit torch)
endforeach()

# The profiling builds (-DAGORA_TRAIN_PROF in model.c, -DAGORA_GEMM_PROF in layers.c) are
# never the build under test, so their code is type-checked here to keep it from rotting.
if(TARGET agora_train AND AGORA_OPENMP AND OpenMP_C_FLAGS)
  separate_arguments(AGORA_OMP_FLAGS UNIX_COMMAND "${OpenMP_C_FLAGS}")
  foreach(pair "model.c;AGORA_TRAIN_PROF" "layers.c;AGORA_GEMM_PROF")
    list(GET pair 0 src)
    list(GET pair 1 def)
    add_test(NAME train_prof_builds.${def}
      COMMAND ${CMAKE_C_COMPILER} -std=c11 -Wall -Wextra -Werror ${AGORA_OMP_FLAGS}
              -DAGORA_HAVE_OPENMP -D${def} -I${CMAKE_SOURCE_DIR}/include
              -I${CMAKE_SOURCE_DIR}/src -fsyntax-only ${CMAKE_SOURCE_DIR}/src/train/${src})
    set_tests_properties(train_prof_builds.${def} PROPERTIES TIMEOUT 60 LABELS unit)
  endforeach()
endif()
