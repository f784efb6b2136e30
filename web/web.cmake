# The page's app (issue: ImGui/WebGL2 front end): Dear ImGui 1.90.1 on Emscripten's GLFW and WebGL2,
# linked with the engine. Included from the root CMakeLists.txt for Emscripten builds only.
# Output: build/wasm/gradcam_app.mjs + .wasm (web/site.cmake copies them into the site).

set(GRADCAM_IMGUI_DEFAULT ${CMAKE_SOURCE_DIR}/build/_deps/imgui-1.90.1)
set(IMGUI_DIR ${GRADCAM_IMGUI_DEFAULT} CACHE PATH "Dear ImGui 1.90.1+ sources (imgui.cpp, backends/)")
# A tree configured before the app moved to 1.90.1 has the old default in its cache: follow the new.
if(IMGUI_DIR STREQUAL "${CMAKE_SOURCE_DIR}/build/_deps/imgui-1.86")
  set(IMGUI_DIR ${GRADCAM_IMGUI_DEFAULT} CACHE PATH "Dear ImGui 1.90.1+ sources (imgui.cpp, backends/)" FORCE)
endif()
if(NOT EXISTS ${IMGUI_DIR}/imgui.cpp OR NOT EXISTS ${IMGUI_DIR}/backends/imgui_impl_opengl3.cpp)
  message(FATAL_ERROR "web: ${IMGUI_DIR}/imgui.cpp is missing: run tools/deps.sh (or point IMGUI_DIR at ImGui 1.90.1+)")
endif()
file(STRINGS ${IMGUI_DIR}/imgui.h GRADCAM_IMGUI_VERSION REGEX "^#define IMGUI_VERSION_NUM")
string(REGEX MATCH "[0-9]+" GRADCAM_IMGUI_VERSION "${GRADCAM_IMGUI_VERSION}")
if(NOT GRADCAM_IMGUI_VERSION OR GRADCAM_IMGUI_VERSION LESS 19010)
  message(FATAL_ERROR "web: ${IMGUI_DIR} holds ImGui ${GRADCAM_IMGUI_VERSION} (IMGUI_VERSION_NUM); the app needs 1.90.1 (19010) or newer: run tools/deps.sh, or point IMGUI_DIR at ImGui 1.90.1+")
endif()

set(GRADCAM_WEB_GL_FLAGS -sUSE_GLFW=3 -sUSE_WEBGL2=1 -sFULL_ES3=1)

# ImGui twice, like the engine (cmake/wasm.cmake): plain for the app, with -pthread for its
# threaded build (every object of a pthreads link must be compiled for shared memory).
foreach(variant imgui imgui_threads)
  add_library(${variant} STATIC
    ${IMGUI_DIR}/imgui.cpp
    ${IMGUI_DIR}/imgui_draw.cpp
    ${IMGUI_DIR}/imgui_tables.cpp
    ${IMGUI_DIR}/imgui_widgets.cpp
    ${IMGUI_DIR}/backends/imgui_impl_glfw.cpp
    ${IMGUI_DIR}/backends/imgui_impl_opengl3.cpp
  )
  target_include_directories(${variant} SYSTEM PUBLIC ${IMGUI_DIR} ${IMGUI_DIR}/backends)
  # No demo window, no legacy names; GLES 3 headers for the OpenGL3 backend (WebGL2).
  target_compile_definitions(${variant} PUBLIC IMGUI_DISABLE_OBSOLETE_FUNCTIONS IMGUI_IMPL_OPENGL_ES3)
  target_compile_options(${variant} PRIVATE -O2)
endforeach()
target_compile_options(imgui_threads PUBLIC -pthread)

# The shaders are compiled into the app from shaders/ (one copy, no runtime fetch); the widget gets
# the same files the same way (web/site.cmake).
set(GRADCAM_SHADERS ${CMAKE_SOURCE_DIR}/shaders/fullscreen.vert ${CMAKE_SOURCE_DIR}/shaders/heatmap.frag)
set(GRADCAM_SHADER_HEADER ${CMAKE_BINARY_DIR}/web_generated/shaders.h)
add_custom_command(
  OUTPUT ${GRADCAM_SHADER_HEADER}
  COMMAND ${CMAKE_COMMAND} -DOUT=${GRADCAM_SHADER_HEADER} "-DSOURCES=${GRADCAM_SHADERS}"
          -P ${CMAKE_SOURCE_DIR}/web/embed_shaders.cmake
  DEPENDS ${GRADCAM_SHADERS} ${CMAKE_SOURCE_DIR}/web/embed_shaders.cmake
  COMMENT "Embedding shaders/ into the app"
  VERBATIM)

# Every .cpp under web/app is the app: splitting a file needs no edit here. The app loads models
# with the JS API's own loader (engine/js/load.cpp: gc_load, gc_load_keras, gc_set_model_options),
# so the page and the JS API share one C ABI and one JS path (engine/js/load.mjs) for loading.
file(GLOB GRADCAM_APP_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/app/*.cpp)
set(GRADCAM_APP_LINK_OPTIONS ${GRADCAM_WEB_GL_FLAGS}
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createGradcamApp
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2GB
  -sEXPORTED_FUNCTIONS=_main,_malloc,_free
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8,FS)
function(gradcam_app_program name engine imgui)
  add_executable(${name} ${GRADCAM_APP_SOURCES} ${CMAKE_SOURCE_DIR}/engine/js/load.cpp
                 ${CMAKE_SOURCE_DIR}/engine/js/threads.cpp ${GRADCAM_SHADER_HEADER})
  target_include_directories(${name} PRIVATE ${CMAKE_BINARY_DIR}/web_generated ${CMAKE_SOURCE_DIR}/engine/js
                             ${CMAKE_SOURCE_DIR}/engine/src)
  target_link_libraries(${name} PRIVATE ${engine} ${imgui} gradcam_warnings)
  set_target_properties(${name} PROPERTIES SUFFIX ".mjs")
endfunction()
gradcam_app_program(gradcam_app gradcam_engine imgui)
target_link_options(gradcam_app PRIVATE ${GRADCAM_APP_LINK_OPTIONS} -sENVIRONMENT=web)
# The threaded app, for a cross-origin isolated page (web/page.js picks it): the engine's passes
# split over the thread pool as the JS API's threaded core's do (gc_set_threads, engine/js/threads.cpp).
# Its memory grows like the plain app's, so both take the same models; the JS glue then checks for a
# grown buffer on each heap access, which the app (few calls per frame) does not notice.
# PTHREAD_POOL_SIZE: the Workers the page asks for (createGradcamApp({gcWorkers})), started before
# the module resolves, as for the core (cmake/wasm.cmake).
gradcam_app_program(gradcam_app_threads gradcam_engine_threads imgui_threads)
target_compile_options(gradcam_app_threads PRIVATE -pthread)
target_link_options(gradcam_app_threads PRIVATE ${GRADCAM_APP_LINK_OPTIONS} -sENVIRONMENT=web,worker
  -pthread -sUSE_PTHREADS=1 -sPTHREAD_POOL_SIZE=Module.gcWorkers -Wno-pthreads-mem-growth)
