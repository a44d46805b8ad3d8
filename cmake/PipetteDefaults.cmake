# Paths compiled into the binaries so that a build tree works without installing:
# the stdlib .pipe modules are found next to the sources.
set(PIPETTE_STDLIB_MODULE_DIR "${PROJECT_SOURCE_DIR}/stdlib/modules"
    CACHE PATH "Directory searched for `import name` modules")
