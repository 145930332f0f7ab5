# Board: ARMv7-A gateway with hard-float (Cortex-A7/A9 class, e.g. i.MX6/7, STM32MP1).
BOARD_DESC     := ARMv7-A hard-float gateway, Thumb-2 (Cortex-A7 class)
BOARD_TRIPLET  := arm-linux-gnueabihf
BOARD_CROSS    := arm-linux-gnueabihf-
BOARD_CFLAGS   := -Os -march=armv7-a -mthumb -mfpu=neon-vfpv4 -mfloat-abi=hard
BOARD_QEMU     := qemu-arm -L /usr/arm-linux-gnueabihf
