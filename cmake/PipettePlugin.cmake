# pipette_add_plugin(NAME SOURCES file... [DESTINATION dir])
#
# Builds a pipette plugin: a MODULE library libpipette-NAME.so linked against
# Pipette::runtime with hidden symbol visibility (only the entry point that
# PIPETTE_PLUGIN defines is exported), installed into pipette's plugin directory
# unless DESTINATION says otherwise. The same function serves plugins in
# pipette's own tree and third-party plugins built against an installed SDK
# (find_package(Pipette)).
function(pipette_add_plugin name)
  cmake_parse_arguments(ARG "" "DESTINATION" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "pipette_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Pipette::runtime)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    DEFINE_SYMBOL ""
    OUTPUT_NAME "pipette-${name}"
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED PIPETTE_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PIPETTE_PLUGIN_OUTPUT_DIR})
  endif()
  if(TARGET pipette_runtime)
    # In pipette's own tree: reuse the runtime's precompiled LibTorch headers.
    add_dependencies(${name} pipette_runtime)
    target_precompile_headers(${name} REUSE_FROM pipette_runtime)
  endif()
  if(NOT ARG_DESTINATION)
    set(ARG_DESTINATION ${PIPETTE_PLUGIN_INSTALL_DIR})
  endif()
  if(NOT PIPETTE_PLUGIN_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION ${ARG_DESTINATION})
  endif()
endfunction()
