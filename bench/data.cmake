# Tokenizer benchmark (run by scripts/bench.d/30-tokenizer.sh, never by ctest).
if(TARGET agora_train)
  add_executable(bench_tokenizer ${CMAKE_SOURCE_DIR}/bench/bench_tokenizer.c)
  target_link_libraries(bench_tokenizer PRIVATE agora_train agora_core)
  agora_warnings(bench_tokenizer)
endif()
