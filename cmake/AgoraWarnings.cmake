# Strict warnings, each added only if the compiler accepts it (conventions, part 2).
include(CheckCCompilerFlag)
set(AGORA_WARNINGS "")
foreach(flag -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
             -Wformat=2 -Wvla -Wimplicit-fallthrough -Wnull-dereference -Wundef -Wcast-qual)
  string(MAKE_C_IDENTIFIER "HAVE${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    list(APPEND AGORA_WARNINGS ${flag})
  endif()
endforeach()
if(AGORA_FATAL_WARNINGS)
  list(APPEND AGORA_WARNINGS -Werror)
endif()
# -Wconversion applies to core and comm, where sizes and wire fields live.
check_c_compiler_flag(-Wconversion HAVE_WCONVERSION)
set(AGORA_WCONVERSION "")
if(HAVE_WCONVERSION)
  set(AGORA_WCONVERSION -Wconversion)
endif()

# agora_warnings(target [CONVERSION]) applies the project's warnings to one target.
function(agora_warnings target)
  cmake_parse_arguments(W "CONVERSION" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:${AGORA_WARNINGS}>)
  if(W_CONVERSION)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:${AGORA_WCONVERSION}>)
  endif()
endfunction()
