#include "avp_i2c.h"
#include <errno.h>
#include <sys/ioctl.h>
#include <linux/i2c.h>
#include <linux/i2c-dev.h>

int avp_i2c_rdwr(int fd, const uint16_t *addresses, const uint16_t *flags, const uint16_t *lengths,
                 uint8_t *const *buffers, uint32_t count) {
    if (count == 0 || count > AVP_I2C_MAX_MESSAGES) return -EINVAL;
    struct i2c_msg messages[AVP_I2C_MAX_MESSAGES];
    for (uint32_t i = 0; i < count; i++) {
        messages[i].addr = addresses[i];
        messages[i].flags = (flags[i] & AVP_I2C_READ) ? I2C_M_RD : 0;
        messages[i].len = lengths[i];
        messages[i].buf = buffers[i];
    }
    struct i2c_rdwr_ioctl_data data = { .msgs = messages, .nmsgs = count };
    int r;
    do { r = ioctl(fd, I2C_RDWR, &data); } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

int avp_i2c_functions(int fd, uint64_t *functions) {
    unsigned long value = 0;
    if (ioctl(fd, I2C_FUNCS, &value) < 0) return -errno;
    *functions = value;
    return 0;
}
