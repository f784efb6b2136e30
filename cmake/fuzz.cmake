# The libFuzzer targets (tests/fuzz/fuzz_*.cpp) with ASan + UBSan, over the same engine library as
# every other tree, built with coverage instrumentation (fuzzer-no-link) for them. ctest runs each in
# CI mode (tools/test.d/fuzz.sh): the regressions replayed, then a fixed number of inputs from a
# fixed seed. Long random fuzzing: tools/fuzz.sh --random.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "fuzz: libFuzzer needs clang (the fuzz preset uses clang++-14), not ${CMAKE_CXX_COMPILER_ID}")
endif()
set(GRADCAM_FUZZ_SANITIZERS address,undefined)
target_compile_options(gradcam_engine PRIVATE -fsanitize=fuzzer-no-link,${GRADCAM_FUZZ_SANITIZERS}
  -fno-sanitize-recover=undefined)

file(GLOB GRADCAM_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
foreach(src ${GRADCAM_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)   # fuzz_model
  string(REGEX REPLACE "^fuzz_" "" name ${target}) # model: its corpus and regressions folders
  add_executable(${target} ${src})
  target_link_libraries(${target} PRIVATE gradcam_engine_internals gradcam_warnings)
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer,${GRADCAM_FUZZ_SANITIZERS} -fno-sanitize-recover=undefined)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer,${GRADCAM_FUZZ_SANITIZERS})
  add_test(NAME fuzz.${name}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tools/test.d/fuzz.sh $<TARGET_FILE:${target}> ${name}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 1200)
endforeach()
