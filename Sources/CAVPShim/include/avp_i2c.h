#ifndef AVP_I2C_H
#define AVP_I2C_H

#include <stdint.h>

// --- I2C character device (linux/i2c-dev.h), for avp serve i2c's host pass-through (i2c.c) ---

/// I2C_RDWR_IOCTL_MAX_MSGS: the most messages one I2C_RDWR takes.
#define AVP_I2C_MAX_MESSAGES 42
/// I2C_M_RD: the message reads from the target.
#define AVP_I2C_READ 0x0001

/// ioctl(I2C_RDWR) with `count` messages (at most AVP_I2C_MAX_MESSAGES), message i addressed to
/// `addresses[i]` (7-bit), with `flags[i]` (AVP_I2C_READ or 0), `lengths[i]` bytes in `buffers[i]`
/// (read into for a read). One combined transaction: a repeated START between messages, a STOP
/// after the last. The number of messages transferred, or -errno. Retried on EINTR.
int avp_i2c_rdwr(int fd, const uint16_t *addresses, const uint16_t *flags, const uint16_t *lengths,
                 uint8_t *const *buffers, uint32_t count);
/// ioctl(I2C_FUNCS): the adapter's I2C_FUNC_* bits in `*functions`. 0 or -errno.
int avp_i2c_functions(int fd, uint64_t *functions);
/// I2C_FUNC_I2C: the adapter takes plain I2C messages (I2C_RDWR).
#define AVP_I2C_FUNC_I2C 0x00000001

#endif
