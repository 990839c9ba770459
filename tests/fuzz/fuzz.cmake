# SPDX-License-Identifier: MIT
# Fuzz targets: built as libFuzzer binaries with clang (configure with CC=clang), and always
# as corpus replayers so every compiler's ctest runs the seed corpora as regression tests.
# loki_fuzz_target(NAME SOURCE [DEFINITIONS...]): replay_NAME and the test fuzz.replay.NAME over
# fuzz/corpus/NAME, plus fuzz_NAME (found by bench/fuzz.sh) when the compiler is clang.
function(loki_fuzz_target t src)
  add_executable(replay_${t} fuzz/${src} fuzz/replay.c)
  target_include_directories(replay_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
  target_compile_definitions(replay_${t} PRIVATE LOKI_SOURCE_RULES="${PROJECT_SOURCE_DIR}/rules"
    ${ARGN})
  target_link_libraries(replay_${t} PRIVATE loki_static)
  add_test(NAME fuzz.replay.${t} COMMAND replay_${t} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(fuzz.replay.${t} PROPERTIES LABELS "fuzz"
    ENVIRONMENT "LOKI_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/cache")
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_${t} fuzz/${src})
    target_include_directories(fuzz_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
    target_compile_definitions(fuzz_${t} PRIVATE LOKI_SOURCE_RULES="${PROJECT_SOURCE_DIR}/rules"
      ${ARGN})
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE loki_static)
  endif()
endfunction()

# The engine: rule-pack loader, condition parser, whole checks.
foreach(t rules cond check)
  loki_fuzz_target(${t} fuzz_${t}.c)
endforeach()

# The provider layer (issue 8): the SSE parser, and per wire format the non-streaming response
# parser (response_KIND) and SSE stream + stream decoder (stream_KIND). FUZZ_KIND picks the
# loki_provider_kind. Incoming request bodies are parsed by the server (src/server/proxy.c),
# not by the library, so they have no target here.
loki_fuzz_target(sse fuzz_sse.c)
foreach(k ANTHROPIC OPENAI GEMINI)
  string(TOLOWER ${k} kind)
  loki_fuzz_target(response_${kind} fuzz_response.c FUZZ_KIND=LOKI_PROVIDER_${k})
  loki_fuzz_target(stream_${kind} fuzz_stream.c FUZZ_KIND=LOKI_PROVIDER_${k})
endforeach()
