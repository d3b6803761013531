// libasound is opened on first use (avp_alsa_open), not linked: every device server is one
// executable (avp-serve), and only a sound server with an ALSA card needs it; a linked library
// costs every idle server its relocated, resident pages (issue 17). The calls below go through
// pointers that alsa_loader.c resolves with dlsym; include after <alsa/asoundlib.h>.
#ifndef AVP_ALSA_LOADER_H
#define AVP_ALSA_LOADER_H

#include <alsa/asoundlib.h>

#define AVP_LIBASOUND_FUNCTIONS(X) \
    X(snd_config_copy) X(snd_config_delete) X(snd_config_load) \
    X(snd_config_unref) X(snd_config_update_ref) X(snd_input_buffer_open) \
    X(snd_input_close) X(snd_lib_error_set_handler) X(snd_pcm_avail) \
    X(snd_pcm_close) X(snd_pcm_delay) X(snd_pcm_drain) \
    X(snd_pcm_forward) X(snd_pcm_frames_to_bytes) X(snd_pcm_hw_params) \
    X(snd_pcm_hw_params_sizeof) X(snd_pcm_hw_params_any) X(snd_pcm_hw_params_get_buffer_size) \
    X(snd_pcm_hw_params_get_period_size) X(snd_pcm_hw_params_set_access) X(snd_pcm_hw_params_set_buffer_size_near) \
    X(snd_pcm_hw_params_set_channels) X(snd_pcm_hw_params_set_format) X(snd_pcm_hw_params_set_period_size_near) \
    X(snd_pcm_hw_params_set_rate) X(snd_pcm_hw_params_set_rate_resample) X(snd_pcm_nonblock) \
    X(snd_pcm_open) X(snd_pcm_open_lconf) X(snd_pcm_readi) \
    X(snd_pcm_recover) X(snd_pcm_start) X(snd_pcm_state) \
    X(snd_pcm_sw_params) X(snd_pcm_sw_params_sizeof) X(snd_pcm_sw_params_current) \
    X(snd_pcm_sw_params_set_avail_min) X(snd_pcm_sw_params_set_start_threshold) X(snd_pcm_writei) \
    X(snd_strerror)

#define AVP_LIBASOUND_POINTER(name) extern __typeof__(name) *avp_libasound_##name;
AVP_LIBASOUND_FUNCTIONS(AVP_LIBASOUND_POINTER)

/// 0 once libasound is open and every function resolved (the first call opens it, so it must come
/// before the sandbox hides the library), -ENOSYS otherwise.
int avp_libasound_load(void);

#ifndef AVP_ALSA_LOADER  // the loader itself names the real functions
#define snd_config_copy (*avp_libasound_snd_config_copy)
#define snd_config_delete (*avp_libasound_snd_config_delete)
#define snd_config_load (*avp_libasound_snd_config_load)
#define snd_config_unref (*avp_libasound_snd_config_unref)
#define snd_config_update_ref (*avp_libasound_snd_config_update_ref)
#define snd_input_buffer_open (*avp_libasound_snd_input_buffer_open)
#define snd_input_close (*avp_libasound_snd_input_close)
#define snd_lib_error_set_handler (*avp_libasound_snd_lib_error_set_handler)
#define snd_pcm_avail (*avp_libasound_snd_pcm_avail)
#define snd_pcm_close (*avp_libasound_snd_pcm_close)
#define snd_pcm_delay (*avp_libasound_snd_pcm_delay)
#define snd_pcm_drain (*avp_libasound_snd_pcm_drain)
#define snd_pcm_forward (*avp_libasound_snd_pcm_forward)
#define snd_pcm_frames_to_bytes (*avp_libasound_snd_pcm_frames_to_bytes)
#define snd_pcm_hw_params (*avp_libasound_snd_pcm_hw_params)
#define snd_pcm_hw_params_sizeof (*avp_libasound_snd_pcm_hw_params_sizeof)
#define snd_pcm_hw_params_any (*avp_libasound_snd_pcm_hw_params_any)
#define snd_pcm_hw_params_get_buffer_size (*avp_libasound_snd_pcm_hw_params_get_buffer_size)
#define snd_pcm_hw_params_get_period_size (*avp_libasound_snd_pcm_hw_params_get_period_size)
#define snd_pcm_hw_params_set_access (*avp_libasound_snd_pcm_hw_params_set_access)
#define snd_pcm_hw_params_set_buffer_size_near (*avp_libasound_snd_pcm_hw_params_set_buffer_size_near)
#define snd_pcm_hw_params_set_channels (*avp_libasound_snd_pcm_hw_params_set_channels)
#define snd_pcm_hw_params_set_format (*avp_libasound_snd_pcm_hw_params_set_format)
#define snd_pcm_hw_params_set_period_size_near (*avp_libasound_snd_pcm_hw_params_set_period_size_near)
#define snd_pcm_hw_params_set_rate (*avp_libasound_snd_pcm_hw_params_set_rate)
#define snd_pcm_hw_params_set_rate_resample (*avp_libasound_snd_pcm_hw_params_set_rate_resample)
#define snd_pcm_nonblock (*avp_libasound_snd_pcm_nonblock)
#define snd_pcm_open (*avp_libasound_snd_pcm_open)
#define snd_pcm_open_lconf (*avp_libasound_snd_pcm_open_lconf)
#define snd_pcm_readi (*avp_libasound_snd_pcm_readi)
#define snd_pcm_recover (*avp_libasound_snd_pcm_recover)
#define snd_pcm_start (*avp_libasound_snd_pcm_start)
#define snd_pcm_state (*avp_libasound_snd_pcm_state)
#define snd_pcm_sw_params (*avp_libasound_snd_pcm_sw_params)
#define snd_pcm_sw_params_sizeof (*avp_libasound_snd_pcm_sw_params_sizeof)
#define snd_pcm_sw_params_current (*avp_libasound_snd_pcm_sw_params_current)
#define snd_pcm_sw_params_set_avail_min (*avp_libasound_snd_pcm_sw_params_set_avail_min)
#define snd_pcm_sw_params_set_start_threshold (*avp_libasound_snd_pcm_sw_params_set_start_threshold)
#define snd_pcm_writei (*avp_libasound_snd_pcm_writei)
#define snd_strerror (*avp_libasound_snd_strerror)
#endif

#endif
