/* agora.h: the umbrella header, version and export macros.
 *
 * Every public header includes this one first. It defines AGORA_API (symbol export under
 * -fvisibility=hidden), AGORA_NODISCARD and AGORA_NULLABLE, and the version numbers.
 */
#ifndef AGORA_AGORA_H
#define AGORA_AGORA_H

#define AGORA_VERSION_MAJOR 0
#define AGORA_VERSION_MINOR 1
#define AGORA_VERSION_PATCH 0

#if defined(__GNUC__)
#define AGORA_API __attribute__((visibility("default")))
#define AGORA_NODISCARD __attribute__((warn_unused_result))
#define AGORA_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define AGORA_NORETURN __attribute__((noreturn))
#else
#define AGORA_API
#define AGORA_NODISCARD
#define AGORA_PRINTF(fmt_idx, arg_idx)
#define AGORA_NORETURN
#endif

/* Marks a pointer parameter that may be NULL. Documentation only. */
#define AGORA_NULLABLE

#ifdef __cplusplus
extern "C" {
#endif

/* agora_version_string returns "MAJOR.MINOR.PATCH". Never NULL. */
AGORA_API const char *agora_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_AGORA_H */
