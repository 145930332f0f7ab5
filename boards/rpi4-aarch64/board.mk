# Board: Raspberry Pi 4 / any Cortex-A72 aarch64 Linux gateway.
BOARD_DESC     := Raspberry Pi 4 class gateway, aarch64 Linux (Cortex-A72)
BOARD_TRIPLET  := aarch64-linux-gnu
BOARD_CROSS    := aarch64-linux-gnu-
BOARD_CFLAGS   := -Os -mcpu=cortex-a72
BOARD_QEMU     := qemu-aarch64 -L /usr/aarch64-linux-gnu
