/* SPDX-License-Identifier: MIT */
/*
 * OVF manifests (formats/vm/manifest.c): the input is a .mf file.  Every entry of a
 * parsed manifest must be found by its name, with a digest of its algorithm's length;
 * the first few are verified against the input's own bytes (a mismatch, -EBADMSG, is the
 * expected answer, with its message).
 */
#include <errno.h>
#include <string.h>

#include "../../formats/vm/manifest.h"
#include "disk-check.h"
#include "fuzz.h"

#define VERIFIED 3

FUZZ_TARGET(manifest, "manifest")
{
	static const size_t digest_len[] = {
		[MANIFEST_SHA1] = 20, [MANIFEST_SHA256] = 32, [MANIFEST_SHA512] = 64
	};
	struct err err = { 0 };
	struct manifest *m;
	struct source *src;
	int r;

	r = manifest_parse((const char *)data, size, "fuzz.mf", &m, &err);
	if (r < 0) {
		fuzz_check_err(r, &err);
		return 0;
	}
	FUZZ_CHECK(manifest_count(m) <= MANIFEST_MAX_LINES, "%zu entries", manifest_count(m));
	if (source_mem_new(data, size, "fuzz.mf", &src, &err) < 0) {
		manifest_free(m);
		return 0;
	}
	for (size_t i = 0; i < manifest_count(m); i++) {
		const struct manifest_entry *e = manifest_entry(m, i);

		FUZZ_CHECK(e->name, "entry %zu without a name", i);
		FUZZ_CHECK(manifest_find(m, e->name) == e, "entry %zu (\"%s\") is not found", i,
			   e->name);
		FUZZ_CHECK((unsigned)e->algo <= MANIFEST_SHA512 &&
				   e->digest_len == digest_len[e->algo],
			   "entry %zu: algorithm %d with a digest of %zu bytes", i, (int)e->algo,
			   e->digest_len);
		FUZZ_CHECK(manifest_algo_name(e->algo), "algorithm %d has no name", (int)e->algo);
		if (i < VERIFIED) {
			err_clear(&err);
			r = manifest_verify(e, src, NULL, NULL, &err);
			if (r < 0)
				fuzz_check_err(r, &err);
		}
	}
	source_unref(src);
	manifest_free(m);
	return 0;
}
