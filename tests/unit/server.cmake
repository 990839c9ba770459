# SPDX-License-Identifier: MIT
# The server in-process (src/server/ through the loki_server object library): allocation-
# failure injection over its request paths, and the HTTP fuzz target's corpus replay
# (tests/fuzz/http.cmake). Included from tests/CMakeLists.txt.
if(NOT TARGET loki_server)
  return()
endif()
# serve.c calls the CLI's default-path helpers; `loki` compiles them, so do these tests.
set(LOKI_SERVER_TEST_SOURCES ${PROJECT_SOURCE_DIR}/src/cli/util.c)
set(LOKI_SERVER_TEST_DEFS LOKI_SOURCE_RULES="${PROJECT_SOURCE_DIR}/rules"
  LOKI_INSTALL_RULES="${CMAKE_INSTALL_FULL_DATADIR}/loki/rules")

add_executable(test_server_alloc unit/test_server_alloc.c unit/helpers.c
  ${LOKI_SERVER_TEST_SOURCES})
target_include_directories(test_server_alloc PRIVATE ${PROJECT_SOURCE_DIR}/src/server
  ${PROJECT_SOURCE_DIR}/src/lib ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(test_server_alloc PRIVATE ${LOKI_SERVER_TEST_DEFS})
target_compile_options(test_server_alloc PRIVATE ${LOKI_WARNINGS})
target_link_libraries(test_server_alloc PRIVATE loki_server PkgConfig::CMOCKA)
add_test(NAME unit.server_alloc COMMAND test_server_alloc)
set_tests_properties(unit.server_alloc PROPERTIES LABELS "unit" TIMEOUT 900
  ENVIRONMENT "LOKI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")

include(${CMAKE_CURRENT_SOURCE_DIR}/fuzz/http.cmake OPTIONAL)
