# The ONNX reader's protobuf layer (engine/src/formats/onnx_reader.cpp): nanopb's C decoder and the
# C code nanopb's generator writes from onnx.proto at build time (never committed), compiled into
# gradcam_engine in every tree, wasm included, so there is one parser. Debian: nanopb (generator),
# python3-onnx (onnx.proto), and nanopb's source package unpacked by tools/deps.sh; elsewhere point
# the three cache variables at any nanopb 0.4 checkout and any onnx.proto.
set(NANOPB_SOURCE_DIR ${CMAKE_SOURCE_DIR}/build/_deps/nanopb CACHE PATH "nanopb 0.4 sources (pb.h, pb_decode.c, pb_common.c)")
find_program(NANOPB_GENERATOR NAMES nanopb_generator.py nanopb_generator
  DOC "nanopb's generator (Debian: nanopb; it needs python3-protobuf and protoc)")
set(ONNX_PROTO /usr/lib/python3/dist-packages/onnx/onnx.proto CACHE FILEPATH "onnx.proto (Debian: python3-onnx)")

foreach(f ${NANOPB_SOURCE_DIR}/pb_decode.c ${NANOPB_SOURCE_DIR}/pb_common.c ${ONNX_PROTO})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "missing ${f}: run tools/deps.sh")
  endif()
endforeach()
if(NOT NANOPB_GENERATOR)
  message(FATAL_ERROR "nanopb_generator.py not found: run tools/deps.sh (Debian package nanopb)")
endif()

set(GRADCAM_ONNX_OPTIONS ${CMAKE_SOURCE_DIR}/engine/src/formats/onnx.options)
set(GRADCAM_ONNX_GENERATED ${CMAKE_BINARY_DIR}/generated/onnx)
file(MAKE_DIRECTORY ${GRADCAM_ONNX_GENERATED})
cmake_path(GET ONNX_PROTO PARENT_PATH onnx_proto_dir)
cmake_path(GET ONNX_PROTO FILENAME onnx_proto_name)
add_custom_command(
  OUTPUT ${GRADCAM_ONNX_GENERATED}/onnx.pb.c ${GRADCAM_ONNX_GENERATED}/onnx.pb.h
  COMMAND ${NANOPB_GENERATOR} -q -I ${onnx_proto_dir} -f ${GRADCAM_ONNX_OPTIONS}
          -D ${GRADCAM_ONNX_GENERATED} ${onnx_proto_name}
  DEPENDS ${ONNX_PROTO} ${GRADCAM_ONNX_OPTIONS}
  WORKING_DIRECTORY ${GRADCAM_ONNX_GENERATED}
  COMMENT "nanopb: C decoder tables from ${ONNX_PROTO}"
  VERBATIM)

# Third-party C: its headers are SYSTEM and its sources are compiled without our warning flags (-w),
# so -Wall -Wextra keeps reporting only our code. They still get the tree's sanitizer and fuzzer
# instrumentation, which comes from the target and the directory.
set(gradcam_nanopb_sources ${NANOPB_SOURCE_DIR}/pb_decode.c ${NANOPB_SOURCE_DIR}/pb_common.c
    ${GRADCAM_ONNX_GENERATED}/onnx.pb.c)
target_sources(gradcam_engine PRIVATE ${gradcam_nanopb_sources})
set_source_files_properties(${gradcam_nanopb_sources} TARGET_DIRECTORY gradcam_engine
  PROPERTIES COMPILE_OPTIONS -w)
target_include_directories(gradcam_engine SYSTEM PRIVATE ${NANOPB_SOURCE_DIR} ${GRADCAM_ONNX_GENERATED})
