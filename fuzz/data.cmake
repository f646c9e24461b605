# Tokenizer fuzz targets: raw bytes through pre-tokenizer + BPE, and both vocab loaders.
if(TARGET agora_train)
  agora_fuzz_target(tokenizer SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_tokenizer.c LIBS agora_train)
  agora_fuzz_target(vocab SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_vocab.c LIBS agora_train)
  agora_fuzz_target(vocab_gpt2 SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_vocab_gpt2.c LIBS agora_train)
endif()
