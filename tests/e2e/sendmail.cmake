# e2e/sendmail: the shared end-to-end scenarios (scenarios.sh, scenario_read.sh)
# through a private Sendmail 8.17. tests/lib/sendmail.sh fetches
# sendmail-bin/-base/-cf with apt-get download into SENDMAIL_CACHE, once per
# build tree. Included from tests/e2e/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/sendmail.cmake)
find_program(SWAKS_BIN swaks)
find_program(M4_BIN m4)
find_program(UNSHARE_BIN unshare)
if(SWAKS_BIN AND M4_BIN AND UNSHARE_BIN)
  add_test(NAME e2e/sendmail COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sendmail_e2e.sh)
  set_tests_properties(e2e/sendmail PROPERTIES
    TIMEOUT 480
    LABELS "e2e;sendmail"
    ENVIRONMENT "MILTER_BIN=$<TARGET_FILE:mailstate-milter>;MS_TESTTOOL=$<TARGET_FILE:ms-testtool>;TRACKER_BIN=$<$<TARGET_EXISTS:mailstate-tracker>:$<TARGET_FILE:mailstate-tracker>>;SENDMAIL_CACHE=${CMAKE_BINARY_DIR}/sendmail-cache;MAILSTATE_SRC_DIR=${PROJECT_SOURCE_DIR}")
else()
  message(WARNING "swaks, m4 or unshare not found: e2e/sendmail skipped")
endif()
