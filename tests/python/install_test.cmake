# Installs the build tree into a fresh prefix and imports repy6 from there, as a user of
# the installed package would: the extension and the .py files land in
# <prefix>/${PACKAGE_DIR}/repy6, and both `import repy6` and `python3 -m repy6` work.
#
#   cmake -DBUILD=<build dir> -DPREFIX=<scratch prefix> -DPYTHON=<interpreter>
#         -DPACKAGE_DIR=<install dir of the package, under the prefix>
#         -DEXAMPLES=<examples/repy> -P install_test.cmake
foreach(_var BUILD PREFIX PYTHON PACKAGE_DIR EXAMPLES)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "install_test.cmake: -D${_var}=... is missing")
  endif()
endforeach()

file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX}
                RESULT_VARIABLE _status OUTPUT_QUIET)
if(NOT _status EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${_status}")
endif()

set(ENV{PYTHONPATH} ${PREFIX}/${PACKAGE_DIR})
set(ENV{PYTHONDONTWRITEBYTECODE} 1)
execute_process(
  COMMAND ${PYTHON} -c
    "import repy6, os; print(os.path.dirname(repy6.__file__)); print(repy6.Policy.unlimited().limit('netsend'))"
  RESULT_VARIABLE _status OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _status EQUAL 0 OR NOT _out STREQUAL "${PREFIX}/${PACKAGE_DIR}/repy6\ninf\n")
  message(FATAL_ERROR "import repy6 from ${PREFIX}: status ${_status}\n${_out}${_err}")
endif()

file(WRITE ${PREFIX}/hello.r2py "if callfunc == 'initialize':\n  log('hello', callargs[0])\n")
execute_process(
  COMMAND ${PYTHON} -m repy6 ${EXAMPLES}/udp_echo.restrictions ${PREFIX}/hello.r2py installed
  RESULT_VARIABLE _status OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _status EQUAL 0 OR NOT _out STREQUAL "hello installed")
  message(FATAL_ERROR "python3 -m repy6 from ${PREFIX}: status ${_status}\n${_out}${_err}")
endif()
file(REMOVE_RECURSE ${PREFIX})
message(STATUS "repy6 imports and runs from ${PREFIX}/${PACKAGE_DIR}")
