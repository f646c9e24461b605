# DiLoCo between two network namespaces (root only; skipped otherwise): the one test where
# nodes do not share loopback.
add_test(NAME integration.netns.diloco_two_hosts
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/netns_diloco.sh $<TARGET_FILE:agora>)
set_tests_properties(integration.netns.diloco_two_hosts PROPERTIES
  LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 240)
