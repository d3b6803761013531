// The GPIO character device's v2 uAPI (Documentation/userspace-api/gpio/chardev.rst):
// the few ioctls AVP's GPIO server uses on /dev/gpiochipN and its line requests, with the
// structures built here so Swift never lays out the uAPI's unions and padding itself.
#include "avp_shim.h"
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/gpio.h>

int avp_gpio_chip_info(int chip_fd, char *name, char *label, uint32_t *lines) {
    struct gpiochip_info info;
    memset(&info, 0, sizeof info);
    if (ioctl(chip_fd, GPIO_GET_CHIPINFO_IOCTL, &info) < 0) return -errno;
    memcpy(name, info.name, GPIO_MAX_NAME_SIZE);
    name[GPIO_MAX_NAME_SIZE - 1] = 0;
    memcpy(label, info.label, GPIO_MAX_NAME_SIZE);
    label[GPIO_MAX_NAME_SIZE - 1] = 0;
    *lines = info.lines;
    return 0;
}

int avp_gpio_line_info(int chip_fd, uint32_t offset, char *name, uint64_t *flags) {
    struct gpio_v2_line_info info;
    memset(&info, 0, sizeof info);
    info.offset = offset;
    if (ioctl(chip_fd, GPIO_V2_GET_LINEINFO_IOCTL, &info) < 0) return -errno;
    memcpy(name, info.name, GPIO_MAX_NAME_SIZE);
    name[GPIO_MAX_NAME_SIZE - 1] = 0;
    *flags = info.flags;
    return 0;
}

static void avp_gpio_config(struct gpio_v2_line_config *config, uint64_t flags, int value) {
    memset(config, 0, sizeof *config);
    config->flags = flags;
    if (flags & GPIO_V2_LINE_FLAG_OUTPUT) {
        config->num_attrs = 1;
        config->attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
        config->attrs[0].attr.values = value ? 1 : 0;
        config->attrs[0].mask = 1;
    }
}

int avp_gpio_request_line(int chip_fd, uint32_t offset, uint64_t flags, int value, const char *consumer, uint32_t event_buffer) {
    struct gpio_v2_line_request request;
    memset(&request, 0, sizeof request);
    request.offsets[0] = offset;
    request.num_lines = 1;
    strncpy(request.consumer, consumer, GPIO_MAX_NAME_SIZE - 1);
    avp_gpio_config(&request.config, flags, value);
    request.event_buffer_size = event_buffer;
    if (ioctl(chip_fd, GPIO_V2_GET_LINE_IOCTL, &request) < 0) return -errno;
    return request.fd;
}

int avp_gpio_line_set_config(int line_fd, uint64_t flags, int value) {
    struct gpio_v2_line_config config;
    avp_gpio_config(&config, flags, value);
    if (ioctl(line_fd, GPIO_V2_LINE_SET_CONFIG_IOCTL, &config) < 0) return -errno;
    return 0;
}

int avp_gpio_line_get_value(int line_fd) {
    struct gpio_v2_line_values values = { .bits = 0, .mask = 1 };
    if (ioctl(line_fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &values) < 0) return -errno;
    return (values.bits & 1) ? 1 : 0;
}

int avp_gpio_line_set_value(int line_fd, int value) {
    struct gpio_v2_line_values values = { .bits = value ? 1 : 0, .mask = 1 };
    if (ioctl(line_fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) < 0) return -errno;
    return 0;
}

int avp_gpio_line_event_size(void) { return (int)sizeof(struct gpio_v2_line_event); }
