# The engine's WebAssembly programs beside the library: the CLI and the doctest suite under plain
# node with files on disk (ctest runs the tests through CMAKE_CROSSCOMPILING_EMULATOR), and the JS
# API's core module.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  message(FATAL_ERROR "wasm: set CMAKE_CROSSCOMPILING_EMULATOR to node (the wasm preset does) to run the tests")
endif()

# A command-line program under plain node: NODERAWFS gives it the real file system, and exit codes
# are kept (EXIT_RUNTIME). Without WASM_ASYNC_COMPILATION=0 Emscripten's glue tries to fetch() the
# .wasm by path under Node 20 (which has a global fetch) and exits 7.
# The memory may grow to wasm32's whole 4 GB (Emscripten's default stops at 2 GB): a model file of
# up to ModelLimits::kMaxFileBytes (1 GiB; VGG-16 is 553 MB) is held with its weights while it loads.
set(GRADCAM_NODE_PROGRAM -sNODERAWFS=1 -sENVIRONMENT=node -sWASM_ASYNC_COMPILATION=0
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sEXIT_RUNTIME=1)
foreach(program gradcam engine_tests)
  set_target_properties(${program} PROPERTIES SUFFIX ".js")
  target_link_options(${program} PRIVATE ${GRADCAM_NODE_PROGRAM})
endforeach()
# The CLI reads Keras files with the JS API's reader (h5wasm) before main(): engine/cli/keras_handover.js.
target_link_options(gradcam PRIVATE --pre-js ${CMAKE_SOURCE_DIR}/engine/cli/keras_handover.js)
set_property(TARGET gradcam APPEND PROPERTY LINK_DEPENDS ${CMAKE_SOURCE_DIR}/engine/cli/keras_handover.js)

# An ES module that works in browsers and, given the bytes, in plain node.
add_executable(gradcam_core engine/js/core.cpp engine/js/load.cpp)
target_link_libraries(gradcam_core PRIVATE gradcam_engine gradcam_warnings)
set_target_properties(gradcam_core PROPERTIES SUFFIX ".mjs")
target_link_options(gradcam_core PRIVATE -sMODULARIZE=1 -sEXPORT_ES6=1 -sENVIRONMENT=web
  -sEXPORT_NAME=createGradcamCore -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB
  -sEXPORTED_FUNCTIONS=_malloc,_free
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8)
