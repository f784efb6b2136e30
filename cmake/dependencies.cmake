# The header-only third-party libraries, found by ordinary cache variables so a user outside Debian
# can point them anywhere (their package manager, FetchContent). tools/deps.sh installs them here;
# configure only checks that they are there.
set(EIGEN3_INCLUDE_DIR /usr/include/eigen3 CACHE PATH "Eigen 3.4 headers")
set(XSIMD_INCLUDE_DIR ${CMAKE_SOURCE_DIR}/build/_deps/xsimd/usr/include CACHE PATH "xsimd >= 11 headers")
set(STB_INCLUDE_DIR ${CMAKE_SOURCE_DIR}/build/_deps/stb/usr/include/stb CACHE PATH "stb headers (stb_image >= 2.28)")
set(NLOHMANN_JSON_INCLUDE_DIR /usr/include CACHE PATH "nlohmann-json headers (contains nlohmann/json.hpp)")
set(DOCTEST_INCLUDE_DIR /usr/include CACHE PATH "doctest headers (contains doctest/doctest.h)")

# Emscripten must not see /usr/include (glibc's headers): link just those two folders into a shim.
set(GRADCAM_SHIM ${CMAKE_BINARY_DIR}/include_shim)
file(MAKE_DIRECTORY ${GRADCAM_SHIM})
file(CREATE_LINK ${NLOHMANN_JSON_INCLUDE_DIR}/nlohmann ${GRADCAM_SHIM}/nlohmann SYMBOLIC)
file(CREATE_LINK ${DOCTEST_INCLUDE_DIR}/doctest ${GRADCAM_SHIM}/doctest SYMBOLIC)

foreach(h "${EIGEN3_INCLUDE_DIR}/Eigen/Core" "${GRADCAM_SHIM}/nlohmann/json.hpp" "${GRADCAM_SHIM}/doctest/doctest.h"
          "${XSIMD_INCLUDE_DIR}/xsimd/xsimd.hpp" "${STB_INCLUDE_DIR}/stb_image.h")
  if(NOT EXISTS ${h})
    message(FATAL_ERROR "missing ${h}: run tools/deps.sh")
  endif()
endforeach()

# SYSTEM: their own warnings are theirs, and would bury ours (-Wall -Wextra stays on for our code).
add_library(gradcam_third_party INTERFACE)
target_include_directories(gradcam_third_party SYSTEM INTERFACE
  ${EIGEN3_INCLUDE_DIR} ${XSIMD_INCLUDE_DIR} ${STB_INCLUDE_DIR} ${GRADCAM_SHIM})
