# e2e/sendmail: the end-to-end scenarios through a private Sendmail 8.17
# (tests/lib/sendmail.sh fetches sendmail-bin/-base/-cf with apt-get download
# into SENDMAIL_CACHE, once per build tree). Included from tests/e2e/CMakeLists.txt.
set(_sm_env
  "SENDMAIL_CACHE=${CMAKE_BINARY_DIR}/sendmail-cache"
  "MAILSTATE_SRC_DIR=${PROJECT_SOURCE_DIR}")
if(TARGET mailstate-milter)
  list(APPEND _sm_env "MILTER_BIN=$<TARGET_FILE:mailstate-milter>")
endif()
if(TARGET mailstate-tracker)
  list(APPEND _sm_env "TRACKER_BIN=$<TARGET_FILE:mailstate-tracker>")
endif()
add_test(NAME e2e/sendmail
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sendmail_e2e.sh)
set_tests_properties(e2e/sendmail PROPERTIES
  ENVIRONMENT "${_sm_env}"
  TIMEOUT 180
  LABELS "e2e;sendmail")
unset(_sm_env)
