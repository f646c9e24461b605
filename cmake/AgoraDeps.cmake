# Third-party libraries, all from Debian packages (scripts/deps.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

function(agora_require_lib var lib header)
  find_library(${var}_LIB NAMES ${lib})
  find_path(${var}_INC NAMES ${header})
  if(NOT ${var}_LIB OR NOT ${var}_INC)
    message(FATAL_ERROR "agora needs ${lib} (${header}); run scripts/deps.sh as root")
  endif()
  add_library(agora_dep_${lib} INTERFACE IMPORTED GLOBAL)
  set_target_properties(agora_dep_${lib} PROPERTIES
    INTERFACE_LINK_LIBRARIES ${${var}_LIB} INTERFACE_INCLUDE_DIRECTORIES ${${var}_INC})
endfunction()

agora_require_lib(INIH inih ini.h)
agora_require_lib(CJSON cjson cjson/cJSON.h)
agora_require_lib(XXHASH xxhash xxhash.h)
agora_require_lib(SODIUM sodium sodium.h)
agora_require_lib(PCRE2 pcre2-8 pcre2.h)
agora_require_lib(CMOCKA cmocka cmocka.h)
find_library(MATH_LIB m)

if(AGORA_BLAS)
  find_path(CBLAS_INC NAMES cblas.h PATH_SUFFIXES openblas)
  find_library(OPENBLAS_LIB NAMES openblas)
  if(NOT CBLAS_INC OR NOT OPENBLAS_LIB)
    message(FATAL_ERROR "AGORA_BLAS=ON needs libopenblas-dev; run scripts/deps.sh as root")
  endif()
  add_library(agora_dep_blas INTERFACE IMPORTED GLOBAL)
  set_target_properties(agora_dep_blas PROPERTIES
    INTERFACE_LINK_LIBRARIES ${OPENBLAS_LIB} INTERFACE_INCLUDE_DIRECTORIES ${CBLAS_INC}
    INTERFACE_COMPILE_DEFINITIONS AGORA_HAVE_BLAS=1)
else()
  add_library(agora_dep_blas INTERFACE IMPORTED GLOBAL)
endif()

# oneDNN's sgemm runs the products whose first operand is not transposed (faster there than
# OpenBLAS on the machines measured; docs/train.md, "Stop 12"). OpenBLAS runs the rest.
add_library(agora_dep_dnnl INTERFACE IMPORTED GLOBAL)
if(AGORA_BLAS AND AGORA_DNNL)
  find_path(DNNL_INC NAMES oneapi/dnnl/dnnl.h)
  find_library(DNNL_LIB NAMES dnnl)
  if(NOT DNNL_INC OR NOT DNNL_LIB)
    message(FATAL_ERROR "AGORA_DNNL=ON needs libdnnl-dev; run scripts/deps.sh as root "
                        "(or configure with -DAGORA_DNNL=OFF for OpenBLAS alone)")
  endif()
  set_target_properties(agora_dep_dnnl PROPERTIES
    INTERFACE_LINK_LIBRARIES ${DNNL_LIB} INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INC}
    INTERFACE_COMPILE_DEFINITIONS AGORA_HAVE_DNNL=1)
endif()

add_library(agora_dep_openmp INTERFACE IMPORTED GLOBAL)
if(AGORA_OPENMP)
  find_package(OpenMP REQUIRED COMPONENTS C)
  set_target_properties(agora_dep_openmp PROPERTIES
    INTERFACE_LINK_LIBRARIES OpenMP::OpenMP_C INTERFACE_COMPILE_DEFINITIONS AGORA_HAVE_OPENMP=1)
endif()
