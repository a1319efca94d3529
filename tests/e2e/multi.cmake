# Two servers of one mail system (issue 6): two private Postfix instances on
# 127.0.0.1 and 127.0.0.2, each with its own milter, tracker and store.
# Included by tests/e2e/CMakeLists.txt (every tests/e2e/*.cmake).
find_program(POSTFIX_BIN postfix PATHS /usr/sbin)
find_program(SWAKS_BIN swaks)
find_program(JQ_BIN jq)
if(TARGET mailstate-milter AND TARGET mailstate-tracker AND POSTFIX_BIN AND SWAKS_BIN
   AND JQ_BIN)
  add_test(NAME e2e/multi COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/multi.sh)
  set_tests_properties(e2e/multi PROPERTIES
    TIMEOUT 300
    ENVIRONMENT "MILTER_BIN=$<TARGET_FILE:mailstate-milter>;TRACKER_BIN=$<TARGET_FILE:mailstate-tracker>")
else()
  message(WARNING "milter, tracker, postfix, swaks or jq missing: e2e/multi skipped")
endif()
