# Board: ARMv7-A hard-float gateway (Cortex-A7/A8/A9/A15 class, e.g. i.MX6/7, STM32MP1,
# Allwinner H3). The FPU flags are Debian armhf's baseline (VFPv3-D16, no NEON), so the
# armhf package runs on every core Debian supports; -mfpu=neon-vfpv4 would refuse the
# Cortex-A9 (VFPv3) and the cores without NEON for no measurable gain in this I/O-bound
# agent. The unit tests run on qemu's Cortex-R5F, which has exactly that FPU and no NEON:
# an instruction outside the baseline fails them with SIGILL.
BOARD_DESC     := ARMv7-A hard-float gateway, Thumb-2, VFPv3-D16 (Debian armhf baseline)
BOARD_TRIPLET  := arm-linux-gnueabihf
BOARD_CROSS    := arm-linux-gnueabihf-
BOARD_CFLAGS   := -Os -march=armv7-a -mthumb -mfpu=vfpv3-d16 -mfloat-abi=hard
BOARD_QEMU     := qemu-arm -cpu cortex-r5f -L /usr/arm-linux-gnueabihf
