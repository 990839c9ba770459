# SPDX-License-Identifier: MIT
# Universal detectors and redaction (src/lib/detect/). Included from tests/CMakeLists.txt.
add_executable(test_detect unit/test_detect.c unit/helpers.c)
target_include_directories(test_detect PRIVATE ${PROJECT_SOURCE_DIR}/src/lib
  ${PROJECT_SOURCE_DIR}/tests/unit)
target_link_libraries(test_detect PRIVATE loki_static PkgConfig::CMOCKA)
add_test(NAME unit.detect COMMAND test_detect)
set_tests_properties(unit.detect PROPERTIES LABELS "unit" TIMEOUT 300
  ENVIRONMENT "LOKI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")

# No high/critical finding on the compliant templates (skipped without ../shared/corpus).
add_executable(test_detect_templates unit/test_detect_templates.c)
target_include_directories(test_detect_templates PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
target_link_libraries(test_detect_templates PRIVATE loki_static)
add_test(NAME unit.detect_templates COMMAND test_detect_templates
  ${PROJECT_SOURCE_DIR}/../shared/corpus/templates)
set_tests_properties(unit.detect_templates PROPERTIES LABELS "unit" TIMEOUT 300
  SKIP_RETURN_CODE 77)

# The phrase tries of the detectors match exactly what the phrase-by-phrase matcher did.
add_executable(test_detect_lex unit/test_detect_lex.c)
target_include_directories(test_detect_lex PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
target_link_libraries(test_detect_lex PRIVATE loki_static)
add_test(NAME unit.detect_lex COMMAND test_detect_lex)
set_tests_properties(unit.detect_lex PROPERTIES LABELS "unit" TIMEOUT 300 PASS_REGULAR_EXPRESSION "^ok: ")
