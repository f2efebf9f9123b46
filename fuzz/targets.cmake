# e2ee fuzzing: the targets (fuzz/fuzz_<name>.c, each an LLVMFuzzerTestOneInput) and the code
# they share. Included by fuzz/CMakeLists.txt (the libFuzzer build) and by
# tests/fuzz/CMakeLists.txt (replay tests of the normal build).
set(E2EE_FUZZ_TARGETS
    client_frame server_frame
    pairwise_decrypt pairwise_session prekey_message
    group_decrypt group_session distribution
    session_record identity prekey_records sender_key_record own_sender_key
    relay_dispatch relay_config)
set(E2EE_FUZZ_DIR ${PROJECT_SOURCE_DIR}/fuzz)

# The relay's sources but its main(): the in-process relay of fuzz_relay.c.
file(GLOB E2EE_FUZZ_RELAY_SRCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/relay/*.c)
list(REMOVE_ITEM E2EE_FUZZ_RELAY_SRCS ${PROJECT_SOURCE_DIR}/src/relay/main.c)
set(E2EE_FUZZ_SUPPORT_SRCS
    ${E2EE_FUZZ_DIR}/fuzz_common.c ${E2EE_FUZZ_DIR}/fuzz_fixtures.c ${E2EE_FUZZ_DIR}/fuzz_relay.c
    ${E2EE_FUZZ_RELAY_SRCS})

# A static library of the shared code, linked by every target.
function(e2ee_fuzz_support name)
  add_library(${name} STATIC ${E2EE_FUZZ_SUPPORT_SRCS})
  target_include_directories(${name} PUBLIC ${E2EE_FUZZ_DIR})
  target_link_libraries(${name} PUBLIC e2ee_static)
  add_dependencies(${name} e2ee_proto_gen)
endfunction()
