# Tracking headers stay inside (issue 14 item 6): two private Postfix
# instances, the shipped smtp_header_checks.  Included by tests/e2e/CMakeLists.txt.
find_program(POSTFIX_BIN postfix PATHS /usr/sbin)
find_program(SWAKS_BIN swaks)
if(TARGET mailstate-milter AND POSTFIX_BIN AND SWAKS_BIN)
  add_test(NAME e2e/strip COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/strip.sh)
  set_tests_properties(e2e/strip PROPERTIES TIMEOUT 300
    ENVIRONMENT "MILTER_BIN=$<TARGET_FILE:mailstate-milter>;MS_TESTTOOL=$<TARGET_FILE:ms-testtool>")
endif()
