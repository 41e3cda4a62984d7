# Links Abseil's static archives into a short-lived binary (berth-runtime,
# the monitor): Debian's Abseil is ~30 shared objects, and loading them is a
# measurable part of every container start and of every monitor's memory.
# The archives come first on the link line, so with --as-needed the shared
# copies that other targets pull in are dropped.
set(BERTH_ABSL_STATIC_COMPONENTS
  statusor status time time_zone civil_time strings strings_internal str_format_internal
  throw_delegate int128 base raw_logging_internal log_severity spinlock_wait cord
  cord_internal cordz_info cordz_functions cordz_handle strerror synchronization
  graphcycles_internal stacktrace symbolize debugging_internal demangle_internal
  malloc_internal exponential_biased)

function(berth_link_static_abseil target)
  set(archives "")
  foreach(component IN LISTS BERTH_ABSL_STATIC_COMPONENTS)
    find_library(BERTH_ABSL_${component}_A NAMES libabsl_${component}.a)
    if(BERTH_ABSL_${component}_A)
      list(APPEND archives "${BERTH_ABSL_${component}_A}")
    endif()
  endforeach()
  if(archives)
    target_link_libraries(${target} PRIVATE
      -Wl,--as-needed -Wl,--start-group ${archives} -Wl,--end-group)
  endif()
endfunction()
