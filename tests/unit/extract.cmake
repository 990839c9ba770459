# SPDX-License-Identifier: MIT
# Text extraction: unit tests, and fuzz targets whose seed corpora replay as regression tests.
add_executable(test_extract unit/test_extract.c unit/helpers.c)
target_include_directories(test_extract PRIVATE ${PROJECT_SOURCE_DIR}/src/lib
  ${PROJECT_SOURCE_DIR}/tests/unit)
target_link_libraries(test_extract PRIVATE loki_static PkgConfig::CMOCKA PkgConfig::LIBZIP)
add_test(NAME unit.extract COMMAND test_extract)
set_tests_properties(unit.extract PROPERTIES LABELS "unit" TIMEOUT 300
  ENVIRONMENT "LOKI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")

# One target per extractor; "auto" goes through content sniffing.
set(LOKI_EXTRACT_FUZZ_FORMATS auto text html markdown eml docx pdf)
foreach(fmt ${LOKI_EXTRACT_FUZZ_FORMATS})
  string(TOUPPER ${fmt} FMT)
  set(def FUZZ_FORMAT=LOKI_FORMAT_${FMT})
  add_executable(fuzz_extract_${fmt}_replay fuzz/fuzz_extract.c fuzz/fuzz_replay.c)
  target_compile_definitions(fuzz_extract_${fmt}_replay PRIVATE ${def})
  target_link_libraries(fuzz_extract_${fmt}_replay PRIVATE loki_static)
  add_test(NAME fuzz.extract_${fmt} COMMAND fuzz_extract_${fmt}_replay
    ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/extract_${fmt})
  set_tests_properties(fuzz.extract_${fmt} PROPERTIES LABELS "fuzz" TIMEOUT 300)
  if(CMAKE_C_COMPILER_ID MATCHES Clang)
    add_executable(fuzz_extract_${fmt} fuzz/fuzz_extract.c)
    target_compile_definitions(fuzz_extract_${fmt} PRIVATE ${def})
    target_compile_options(fuzz_extract_${fmt} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_extract_${fmt} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_extract_${fmt} PRIVATE loki_static)
  endif()
endforeach()
