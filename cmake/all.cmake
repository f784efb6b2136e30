# The "all" preset: one build and one ctest for the whole project (what tools/test.sh runs).
# Building it configures and builds each preset's own tree in turn (native, wasm, asan, fuzz: each
# uses every core, so one at a time); its ctest runs every tree's tests, then the Node tests, which
# need more than one tree (the native CLI, the wasm CLI and the site's JS API).
set(GRADCAM_ALL_PRESETS native wasm asan fuzz CACHE STRING "The presets that preset all builds and tests")
# Where CMakePresets.json puts each preset's tree ("binaryDir": "${sourceDir}/build/${presetName}").
set(GRADCAM_BUILD_ROOT ${CMAKE_SOURCE_DIR}/build)
enable_testing()

set(previous "")
set(trees "")
foreach(preset ${GRADCAM_ALL_PRESETS})
  # Configure runs every time, so an edited preset takes effect; it is quick once a tree exists.
  # USES_TERMINAL: the console pool runs one at a time and shows the compiler's output as it comes.
  add_custom_target(${preset} ALL
    COMMAND ${CMAKE_COMMAND} --preset ${preset} --log-level=WARNING
    COMMAND ${CMAKE_COMMAND} --build --preset ${preset}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    COMMENT "preset ${preset}: configure and build ${GRADCAM_BUILD_ROOT}/${preset}"
    USES_TERMINAL VERBATIM)
  if(previous)
    add_dependencies(${preset} ${previous})
  endif()
  set(previous ${preset})
  # A tree that was never built fails the run instead of passing with no tests.
  set(tree ${GRADCAM_BUILD_ROOT}/${preset})
  string(APPEND trees "if(EXISTS \"${tree}/CTestTestfile.cmake\")\n  subdirs(\"${tree}\")\n"
                      "else()\n  add_test(${preset}.not_built \"${CMAKE_COMMAND}\" -E false)\nendif()\n")
endforeach()
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/trees.cmake CONTENT "${trees}" @ONLY)
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${CMAKE_BINARY_DIR}/trees.cmake)

# The JS API, the native and wasm CLIs against each other, TF.js as an outside reference, the
# README's CLI block.
find_program(NODE_EXECUTABLE NAMES node nodejs REQUIRED)
add_test(NAME node COMMAND ${NODE_EXECUTABLE} --test --test-concurrency=1 tests/js/
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# 1500 s: the zoo test's default selection adds about four minutes (tests/js/onnx_zoo.test.mjs).
set_tests_properties(node PROPERTIES TIMEOUT 1500)

# The ONNX models and manifest of the ONNX cross-check (tests/js/onnx_crosscheck.test.mjs), written
# by PyTorch from fixed seeds into build/onnx-fixtures; skipped while newer than the script. The
# test makes them itself too, so `node --test` alone works on a fresh clone.
set(GRADCAM_TORCH_PYTHON /usr/bin/python3 CACHE FILEPATH "The Python with Debian's torch, torchvision and onnx")
add_test(NAME onnx_fixtures
  COMMAND ${GRADCAM_TORCH_PYTHON} tools/onnx_fixtures.py ${GRADCAM_BUILD_ROOT}/onnx-fixtures --if-stale
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(onnx_fixtures PROPERTIES FIXTURES_SETUP onnx_fixtures TIMEOUT 300)
set_tests_properties(node PROPERTIES FIXTURES_REQUIRED onnx_fixtures ENVIRONMENT GRADCAM_PYTHON=${GRADCAM_TORCH_PYTHON})

# The whole torchvision zoo (tests/js/onnx_zoo.test.mjs with GRADCAM_ZOO=all: every model
# tools/onnx_zoo.py exports, natively, and one per family in wasm; hours on 2 cores, most of it
# the first export into build/onnx-zoo). Labelled "zoo" and left out of the default run (the "all"
# test preset excludes the label; `ctest --preset zoo` runs it). The default run's `node` test
# runs the same file on one small model per family (its DEFAULT_SELECTION).
add_test(NAME onnx_zoo COMMAND ${NODE_EXECUTABLE} --test tests/js/onnx_zoo.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(onnx_zoo PROPERTIES LABELS zoo TIMEOUT 28800
  ENVIRONMENT "GRADCAM_ZOO=all;GRADCAM_PYTHON=${GRADCAM_TORCH_PYTHON}")
