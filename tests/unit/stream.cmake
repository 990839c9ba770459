# SPDX-License-Identifier: MIT
# Streaming checks (issue 5): streamed verdict == whole-text verdict.
add_executable(test_stream unit/test_stream.c unit/helpers.c)
target_include_directories(test_stream PRIVATE ${PROJECT_SOURCE_DIR}/src/lib ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(test_stream PRIVATE LOKI_SOURCE_RULES="${PROJECT_SOURCE_DIR}/rules"
  LOKI_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(test_stream PRIVATE loki_static PkgConfig::CMOCKA)
add_test(NAME unit.stream COMMAND test_stream)
set_tests_properties(unit.stream PROPERTIES LABELS "unit" TIMEOUT 600
  ENVIRONMENT "LOKI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp;LOKI_TEST_CACHE=${CMAKE_CURRENT_BINARY_DIR}/cache")
# The generic chunked parallel API (include/loki/parallel.h).
add_executable(test_parallel unit/test_parallel.c)
target_link_libraries(test_parallel PRIVATE loki_static PkgConfig::CMOCKA)
add_test(NAME unit.parallel COMMAND test_parallel)
set_tests_properties(unit.parallel PROPERTIES LABELS "unit" TIMEOUT 300)
# The CLI side: --stream, automatic streaming, several files in parallel.
add_test(NAME e2e.stream_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/e2e/stream_cli.sh $<TARGET_FILE:loki>
  ${CMAKE_CURRENT_BINARY_DIR}/tmp ${CMAKE_CURRENT_SOURCE_DIR}/golden/domains)
set_tests_properties(e2e.stream_cli PROPERTIES LABELS "e2e" TIMEOUT 600
  ENVIRONMENT "LOKI_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/cache")
