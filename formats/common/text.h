/* SPDX-License-Identifier: MIT */
/*
 * Small character and path tests shared by the text formats (descriptors, manifests,
 * .vmx, OVF), and the quoting of untrusted names in messages, so each parser does not
 * carry its own copy.
 */
#ifndef VMFS_TEXT_H
#define VMFS_TEXT_H

#include <stdbool.h>
#include <string.h>

/* The value of hex digit c, or -1. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True when a relative file name taken from an untrusted file would leave the directory
 * it is resolved in: an absolute path, or any ".." component. */
static inline bool path_escapes(const char *name)
{
	const char *p = name;

	if (name[0] == '/')
		return true;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		p += strspn(p, "/");
	}
	return false;
}

/* Bytes of an untrusted string quoted in an error message. */
#define TEXT_SHOW_MAX 96

struct text_shown {
	char s[TEXT_SHOW_MAX + 4];
};

/* s as it may appear in a one-line error message: cut to TEXT_SHOW_MAX bytes at a
 * character boundary ("..." added), control bytes replaced by '?', so that a name taken
 * from a hostile file cannot break the line or write escape sequences to the user's
 * terminal.  Use the result within the expression: text_show(name).s. */
static inline struct text_shown text_show(const char *s)
{
	struct text_shown r;
	size_t n = strnlen(s, TEXT_SHOW_MAX + 1), i;

	if (n > TEXT_SHOW_MAX) {
		n = TEXT_SHOW_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		r.s[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[n])
		memcpy(r.s + i, "...", 4);
	else
		r.s[i] = '\0';
	return r;
}

#endif
