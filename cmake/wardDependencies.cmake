# Third-party packages ward is built on (all from Debian: see scripts/setup.sh).
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(dnnl CONFIG REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(nlohmann_json 3 REQUIRED)
# PCRE2 (Unicode regex for the tokenizer's pre-splitting) ships a pkg-config file, not a CMake one.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# GLPK (the occupancy-measure LP of ward/cmdp) ships neither: cmake/FindGLPK.cmake finds it.
find_package(GLPK 4.60 REQUIRED)
# CLI11 (examples) and Google Benchmark (benchmarks) are found where they are used.
if(WARD_ENABLE_CUDA OR CMAKE_CUDA_COMPILER)
  find_package(CUDAToolkit)
  if(NOT CUDAToolkit_FOUND)
    set(WARD_ENABLE_CUDA OFF CACHE BOOL "" FORCE)
  endif()
endif()
