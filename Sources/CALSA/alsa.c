// The ALSA calls behind avp_alsa.h. Kept to configuration and transfer; the policy (how much
// to read, what to count, what to tell the user) is the Swift side's.
#include "avp_alsa.h"
#include <alsa/asoundlib.h>
#include "alsa_loader.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct avp_alsa_pcm {
    snd_pcm_t *pcm;
    size_t frame_bytes;
    int capture;
};

static const snd_pcm_format_t formats[] = { SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S32_LE, SND_PCM_FORMAT_FLOAT_LE };

// ALSA prints its diagnostics to stderr by default; a server's log wants them in the
// message of the error they explain. The hook is process-wide, the text per thread; each
// call that can fail forgets the last one first, so a message never explains a later error.
static __thread char last_message[256];
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static void keep_message(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err;
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, args);
    va_end(args);
}

static void install_hook(void) { snd_lib_error_set_handler(keep_message); }

const char *avp_alsa_last_message(void) { return last_message; }

int avp_alsa_load(void) { return avp_libasound_load(); }

const char *avp_alsa_strerror(int error) {
    return avp_libasound_load() == 0 ? snd_strerror(error) : "libasound.so.2 could not be opened";
}

// snd_pcm_open, or snd_pcm_open_lconf on a copy of the host's configuration with
// `configuration` merged in: the copy lives only as long as the open, like snd_pcm_open's reference.
static int open_device(snd_pcm_t **pcm, const char *device, const char *configuration, snd_pcm_stream_t stream) {
    if (configuration == NULL) return snd_pcm_open(pcm, device, stream, SND_PCM_NONBLOCK);
    snd_config_t *top = NULL, *merged = NULL;
    snd_input_t *input = NULL;
    int err = snd_config_update_ref(&top);
    if (err < 0) return err;
    err = snd_config_copy(&merged, top);
    snd_config_unref(top);
    if (err < 0) return err;
    err = snd_input_buffer_open(&input, configuration, (ssize_t)strlen(configuration));
    if (err == 0) {
        err = snd_config_load(merged, input);
        snd_input_close(input);
    }
    if (err == 0) err = snd_pcm_open_lconf(pcm, device, stream, SND_PCM_NONBLOCK, merged);
    snd_config_delete(merged);
    return err;
}

#define STEP(call, name) do { *step = (name); err = (call); if (err < 0) goto fail; } while (0)

