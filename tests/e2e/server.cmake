# SPDX-License-Identifier: MIT
# `loki serve` end-to-end tests: each script starts real servers on free ports (port 0, read
# back from the start-up line), drives them over HTTP and stops them with signals; a sanitizer
# report in a server's stderr fails the test. A fixture compiles the rule database into the
# shared test cache first, so servers start in well under a second.
if(NOT TARGET loki)
  return()
endif()
set(LOKI_SERVER_CACHE ${CMAKE_CURRENT_BINARY_DIR}/cache)
set(LOKI_SERVER_TMP ${CMAKE_CURRENT_BINARY_DIR}/tmp/server)

add_test(NAME e2e.server_warm_cache COMMAND $<TARGET_FILE:loki> check --fail-on none
  ${CMAKE_CURRENT_SOURCE_DIR}/golden/domains/fca_uk/compliant.txt)
set_tests_properties(e2e.server_warm_cache PROPERTIES FIXTURES_SETUP loki_server_cache
  LABELS "e2e" TIMEOUT 600 ENVIRONMENT "LOKI_CACHE_DIR=${LOKI_SERVER_CACHE}")

foreach(t api auth shutdown formats)
  add_test(NAME e2e.server_${t} COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/server_${t}.py
    $<TARGET_FILE:loki> ${LOKI_SERVER_TMP})
  set_tests_properties(e2e.server_${t} PROPERTIES LABELS "e2e" TIMEOUT 180
    FIXTURES_REQUIRED loki_server_cache
    ENVIRONMENT "LOKI_CACHE_DIR=${LOKI_SERVER_CACHE};LOKI_RULES_DIR=${PROJECT_SOURCE_DIR}/rules"
    FAIL_REGULAR_EXPRESSION "[1-9][0-9]* failed;Sanitizer")
endforeach()
