# The `site` target: the static site in GRADCAM_SITE_DIR (build/site), built with the wasm tree.
#   gradcam.mjs, gradcam_core.mjs + .wasm   the JS API (engine/js) and its core
#   gradcam_core_threads.mjs, .wasm, .worker.js   the same core with threads (cross-origin isolated pages)
#   abi.mjs, load.mjs                      its C ABI helpers and loading path, which the page shares
#   keras.mjs, keras_worker.mjs, h5wasm.mjs, h5wasm/
#                                          its Keras reader (HDF5 in a worker) and npm's h5wasm
#   index.html, page.js, style.css         the explorer (app: gradcam_app.mjs + .wasm; threaded on a
#                                          cross-origin isolated page: gradcam_app_threads.*)
#   embed.html, embed.css, widget*.js      the <gradcam-view> widget (shaders/ inlined) and its page
#   samples/ and samples/index.json        the gallery: every sample image, in name order
#   models/cifar10.safetensors             the shipped model
#   fonts/DejaVuSans.ttf                   the UI font, where Debian's fonts-dejavu-core is installed
# Every path is relative: the folder can be copied to any static host.

set(GRADCAM_SITE_DIR ${CMAKE_SOURCE_DIR}/build/site CACHE PATH "Where the site target lays out the static site")
set(GRADCAM_FONT /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf CACHE FILEPATH "The UI font (optional)")
set(GRADCAM_FONT_LICENSE /usr/share/doc/fonts-dejavu-core/copyright CACHE FILEPATH "The UI font's licence")
set(site ${GRADCAM_SITE_DIR})
set(site_outputs)

# Copies files from the source tree into one folder of the site.
function(site_copy folder)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "FILES")
  set(outputs)
  foreach(f ${arg_FILES})
    get_filename_component(name ${f} NAME)
    list(APPEND outputs ${folder}/${name})
  endforeach()
  add_custom_command(OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${folder}
    COMMAND ${CMAKE_COMMAND} -E copy ${arg_FILES} ${folder}/
    DEPENDS ${arg_FILES}
    VERBATIM)
  set(site_outputs ${site_outputs} ${outputs} PARENT_SCOPE)
endfunction()

# The wasm programs: the .wasm is written beside each module by the same link.
set(outputs)
set(files)
foreach(program gradcam_core gradcam_core_threads gradcam_app gradcam_app_threads)
  list(APPEND outputs ${site}/${program}.mjs ${site}/${program}.wasm)
  list(APPEND files $<TARGET_FILE:${program}> $<TARGET_FILE_DIR:${program}>/${program}.wasm)
endforeach()
# The threaded programs' pthreads start from their worker loaders, fetched beside the modules.
foreach(program gradcam_core_threads gradcam_app_threads)
  list(APPEND outputs ${site}/${program}.worker.js)
  list(APPEND files $<TARGET_FILE_DIR:${program}>/${program}.worker.js)
endforeach()
add_custom_command(OUTPUT ${outputs}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${site}
  COMMAND ${CMAKE_COMMAND} -E copy ${files} ${site}/
  DEPENDS gradcam_core gradcam_core_threads gradcam_app gradcam_app_threads
  VERBATIM)
list(APPEND site_outputs ${outputs})

