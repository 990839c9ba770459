# SPDX-License-Identifier: MIT
# Browser tests of the web page (issue 9): headless Debian chromium driven by playwright-core
# against a real `loki serve`. Skipped (77) without node or /usr/bin/chromium. Screenshots:
# ${CMAKE_CURRENT_BINARY_DIR}/web/screenshots.
if(NOT TARGET loki)
  return()
endif()
add_test(NAME e2e.web_ui COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/web/run.sh
  $<TARGET_FILE:loki> ${CMAKE_CURRENT_BINARY_DIR}/web)
set_tests_properties(e2e.web_ui PROPERTIES LABELS "e2e;web" TIMEOUT 600 SKIP_RETURN_CODE 77
  FIXTURES_REQUIRED loki_server_cache
  ENVIRONMENT "LOKI_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/cache;LOKI_RULES_DIR=${PROJECT_SOURCE_DIR}/rules")
