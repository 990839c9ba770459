# SPDX-License-Identifier: MIT
# The interceptor (issue 7, docs/interceptor.md): real `loki serve` processes in front of
# tests/e2e/fake_provider.py (label e2e), and the official Node SDKs pointed at them
# (tests/e2e/sdk; skipped with 77 when node/npm are absent).
if(NOT TARGET loki)
  return()
endif()
set(_proxy_env "LOKI_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/cache"
  "LOKI_RULES_DIR=${PROJECT_SOURCE_DIR}/rules")
add_test(NAME e2e.proxy_api COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/proxy_api.py
  $<TARGET_FILE:loki> ${CMAKE_CURRENT_BINARY_DIR}/tmp/proxy)
add_test(NAME e2e.proxy_sdk COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/e2e/sdk/run.sh
  $<TARGET_FILE:loki> ${CMAKE_CURRENT_BINARY_DIR}/tmp/proxy_sdk)
set_tests_properties(e2e.proxy_api e2e.proxy_sdk PROPERTIES LABELS "e2e" TIMEOUT 300
  ENVIRONMENT "${_proxy_env}" FAIL_REGULAR_EXPRESSION "[1-9][0-9]* failed;Sanitizer")
set_tests_properties(e2e.proxy_sdk PROPERTIES SKIP_RETURN_CODE 77)
if(TEST e2e.server_warm_cache)
  set_tests_properties(e2e.proxy_api e2e.proxy_sdk PROPERTIES FIXTURES_REQUIRED loki_server_cache)
endif()
