# The plugin SDK, two ways:
#  - installed: headers, libpipette_engine/runtime, and a CMake package so that a
#    third-party plugin does find_package(Pipette) + pipette_add_plugin();
#  - in this tree: Pipette::runtime is an interface target that sees only the
#    staged SDK headers, so first-party plugins are held to the public SDK.
include(CMakePackageConfigHelpers)

add_library(pipette_sdk INTERFACE)
target_include_directories(pipette_sdk INTERFACE ${PIPETTE_SDK_STAGE})
target_link_libraries(pipette_sdk INTERFACE
  $<TARGET_LINKER_FILE:pipette_runtime> $<TARGET_LINKER_FILE:pipette_engine>
  ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json
  fmt::fmt)  # not used by the SDK; matches the runtime's macros so plugins can reuse its PCH
target_compile_options(pipette_sdk INTERFACE ${PIPETTE_TORCH_CXX_FLAGS})
add_library(Pipette::runtime ALIAS pipette_sdk)

set(PIPETTE_PLUGIN_INSTALL_DIR ${PIPETTE_PLUGIN_SUBDIR})
set(PIPETTE_PLUGIN_OUTPUT_DIR ${PIPETTE_PLUGIN_BUILD_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/PipettePlugin.cmake)

set(PIPETTE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Pipette)
install(EXPORT PipetteTargets NAMESPACE Pipette:: DESTINATION ${PIPETTE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/PipetteConfig.cmake.in
  ${CMAKE_BINARY_DIR}/PipetteConfig.cmake
  INSTALL_DESTINATION ${PIPETTE_CMAKE_DIR}
  PATH_VARS PIPETTE_PLUGIN_SUBDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/PipetteConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/PipetteConfig.cmake ${CMAKE_BINARY_DIR}/PipetteConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/PipettePlugin.cmake DESTINATION ${PIPETTE_CMAKE_DIR})
# The plugin directory exists even before the first plugin is installed.
install(DIRECTORY DESTINATION ${PIPETTE_PLUGIN_SUBDIR})
