# train-engine fuzz targets: the safetensors loader (checkpoint header and tensor table).
agora_fuzz_target(safetensors SOURCES ${CMAKE_SOURCE_DIR}/fuzz/fuzz_safetensors.c)
