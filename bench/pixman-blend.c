/* bench/pixman-blend.c — the reference for `avp-bench compositor`: the same two 1280x720
 * layers onto a 1920x1080 x8r8g8b8 display with pixman (the library behind Weston's and
 * X's software compositing), frame after frame: fill black, layer 0 with OP_SRC at 0,0,
 * layer 1 with OP_OVER through an a8 mask (opacity 200 times the 8-bit mask, combined once
 * before timing, as AVP does when a policy is installed) at 640,360.
 *
 *   cc -O2 -o pixman-blend bench/pixman-blend.c $(pkg-config --cflags --libs pixman-1)
 *   pixman-blend ITERATIONS [AVP_OUTPUT_FILE]
 *
 * Prints one key=value line; with AVP's composed frame (avp-bench compositor --output FILE)
 * it also prints the largest difference per colour byte between the two results.
 */
#include <pixman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { W = 1920, H = 1080, LW = 1280, LH = 720 };

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The patterns of Sources/avp-bench/CompositorLoad.swift: B, G, R, X bytes of pixel (x, y). */
static void pixel(int layer, int x, int y, uint8_t *p) {
    if (layer == 0) { p[0] = (x * 3 + y) & 255; p[1] = (y * 5) & 255; p[2] = (x ^ y) & 255; }
    else { p[0] = (255 - x) & 255; p[1] = (x + y * 2) & 255; p[2] = (y * 7) & 255; }
    p[3] = 255;
}

static pixman_image_t *layer_image(int layer) {
    uint8_t *bits = malloc((size_t)LW * LH * 4);
    for (int y = 0; y < LH; y++)
        for (int x = 0; x < LW; x++) pixel(layer, x, y, bits + ((size_t)y * LW + x) * 4);
    return pixman_image_create_bits(PIXMAN_x8r8g8b8, LW, LH, (uint32_t *)bits, LW * 4);
}

int main(int argc, char **argv) {
    int iterations = argc > 1 ? atoi(argv[1]) : 500;
    if (iterations < 1) iterations = 1;
    uint32_t *out = aligned_alloc(64, (size_t)W * H * 4);
    pixman_image_t *display = pixman_image_create_bits(PIXMAN_x8r8g8b8, W, H, out, W * 4);
    pixman_image_t *a = layer_image(0), *b = layer_image(1);
    uint8_t *alpha = malloc((size_t)LW * LH);
    for (int y = 0; y < LH; y++)
        for (int x = 0; x < LW; x++) alpha[y * LW + x] = (uint8_t)((200u * (unsigned)((x * 2 + y * 3) & 255) + 127) / 255);
    pixman_image_t *mask = pixman_image_create_bits(PIXMAN_a8, LW, LH, (uint32_t *)alpha, LW);

    double *t = malloc(sizeof(double) * (size_t)iterations);
    for (int i = -20; i < iterations; i++) {
        double start = now_ms();
        pixman_fill(out, W, 32, 0, 0, W, H, 0);
        pixman_image_composite32(PIXMAN_OP_SRC, a, NULL, display, 0, 0, 0, 0, 0, 0, LW, LH);
        pixman_image_composite32(PIXMAN_OP_OVER, b, mask, display, 0, 0, 0, 0, 640, 360, LW, LH);
        if (i >= 0) t[i] = now_ms() - start;
    }
    qsort(t, (size_t)iterations, sizeof(double), cmp);
    double sum = 0;
    for (int i = 0; i < iterations; i++) sum += t[i];
    int p99 = iterations * 99 / 100;
    if (p99 > iterations - 1) p99 = iterations - 1;
    printf("frames=%d p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f", iterations, t[iterations / 2], t[p99], sum / iterations);

    if (argc > 2) {
        FILE *f = fopen(argv[2], "rb");
        uint8_t *avp = malloc((size_t)W * H * 4);
        if (!f || fread(avp, 1, (size_t)W * H * 4, f) != (size_t)W * H * 4) { fprintf(stderr, "pixman-blend: cannot read %s\n", argv[2]); return 1; }
        fclose(f);
        int worst = 0;
        const uint8_t *mine = (const uint8_t *)out;
        for (size_t i = 0; i < (size_t)W * H * 4; i++) {
            if (i % 4 == 3) continue; /* X is undefined in x8r8g8b8 */
            int d = abs((int)mine[i] - (int)avp[i]);
            if (d > worst) worst = d;
        }
        printf(" max_byte_diff_vs_avp=%d", worst);
    }
    printf("\n");
    return 0;
}
