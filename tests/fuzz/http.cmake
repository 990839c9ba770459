# SPDX-License-Identifier: MIT
# The server's HTTP fuzz target (fuzz_http.c): always built as a corpus replayer run by ctest
# (fuzz.replay.http), and as a libFuzzer binary when the compiler is clang. Included from
# tests/unit/server.cmake, which sets LOKI_SERVER_TEST_SOURCES/DEFS.
add_executable(replay_http fuzz/fuzz_http.c fuzz/replay.c ${LOKI_SERVER_TEST_SOURCES})
target_include_directories(replay_http PRIVATE ${PROJECT_SOURCE_DIR}/src/server)
target_compile_definitions(replay_http PRIVATE ${LOKI_SERVER_TEST_DEFS})
target_link_libraries(replay_http PRIVATE loki_server)
add_test(NAME fuzz.replay.http COMMAND replay_http ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/http)
set_tests_properties(fuzz.replay.http PROPERTIES LABELS "fuzz" TIMEOUT 300
  ENVIRONMENT "LOKI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_executable(fuzz_http fuzz/fuzz_http.c ${LOKI_SERVER_TEST_SOURCES})
  target_include_directories(fuzz_http PRIVATE ${PROJECT_SOURCE_DIR}/src/server)
  target_compile_definitions(fuzz_http PRIVATE ${LOKI_SERVER_TEST_DEFS})
  target_compile_options(fuzz_http PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_http PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_http PRIVATE loki_server)
endif()
