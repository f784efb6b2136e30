# The warnings every target compiled from our sources gets, in one place: the engine, the CLI, the
# tests, the fuzz targets, the trainer (its CUDA host code through nvcc's -Xcompiler), the wasm
# programs, the web app and bench/kernel_timing link gradcam_warnings PRIVATE. Third-party headers
# stay SYSTEM (gradcam_third_party), so their warnings are not ours; ImGui's sources are not
# compiled with it.
add_library(gradcam_warnings INTERFACE)
target_compile_options(gradcam_warnings INTERFACE
  "$<$<COMPILE_LANGUAGE:C,CXX>:-Wall;-Wextra>"
  "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>")
