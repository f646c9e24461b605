# Tokenizer fuzz targets: raw bytes through pre-tokenizer + BPE, and both vocab loaders.
if(TARGET agora_train)
  agora_fuzz_target(tokenizer SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_tokenizer.c LIBS agora_train)
  agora_fuzz_target(vocab SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_vocab.c LIBS agora_train)
  agora_fuzz_target(vocab_gpt2 SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_vocab_gpt2.c LIBS agora_train)
endif()
# The token-shard directory (meta.json + a shard) and HF config.json parsing.
if(TARGET agora_train)
  agora_fuzz_target(data_dir SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_data_dir.c LIBS agora_train)
  agora_fuzz_target(model_config SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_model_config.c
    LIBS agora_train)
endif()
