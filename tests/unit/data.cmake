# Tokenizer and data pipeline (src/train/{pretok,tokenizer*,bpe_train,data*}.c).
if(TARGET agora_train)
  agora_unit_test(tokenizer SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_tokenizer.c
    LIBS agora_train CASES
    pretok_splits_like_gpt2 pretok_safe_cut_gives_identical_chunks
    tokenizer_gpt2_matches_golden_ids tokenizer_gpt2_heap_encoder_matches_naive_rule
    tokenizer_gpt2_saved_in_our_format_encodes_the_same tokenizer_gpt2_loader_rejects_bad_files
    tokenizer_roundtrips_text_and_arbitrary_bytes tokenizer_heap_encoder_matches_naive_rule
    tokenizer_train_matches_recount_reference tokenizer_train_is_deterministic_across_threads
    tokenizer_train_stops_early_on_tiny_corpus tokenizer_file_roundtrips
    tokenizer_file_errors_name_line_and_reason tokenizer_create_rejects_bad_merge_graphs
    tokenizer_oom_at_each_allocation_is_clean tokenizer_cli_train_encode_decode)
  agora_unit_test(data SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_data.c
    LIBS agora_train CASES
    data_shard_roundtrips_uint16_and_uint32 data_shard_malformed_headers_are_rejected_clearly
    data_loader_batches_are_next_token_windows data_loader_is_deterministic
    data_loader_resume_from_cursor_gives_identical_stream
    data_loader_workers_are_disjoint_and_cover_the_split
    data_loader_rejects_bad_meta_and_mismatched_shards data_loader_rejects_absurd_token_counts
    data_prepare_writes_split_and_is_thread_independent
    data_prepare_io_and_oom_failures_are_clean data_cli_prepare_and_info)
endif()
