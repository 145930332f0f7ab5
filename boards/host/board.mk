# Board: host (the build machine itself, x86_64 or whatever runs the build).
BOARD_DESC     := build machine (native)
BOARD_TRIPLET  :=
BOARD_CROSS    :=
BOARD_CFLAGS   := -O2
BOARD_QEMU     :=
