# The version berthd reports: the project version, plus the git commit when
# built from a checkout, so two builds of 0.1.0 can be told apart.
set(BERTH_VERSION "${PROJECT_VERSION}")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" describe --always --dirty --abbrev=12
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE BERTH_GIT_DESCRIBE
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(BERTH_GIT_DESCRIBE)
    set(BERTH_VERSION "${PROJECT_VERSION}+g${BERTH_GIT_DESCRIBE}")
  endif()
endif()
message(STATUS "berth version ${BERTH_VERSION}")
