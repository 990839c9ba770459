# SPDX-License-Identifier: MIT
# Provider layer tests (issue 7). test_providers: codecs, no network. test_providers_call: the
# retry loop against tests/e2e/fake_provider.py, which the test starts on a free port (exit 77,
# skipped, when python3 is missing). Each runs in its own process.
foreach(t providers providers_call)
  add_executable(test_${t} unit/test_${t}.c)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
  target_link_libraries(test_${t} PRIVATE loki_static PkgConfig::CMOCKA)
  target_compile_options(test_${t} PRIVATE ${LOKI_WARNINGS})
  add_test(NAME unit.${t} COMMAND test_${t})
  set_tests_properties(unit.${t} PROPERTIES LABELS "unit" TIMEOUT 120 SKIP_RETURN_CODE 77
    ENVIRONMENT "LOKI_FAKE_PROVIDER=${CMAKE_CURRENT_SOURCE_DIR}/e2e/fake_provider.py")
endforeach()
