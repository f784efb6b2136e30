# g++ 12 warns (-Wmaybe-uninitialized, and with the sanitizers' instrumentation -Wuninitialized:
# "'__Y' is used uninitialized" in avx512fintrin.h's _mm512_unpacklo_pd, 56 times for Eigen's
# ptranspose in the asan tree) inside its own AVX-512 intrinsics once Eigen and xsimd call them
# inlined into our code: their code, not ours, and SYSTEM includes cannot hide it because the
# warning is reported where the intrinsic is inlined. Which files trip it depends on the CPU's
# -march=native, so it is turned off for every source of TARGET that includes Eigen or xsimd, found
# by reading the sources (a new or split file needs no list kept here); all other files keep it.
function(gradcam_quiet_inlined_intrinsics target)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    return()
  endif()
  get_target_property(sources ${target} SOURCES)
  get_target_property(dir ${target} SOURCE_DIR)
  foreach(src ${sources})
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${dir} OUTPUT_VARIABLE path)
    if(NOT path MATCHES "\\.cpp$" OR NOT EXISTS ${path})
      continue()
    endif()
    file(STRINGS ${path} includes REGEX "^[ \t]*#[ \t]*include[ \t]*<(Eigen|unsupported/Eigen|xsimd)/")
    if(includes)
      set_property(SOURCE ${path} TARGET_DIRECTORY ${target} APPEND PROPERTY COMPILE_OPTIONS -Wno-maybe-uninitialized -Wno-uninitialized)
    endif()
  endforeach()
endfunction()
