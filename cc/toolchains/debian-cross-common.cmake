# Shared part of the Debian cross toolchain files: the including file sets BITLITE_TRIPLE
# (GNU triple of the cross compiler), BITLITE_QEMU (qemu-user binary) and optionally
# BITLITE_ARCH_FLAGS.
set(CMAKE_SYSTEM_NAME Linux)
if(BITLITE_TRIPLE MATCHES "^aarch64")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
else()
  # What `uname -m` says on a 32-bit Pi OS.
  set(CMAKE_SYSTEM_PROCESSOR armv7l)
endif()

set(CMAKE_C_COMPILER ${BITLITE_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${BITLITE_TRIPLE}-g++)
if(BITLITE_ARCH_FLAGS)
  set(CMAKE_C_FLAGS_INIT "${BITLITE_ARCH_FLAGS}")
  set(CMAKE_CXX_FLAGS_INIT "${BITLITE_ARCH_FLAGS}")
endif()

# Debian's cross packages install the target libc and libstdc++ under /usr/<triple>; look for
# target libraries and headers there only, and for build tools on the host.
set(CMAKE_FIND_ROOT_PATH /usr/${BITLITE_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and try_run) start target executables through this emulator. -L makes qemu find the
# target's dynamic loader and libraries. The qemu CPU model decides which ISA extensions the
# tests see (cortex-a53: no dotprod, so dotprod code paths must not be taken; neoverse-n1:
# dotprod). Left empty, qemu takes QEMU_CPU from ctest's environment, else its default "max".
set(BITLITE_QEMU_CPU "" CACHE STRING
    "qemu -cpu model for cross-built tests (e.g. cortex-a53, neoverse-n1, cortex-a7)")
find_program(BITLITE_QEMU_PROGRAM ${BITLITE_QEMU})
if(BITLITE_QEMU_PROGRAM)
  # LeakSanitizer cannot stop the threads of a process under qemu-user ("LeakSanitizer has
  # encountered a fatal error"), while AddressSanitizer and UBSan work: sanitized tests run
  # with leak checking off. Through env, not qemu's -E: the sanitizers read their options
  # from /proc/self/environ, which qemu serves from its own (host) environment.
  find_program(BITLITE_ENV_PROGRAM env REQUIRED)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BITLITE_ENV_PROGRAM} ASAN_OPTIONS=detect_leaks=0
      ${BITLITE_QEMU_PROGRAM} -L /usr/${BITLITE_TRIPLE})
  if(BITLITE_QEMU_CPU)
    list(APPEND CMAKE_CROSSCOMPILING_EMULATOR -cpu ${BITLITE_QEMU_CPU})
  endif()
else()
  message(WARNING "${BITLITE_QEMU} not found (Debian: apt-get install qemu-user): "
                  "cross-built tests cannot run here")
endif()
