# The asan tree's tests: the engine's doctest (registered with the others) and bad input through the
# CLI, which must give errors, not sanitizer reports. Any report stops the program and fails the test.
add_test(NAME cli_error_paths.asan
  COMMAND bash ${CMAKE_SOURCE_DIR}/tools/test.d/cli_error_paths.sh $<TARGET_FILE:gradcam>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(engine.asan cli_error_paths.asan PROPERTIES
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
set_tests_properties(cli_error_paths.asan PROPERTIES TIMEOUT 300)
