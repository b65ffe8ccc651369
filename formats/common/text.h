/* SPDX-License-Identifier: MIT */
/*
 * Small character and path tests shared by the text formats (descriptors, manifests,
 * .vmx, OVF) so each parser does not carry its own copy.
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

#endif
