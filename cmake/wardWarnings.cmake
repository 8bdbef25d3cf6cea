# Warnings (and optional sanitizers) for the project's own targets: tests, examples, benchmarks.
add_library(ward_warnings INTERFACE)
target_compile_options(ward_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unknown-pragmas>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(WARD_SANITIZE)
  target_compile_options(ward_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${WARD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all>)
  target_link_options(ward_warnings INTERFACE -fsanitize=${WARD_SANITIZE})
endif()