int avp_alsa_open(avp_alsa_pcm **pcm, const char *device, const char *configuration, int capture,
                  int format, unsigned rate, unsigned channels,
                  unsigned long *period_frames, unsigned long *buffer_frames, const char **step) {
    last_message[0] = '\0';
    *pcm = NULL;
    *step = "open";
    if (avp_libasound_load() != 0) return -ENOSYS;
    pthread_once(&hook_once, install_hook);
    if (format < 0 || format > AVP_ALSA_FLOAT_LE) return -EINVAL;
    snd_pcm_t *p = NULL;
    int err = open_device(&p, device, configuration, capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK);
    if (err < 0) return err;

    snd_pcm_hw_params_t *hw;
    snd_pcm_hw_params_alloca(&hw);
    snd_pcm_uframes_t period = *period_frames, buffer = *buffer_frames;
    int dir = 0;
    STEP(snd_pcm_hw_params_any(p, hw), "configuration space");
    STEP(snd_pcm_hw_params_set_rate_resample(p, hw, 1), "resampling");
    STEP(snd_pcm_hw_params_set_access(p, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "interleaved access");
    STEP(snd_pcm_hw_params_set_format(p, hw, formats[format]), "sample format");
    STEP(snd_pcm_hw_params_set_channels(p, hw, channels), "channels");
    STEP(snd_pcm_hw_params_set_rate(p, hw, rate, 0), "rate");
    STEP(snd_pcm_hw_params_set_period_size_near(p, hw, &period, &dir), "period size");
    STEP(snd_pcm_hw_params_set_buffer_size_near(p, hw, &buffer), "buffer size");
    STEP(snd_pcm_hw_params(p, hw), "hardware parameters");
    STEP(snd_pcm_hw_params_get_period_size(hw, &period, &dir), "period size");
    STEP(snd_pcm_hw_params_get_buffer_size(hw, &buffer), "buffer size");

    snd_pcm_sw_params_t *sw;
    snd_pcm_sw_params_alloca(&sw);
    STEP(snd_pcm_sw_params_current(p, sw), "software parameters");
    // Playback starts once the buffer is full, so the card holds all it can against the
    // writer's jitter from the first period on; capture is started by its first read.
    if (!capture) STEP(snd_pcm_sw_params_set_start_threshold(p, sw, buffer), "start threshold");
    STEP(snd_pcm_sw_params_set_avail_min(p, sw, capture ? 1 : period), "wake-up threshold");
    STEP(snd_pcm_sw_params(p, sw), "software parameters");
    if (!capture) STEP(snd_pcm_nonblock(p, 0), "blocking mode");

    struct avp_alsa_pcm *handle = calloc(1, sizeof *handle);
    *step = "memory";
    if (handle == NULL) { err = -ENOMEM; goto fail; }
    handle->pcm = p;
    handle->frame_bytes = (size_t)snd_pcm_frames_to_bytes(p, 1);
    handle->capture = capture;
    *period_frames = period;
    *buffer_frames = buffer;
    *pcm = handle;
    return 0;
fail:
    snd_pcm_close(p);
    return err;
}

long avp_alsa_write(avp_alsa_pcm *pcm, const void *frames, unsigned long count, unsigned long *underruns) {
    last_message[0] = '\0';
    const char *next = frames;
    unsigned long done = 0;
    int failures = 0;
    while (done < count) {
        snd_pcm_sframes_t n = snd_pcm_writei(pcm->pcm, next + done * pcm->frame_bytes, count - done);
        if (n > 0) {
            done += (unsigned long)n;
            failures = 0;
            continue;
        }
        // A blocking write takes at least one frame or fails; 0 would loop for ever.
        if (n == 0) return -EIO;
        if (n == -EPIPE) (*underruns)++;
        // Recovery that does not let a frame through twice in a row is a device that is gone.
        if (++failures > 2) return n;
        int err = snd_pcm_recover(pcm->pcm, (int)n, 1);
        if (err < 0) return err;
    }
    return (long)done;
}

// After an xrun: prepare again (snd_pcm_recover) and restart capture at once.
static long recover_capture(avp_alsa_pcm *pcm, long error, unsigned long *overruns) {
    if (error == -EPIPE) (*overruns)++;
    int err = snd_pcm_recover(pcm->pcm, (int)error, 1);
    if (err < 0) return err;
    err = snd_pcm_start(pcm->pcm);
    return err < 0 ? err : 0;
}

static int is_xrun(long error) { return error == -EPIPE || error == -ESTRPIPE || error == -EINTR; }

long avp_alsa_available(avp_alsa_pcm *pcm, unsigned long *overruns) {
    last_message[0] = '\0';
    if (snd_pcm_state(pcm->pcm) == SND_PCM_STATE_PREPARED) {
        int err = snd_pcm_start(pcm->pcm);
        if (err < 0) return err;
    }
    snd_pcm_sframes_t n = snd_pcm_avail(pcm->pcm);
    return is_xrun(n) ? recover_capture(pcm, n, overruns) : n;
}

long avp_alsa_skip(avp_alsa_pcm *pcm, unsigned long count) {
    last_message[0] = '\0';
    return snd_pcm_forward(pcm->pcm, count);
}

long avp_alsa_read(avp_alsa_pcm *pcm, void *frames, unsigned long count, unsigned long *overruns) {
    last_message[0] = '\0';
    snd_pcm_sframes_t n = snd_pcm_readi(pcm->pcm, frames, count);
    if (n == -EAGAIN) return 0;
    return is_xrun(n) ? recover_capture(pcm, n, overruns) : n;
}

long avp_alsa_delay(avp_alsa_pcm *pcm) {
    snd_pcm_sframes_t delay = 0;
    return snd_pcm_delay(pcm->pcm, &delay) < 0 || delay < 0 ? 0 : delay;
}

void avp_alsa_close(avp_alsa_pcm *pcm, int drain) {
    if (pcm == NULL) return;
    if (drain && !pcm->capture) snd_pcm_drain(pcm->pcm);
    snd_pcm_close(pcm->pcm);
    free(pcm);
}
