# Runs `npm pack` on the staged package (npm/npm.cmake), quietly: npm prints the tarball's name,
# which would be the one line of output in an otherwise quiet build. Its errors are shown.
#   cmake -DNPM=npm -DSTAGE=build/npm/package -DDEST=build/npm -P npm/pack.cmake
execute_process(COMMAND ${NPM} pack --silent --ignore-scripts --pack-destination ${DEST} ${STAGE}
  RESULT_VARIABLE status OUTPUT_QUIET ERROR_VARIABLE errors)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "npm pack ${STAGE} failed (${status}): ${errors}")
endif()
