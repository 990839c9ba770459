# SPDX-License-Identifier: MIT
# Several `loki serve` instances behind nginx sharing one Redis (tests/e2e/cluster.py): label
# `cluster`; skipped (77) when nginx or redis-server is not installed.
if(NOT TARGET loki)
  return()
endif()
add_test(NAME cluster.e2e COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cluster.py
  $<TARGET_FILE:loki> ${CMAKE_CURRENT_BINARY_DIR}/tmp/cluster ${PROJECT_SOURCE_DIR})
set(_cluster_env "LOKI_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/cache"
  "LOKI_RULES_DIR=${PROJECT_SOURCE_DIR}/rules")
set_tests_properties(cluster.e2e PROPERTIES LABELS "cluster" TIMEOUT 400 SKIP_RETURN_CODE 77
  ENVIRONMENT "${_cluster_env}" FAIL_REGULAR_EXPRESSION "[1-9][0-9]* failed;Sanitizer")
if(TEST e2e.server_warm_cache)
  set_tests_properties(cluster.e2e PROPERTIES FIXTURES_REQUIRED loki_server_cache)
endif()
