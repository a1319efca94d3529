# Two servers of one mail system (issue 6): two private Postfix instances on
# 127.0.0.1 and 127.0.0.2, each with its own milter, tracker and store.
# Included from tests/e2e/CMakeLists.txt:  include(${CMAKE_CURRENT_SOURCE_DIR}/multi.cmake)
if(TARGET mailstate-milter AND TARGET mailstate-tracker)
  add_test(NAME e2e/multi COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/multi.sh)
  set_tests_properties(e2e/multi PROPERTIES
    TIMEOUT 300
    ENVIRONMENT "MILTER_BIN=$<TARGET_FILE:mailstate-milter>;TRACKER_BIN=$<TARGET_FILE:mailstate-tracker>")
endif()
