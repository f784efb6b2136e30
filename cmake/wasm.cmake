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
foreach(program gradcam engine_tests kernel_timing)
  set_target_properties(${program} PROPERTIES SUFFIX ".js")
  target_link_options(${program} PRIVATE ${GRADCAM_NODE_PROGRAM})
endforeach()
# The CLI reads Keras files with the JS API's reader (h5wasm) before main(): engine/cli/keras_handover.js.
target_link_options(gradcam PRIVATE --pre-js ${CMAKE_SOURCE_DIR}/engine/cli/keras_handover.js)
set_property(TARGET gradcam APPEND PROPERTY LINK_DEPENDS ${CMAKE_SOURCE_DIR}/engine/cli/keras_handover.js)

# The JS API's core, an ES module that works in browsers and, given the bytes, in plain node; in
# two builds from the same sources. gradcam_core is single-threaded and runs anywhere.
set(GRADCAM_CORE_LINK_OPTIONS -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createGradcamCore
  -sEXPORTED_FUNCTIONS=_malloc,_free
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8,FS)
add_executable(gradcam_core engine/js/core.cpp engine/js/load.cpp engine/js/threads.cpp)
target_link_libraries(gradcam_core PRIVATE gradcam_engine gradcam_warnings)
target_include_directories(gradcam_core PRIVATE engine/src)  # parallel/thread_pool.h
set_target_properties(gradcam_core PROPERTIES SUFFIX ".mjs")
target_link_options(gradcam_core PRIVATE ${GRADCAM_CORE_LINK_OPTIONS} -sENVIRONMENT=web -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB)

# gradcam_core_threads uses Emscripten's pthreads (Web Workers over a SharedArrayBuffer), which a
# browser allows only on a cross-origin isolated page; the JS API picks it there (gradcam.mjs).
# Every object of a pthreads link must be compiled for shared memory (atomics), so the engine is
# compiled a second time, with -pthread, as gradcam_engine_threads: same sources, same settings.
get_target_property(engine_sources gradcam_engine SOURCES)
add_library(gradcam_engine_threads STATIC ${engine_sources})
foreach(property INCLUDE_DIRECTORIES COMPILE_DEFINITIONS COMPILE_OPTIONS LINK_LIBRARIES
                 INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_DEFINITIONS INTERFACE_COMPILE_OPTIONS
                 INTERFACE_LINK_LIBRARIES)
  get_target_property(value gradcam_engine ${property})
  if(value)
    set_target_properties(gradcam_engine_threads PROPERTIES ${property} "${value}")
  endif()
endforeach()
target_compile_options(gradcam_engine_threads PUBLIC -pthread)
gradcam_quiet_inlined_intrinsics(gradcam_engine_threads)
# The memory is fixed (1 GiB, shared): growing a shared memory makes every JS access to it check
# for a new buffer in this Emscripten (3.1.6), and the JS API reads results through HEAPU8.
# PTHREAD_POOL_SIZE is JS: the workers the caller asks for (createGradcamCore({gcWorkers})) are
# started and loaded before the module resolves, because a thread created later on the browser's
# main thread would wait for a Worker that cannot start until the call returns. The loader
# (gradcam_core_threads.worker.js) is served beside the module.
add_executable(gradcam_core_threads engine/js/core.cpp engine/js/load.cpp engine/js/threads.cpp)
target_link_libraries(gradcam_core_threads PRIVATE gradcam_engine_threads gradcam_warnings)
target_include_directories(gradcam_core_threads PRIVATE engine/src)
set_target_properties(gradcam_core_threads PROPERTIES SUFFIX ".mjs")
target_compile_options(gradcam_core_threads PRIVATE -pthread)
target_link_options(gradcam_core_threads PRIVATE ${GRADCAM_CORE_LINK_OPTIONS} -sENVIRONMENT=web,worker
  -pthread -sUSE_PTHREADS=1 -sPTHREAD_POOL_SIZE=Module.gcWorkers -sINITIAL_MEMORY=1GB)
