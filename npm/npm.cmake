# The `npm_package` target: the npm package gradcam-wasm, packed by `npm pack` into
# build/npm/gradcam-wasm-<version>.tgz, built with the wasm tree (included from the root
# CMakeLists.txt after web/site.cmake, whose files it packs). The package is the site's JS API
# (gradcam.mjs and its modules, the core's .mjs + .wasm), the <gradcam-view> widget, the shipped
# model, the wasm CLI (cli/gradcam.cjs + .wasm, run by bin/gradcam.mjs) and the files in npm/:
# package.json (the published manifest; the root package.json is the private dev manifest), the
# TypeScript declarations, h5wasm.mjs (the `h5wasm` dependency by its bare name), README.md,
# CHANGELOG.md. package.json's `files` is the list npm packs.

file(READ ${CMAKE_SOURCE_DIR}/npm/package.json GRADCAM_NPM_MANIFEST)
string(JSON GRADCAM_NPM_VERSION GET "${GRADCAM_NPM_MANIFEST}" version)
set(GRADCAM_NPM_DIR ${CMAKE_SOURCE_DIR}/build/npm CACHE PATH "Where npm_package stages the package and writes its tarball")
set(GRADCAM_NPM_TARBALL ${GRADCAM_NPM_DIR}/gradcam-wasm-${GRADCAM_NPM_VERSION}.tgz)
set(stage ${GRADCAM_NPM_DIR}/package)
find_program(NPM_EXECUTABLE NAMES npm REQUIRED)

set(site_files gradcam.mjs abi.mjs load.mjs keras.mjs keras_worker.mjs tfjs.mjs gradcam_core.mjs gradcam_core.wasm
  gradcam_core_threads.mjs gradcam_core_threads.wasm gradcam_core_threads.worker.js widget.js widget_renderer.js)
list(TRANSFORM site_files PREPEND ${GRADCAM_SITE_DIR}/)
set(npm_files package.json README.md CHANGELOG.md h5wasm.mjs index.d.ts widget.d.ts)
list(TRANSFORM npm_files PREPEND ${CMAKE_SOURCE_DIR}/npm/)
set(model ${CMAKE_SOURCE_DIR}/assets/models/cifar10.safetensors)
set(bin ${CMAKE_SOURCE_DIR}/npm/bin/gradcam.mjs)

# The stage is emptied first, so a file dropped from the package does not linger in it. The CLI's
# glue is CommonJS: in a "type": "module" package it must be named .cjs (it finds its .wasm by
# __dirname, so the name does not matter to it).
add_custom_command(OUTPUT ${GRADCAM_NPM_TARBALL}
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${stage}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${stage}/models ${stage}/bin ${stage}/cli
  COMMAND ${CMAKE_COMMAND} -E copy ${site_files} ${npm_files} ${stage}/
  COMMAND ${CMAKE_COMMAND} -E copy ${model} ${stage}/models/
  COMMAND ${CMAKE_COMMAND} -E copy ${bin} ${stage}/bin/
  COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:gradcam> ${stage}/cli/gradcam.cjs
  COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE_DIR:gradcam>/gradcam.wasm ${stage}/cli/gradcam.wasm
  COMMAND ${CMAKE_COMMAND} -E rm -f ${GRADCAM_NPM_TARBALL}
  COMMAND ${CMAKE_COMMAND} -DNPM=${NPM_EXECUTABLE} -DSTAGE=${stage} -DDEST=${GRADCAM_NPM_DIR}
          -P ${CMAKE_SOURCE_DIR}/npm/pack.cmake
  DEPENDS ${site_files} ${npm_files} ${model} ${bin} ${CMAKE_SOURCE_DIR}/npm/pack.cmake gradcam site
  COMMENT "npm_package: ${GRADCAM_NPM_TARBALL}"
  VERBATIM)
add_custom_target(npm_package ALL DEPENDS ${GRADCAM_NPM_TARBALL})

# The package as a stranger uses it (tests/npm): installed offline from the tarball into an empty
# project, then Node, a browser bundle (esbuild), `npx gradcam` and `tsc --strict`. The install
# reads h5wasm from build/npm-cache, which tools/deps.sh fills: no network at test time.
find_program(NODE_EXECUTABLE NAMES node nodejs REQUIRED)
add_test(NAME npm_package COMMAND ${NODE_EXECUTABLE} --test --test-concurrency=1 tests/npm/
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# Its ONNX file is one of build/onnx-fixtures: in the all tree's ctest after the onnx_fixtures test
# (cmake/all.cmake), which writes them; alone, the test writes them itself when missing.
set_tests_properties(npm_package PROPERTIES TIMEOUT 600 FIXTURES_REQUIRED onnx_fixtures
  ENVIRONMENT "GRADCAM_NPM_TARBALL=${GRADCAM_NPM_TARBALL}")
