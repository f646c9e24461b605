# The comm frame decoder and field readers (fuzz/fuzz_wire.c); corpus in fuzz/corpus/wire/.
agora_fuzz_target(wire SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_wire.c LIBS agora_comm)
target_include_directories(replay_wire PRIVATE ${CMAKE_SOURCE_DIR}/src)
if(TARGET fuzz_wire)
  target_include_directories(fuzz_wire PRIVATE ${CMAKE_SOURCE_DIR}/src)
endif()
