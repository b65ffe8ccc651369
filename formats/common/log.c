/* SPDX-License-Identifier: MIT */
/*
 * Read-path logging: see log.h.  Reported (name, key) pairs are remembered in a small
 * hash set; once it is full every further pair is reported, because losing a report is
 * worse than repeating one.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SEEN_SLOTS 1024

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seen[SEEN_SLOTS];
static bool debug_on;

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

void log_corrupt_once(const char *name, const char *key, const char *fmt, ...)
{
	uint64_t h = hash_str(hash_str(0xcbf29ce484222325ULL, name), key) | 1;
	bool report = true;
	va_list ap;
	char line[512];

	pthread_mutex_lock(&seen_lock);
	for (unsigned i = 0; i < SEEN_SLOTS; i++) {
		unsigned slot = (unsigned)((h + i) % SEEN_SLOTS);

		if (seen[slot] == h) {
			report = false;
			break;
		}
		if (seen[slot] == 0) {
			seen[slot] = h;
			break;
		}
	}
	pthread_mutex_unlock(&seen_lock);
	if (!report)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmfs-mount: %s: %s\n", name ? name : "?", line);
}

void log_set_debug(bool on)
{
	debug_on = on;
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug_on)
		return;
	va_start(ap, fmt);
	fputs("vmfs-mount: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