# The page's own files: every .html, .css and .js in web/ (a new one needs no edit here). A script
# with the `/*@SHADERS@*/ null` marker gets shaders/ inlined, as the app does
# (web/embed_shaders.cmake).
file(GLOB GRADCAM_WEB_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/*.html ${CMAKE_SOURCE_DIR}/web/*.css
  ${CMAKE_SOURCE_DIR}/web/*.js)
set(plain_files)
foreach(f ${GRADCAM_WEB_FILES})
  file(STRINGS ${f} marker LIMIT_COUNT 1 REGEX "/\\*@SHADERS@\\*/ null")
  if(NOT marker)
    list(APPEND plain_files ${f})
    continue()
  endif()
  get_filename_component(name ${f} NAME)
  add_custom_command(OUTPUT ${site}/${name}
    COMMAND ${CMAKE_COMMAND} -DOUT=${site}/${name} -DTEMPLATE=${f}
            "-DSOURCES=${GRADCAM_SHADERS}" -P ${CMAKE_SOURCE_DIR}/web/embed_shaders.cmake
    DEPENDS ${f} ${GRADCAM_SHADERS} ${CMAKE_SOURCE_DIR}/web/embed_shaders.cmake
    VERBATIM)
  list(APPEND site_outputs ${site}/${name})
endforeach()
# The JS API's modules (engine/js/*.mjs: gradcam.mjs and what it imports, which page.js imports
# too): a new one needs no edit here.
file(GLOB GRADCAM_JS_MODULES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/engine/js/*.mjs)
site_copy(${site} FILES ${GRADCAM_JS_MODULES} ${plain_files})

# h5wasm (HDF5 in WebAssembly, from npm; NIST's notice and HDF5's BSD-style licence in
# h5wasm/LICENSE.txt), which keras.mjs reads Keras files with, served from the site itself: the
# page's CSP allows no other origin. The ES module build embeds its wasm; it is downloaded only
# when a Keras file is loaded.
set(GRADCAM_H5WASM ${CMAKE_SOURCE_DIR}/node_modules/h5wasm CACHE PATH "npm's h5wasm (tools/deps.sh installs it)")
if(NOT EXISTS ${GRADCAM_H5WASM}/dist/esm/hdf5_hl.js)
  message(FATAL_ERROR "site: ${GRADCAM_H5WASM} is missing: run tools/deps.sh (npm install)")
endif()
# Node then reads the two files as ES modules, without a warning.
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/web_generated/h5wasm/package.json CONTENT "{\"type\": \"module\"}\n" @ONLY)
site_copy(${site}/h5wasm FILES ${GRADCAM_H5WASM}/dist/esm/hdf5_hl.js ${GRADCAM_H5WASM}/dist/esm/hdf5_util.js
  ${GRADCAM_H5WASM}/LICENSE.txt ${CMAKE_BINARY_DIR}/web_generated/h5wasm/package.json)
site_copy(${site}/models FILES ${CMAKE_SOURCE_DIR}/assets/models/cifar10.safetensors)

# The gallery's list: a new sample re-runs configure (CONFIGURE_DEPENDS), which rewrites it.
file(GLOB GRADCAM_SAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/assets/samples/*)
list(SORT GRADCAM_SAMPLES)
set(names)
foreach(f ${GRADCAM_SAMPLES})
  get_filename_component(name ${f} NAME)
  string(TOLOWER ${name} lower)
  if(lower MATCHES "\\.(jpe?g|png|bmp|gif)$")
    list(APPEND names "\"${name}\"")
  endif()
endforeach()
list(JOIN names "," names)
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/web_generated/samples/index.json CONTENT "[${names}]\n" @ONLY)
site_copy(${site}/samples FILES ${GRADCAM_SAMPLES} ${CMAKE_BINARY_DIR}/web_generated/samples/index.json)

if(EXISTS ${GRADCAM_FONT})
  set(font_files ${GRADCAM_FONT})
  if(EXISTS ${GRADCAM_FONT_LICENSE})
    configure_file(${GRADCAM_FONT_LICENSE} ${CMAKE_BINARY_DIR}/web_generated/fonts/DejaVu-LICENSE.txt COPYONLY)
    list(APPEND font_files ${CMAKE_BINARY_DIR}/web_generated/fonts/DejaVu-LICENSE.txt)
  endif()
  site_copy(${site}/fonts FILES ${font_files})
endif()

add_custom_target(site ALL DEPENDS ${site_outputs})

# The browser tests read the site (the target above is part of this tree's build).
find_program(NODE_EXECUTABLE NAMES node nodejs REQUIRED)
add_test(NAME browser COMMAND ${NODE_EXECUTABLE} --test --test-concurrency=1 tests/browser/
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(browser PROPERTIES TIMEOUT 900)
# Big torchvision models (DenseNet-201, EfficientNet-B7, ViT-B/16, Swin-T) in the page and the
# widget: part of the whole zoo's command (label "zoo", `ctest --preset zoo`), not the default run.
add_test(NAME onnx_zoo_page COMMAND ${NODE_EXECUTABLE} --test tests/browser/zoo_page.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(onnx_zoo_page PROPERTIES LABELS zoo TIMEOUT 7200 ENVIRONMENT GRADCAM_PYTHON=/usr/bin/python3)
