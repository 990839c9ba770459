# SPDX-License-Identifier: MIT
# Fuzz targets: built as libFuzzer binaries with clang (configure with CC=clang), and always
# as corpus replayers so every compiler's ctest runs the seed corpora as regression tests.
foreach(t rules cond check)
  add_executable(replay_${t} fuzz/fuzz_${t}.c fuzz/replay.c)
  target_include_directories(replay_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
  target_compile_definitions(replay_${t} PRIVATE LOKI_SOURCE_RULES="${PROJECT_SOURCE_DIR}/rules")
  target_link_libraries(replay_${t} PRIVATE loki_static)
  add_test(NAME fuzz.replay.${t} COMMAND replay_${t} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(fuzz.replay.${t} PROPERTIES LABELS "fuzz"
    ENVIRONMENT "LOKI_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/cache")
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_${t} fuzz/fuzz_${t}.c)
    target_include_directories(fuzz_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
    target_compile_definitions(fuzz_${t} PRIVATE LOKI_SOURCE_RULES="${PROJECT_SOURCE_DIR}/rules")
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE loki_static)
  endif()
endforeach()
