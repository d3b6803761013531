// AVP's window on ALSA (libasound) for the sound server's host output and capture source.
// Plain C on purpose: Swift sees neither ALSA's headers (their hw_params are allocated
// with alloca macros, the error hook is variadic) nor its hundreds of calls, only the few
// the sound server makes. Every call returns 0 or a frame count, or a negative errno.
#ifndef AVP_ALSA_H
#define AVP_ALSA_H

/// An open PCM (a wrapped snd_pcm_t), configured for interleaved frames.
typedef struct avp_alsa_pcm avp_alsa_pcm;

/// The sample formats AVP streams use (PCMSampleFormat), all little-endian.
enum avp_alsa_format { AVP_ALSA_S16_LE = 0, AVP_ALSA_S32_LE = 1, AVP_ALSA_FLOAT_LE = 2 };

/// Opens `device` for playback (capture == 0, blocking writes) or capture (non-blocking
/// reads) in exactly this format, rate and channels (a plug device such as "default" or
/// "plughw:" converts; a raw "hw:" one must take them as they are). `*period_frames` and
/// `*buffer_frames` are asked for and come back as the device granted them. The device is
/// opened non-blocking so a device in use fails at once with -EBUSY instead of waiting.
/// `configuration` (may be NULL) is ALSA configuration text merged into the host's for this
/// open only, e.g. a "pcm.name { type file ... }" definition that `device` then names.
/// On failure returns a negative errno and sets `*step` to what failed ("open", "rate", ...).
int avp_alsa_open(avp_alsa_pcm **pcm, const char *device, const char *configuration, int capture,
                  int format, unsigned rate, unsigned channels,
                  unsigned long *period_frames, unsigned long *buffer_frames, const char **step);

/// Writes all `count` frames, blocking while the device's buffer is full. An underrun
/// (-EPIPE) or a suspend is recovered with snd_pcm_recover and the write goes on; underruns
/// are added to `*underruns`. Returns `count`, or a negative errno that could not be recovered.
long avp_alsa_write(avp_alsa_pcm *pcm, const void *frames, unsigned long count, unsigned long *underruns);

/// Capture: frames ready to read now, starting the device if it is only prepared. An
/// overrun is recovered (capture restarts, 0 ready) and added to `*overruns`.
long avp_alsa_available(avp_alsa_pcm *pcm, unsigned long *overruns);

/// Capture: discards up to `count` of the oldest frames ready (snd_pcm_forward); returns how many.
long avp_alsa_skip(avp_alsa_pcm *pcm, unsigned long count);

/// Capture: reads up to `count` frames without blocking; 0 when none are ready. An overrun
/// is recovered as in avp_alsa_available.
long avp_alsa_read(avp_alsa_pcm *pcm, void *frames, unsigned long count, unsigned long *overruns);

/// Frames between what was last written or read and what the device plays or records now
/// (snd_pcm_delay); 0 when the device does not say.
long avp_alsa_delay(avp_alsa_pcm *pcm);

/// Closes the PCM; with `drain`, first plays what was written (blocks up to one buffer).
void avp_alsa_close(avp_alsa_pcm *pcm, int drain);

/// snd_strerror: ALSA's text for a negative error code (its own codes as well as errno's).
const char *avp_alsa_strerror(int error);

/// The last diagnostic ALSA reported on this thread ("Unknown PCM x", ...), or "" if none:
/// AVP keeps them out of stderr and puts them into its own error messages instead.
const char *avp_alsa_last_message(void);

/// Opens libasound.so.2 if it is not open yet: 0, or -ENOSYS when it cannot be opened (the reason
/// went to stderr). avp_alsa_open does it too; a source that opens its device only when a stream
/// starts calls this first, while the library is still reachable (before the sandbox).
int avp_alsa_load(void);

#endif
